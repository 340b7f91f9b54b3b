"""Importing the real ultralytics YOLOv5 v7.0 code for fixture generators.

The generators run YOLOv5's own model/loss/training code to produce reference
numbers. Its modules import many packages the parts we call never use (cv2,
pandas, matplotlib, ...); those that are not installed are replaced by inert
placeholder modules so the import succeeds. Nothing of YOLOv5 is copied here:
`src` is a directory where v7.0 was extracted, e.g.
    git --git-dir=/work/.mirror/ultralytics+yolov5/repo archive v7.0 | tar -x -C /tmp/yolov5-v7.0
"""
import importlib
import importlib.abc
import importlib.machinery
import os
import sys
import types

OPTIONAL = ("cv2", "pandas", "IPython", "torchvision", "matplotlib", "seaborn", "tqdm", "scipy", "thop")


class _Placeholder:
    """Any attribute, call, or subclassing of a placeholder module yields another placeholder."""

    def __init__(self, *args, **kwargs):
        pass

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _Placeholder()

    def __call__(self, *args, **kwargs):
        return _Placeholder()

    def __mro_entries__(self, bases):
        return (object,)


class _PlaceholderModule(types.ModuleType):
    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _Placeholder()


class _MissingModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def __init__(self, roots):
        self.roots = set(roots)

    def find_spec(self, fullname, path, target=None):
        if fullname.split(".")[0] in self.roots:
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec):
        return _PlaceholderModule(spec.name)

    def exec_module(self, module):
        module.__path__ = []


def add_yolov5_to_path(src, optional=OPTIONAL):
    """Puts the v7.0 tree at `src` on sys.path, with placeholders for the
    packages in `optional` that are not installed."""
    if not os.path.isfile(os.path.join(src, "models", "yolo.py")):
        sys.exit(f"{src}: no models/yolo.py; extract YOLOv5 v7.0 there first")
    missing = []
    for name in optional:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        print(f"using placeholders for missing modules: {', '.join(missing)}")
        sys.meta_path.insert(0, _MissingModules(missing))
    sys.path.insert(0, src)


def import_yolov5(src, optional=OPTIONAL):
    """add_yolov5_to_path, then the v7.0 models.yolo module."""
    add_yolov5_to_path(src, optional)
    return importlib.import_module("models.yolo")
