#!/usr/bin/env python3
"""Writes tests/fixtures/data/jpeg/: small JPEGs in the encodings users' datasets
contain (4:2:0, 4:2:2, 4:4:4, progressive, grayscale, CMYK, odd sizes) and,
beside each, NAME.rgb: the pixels OpenCV's imread decodes from it (the
reference's loader: cv2.imread, then BGR->RGB; height x width x 3 bytes), with
the sizes in expected.json. yolov5c's decoder must give the same bytes
(tests/data/test_image.c).

Needs python3-opencv, python3-pil and python3-numpy; CI does not run this.
"""
import io
import json
import os

import cv2
import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests/fixtures/data/jpeg")


def scene(w, h, seed):
    """Smooth gradients plus sharp shapes: exercises chroma upsampling and the IDCT."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([(x * 255 // max(w - 1, 1)), (y * 255 // max(h - 1, 1)), ((x + y) * 3) % 256], -1)
    img = img.astype(np.uint8)
    for _ in range(6):
        x0, y0 = rng.integers(0, w), rng.integers(0, h)
        color = tuple(int(c) for c in rng.integers(0, 256, 3))
        cv2.circle(img, (int(x0), int(y0)), int(rng.integers(3, max(4, w // 4))), color, -1)
    return img


def main():
    os.makedirs(OUT, exist_ok=True)
    cases = []
    rgb = scene(61, 47, 1)
    for name, subsampling, progressive in (("yuv420", 2, False), ("yuv422", 1, False), ("yuv444", 0, False),
                                           ("progressive420", 2, True)):
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, "JPEG", quality=85, subsampling=subsampling, progressive=progressive)
        cases.append((name + ".jpg", buf.getvalue()))
    buf = io.BytesIO()
    Image.fromarray(rgb).convert("L").save(buf, "JPEG", quality=90)
    cases.append(("gray.jpg", buf.getvalue()))
    buf = io.BytesIO()
    Image.fromarray(scene(33, 29, 2)).convert("CMYK").save(buf, "JPEG", quality=90)
    cases.append(("cmyk.jpg", buf.getvalue()))
    ok, enc = cv2.imencode(".jpg", cv2.cvtColor(scene(97, 13, 3), cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 75])
    assert ok
    cases.append(("opencv_wide.jpg", enc.tobytes()))
    expected = {}
    for name, data in cases:
        path = os.path.join(OUT, name)
        with open(path, "wb") as f:
            f.write(data)
        bgr = cv2.imread(path, cv2.IMREAD_COLOR)
        pixels = np.ascontiguousarray(bgr[..., ::-1])
        with open(path[:-4] + ".rgb", "wb") as f:
            f.write(pixels.tobytes())
        expected[name] = {"width": pixels.shape[1], "height": pixels.shape[0]}
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"wrote {len(cases)} images to {OUT}")


if __name__ == "__main__":
    main()
