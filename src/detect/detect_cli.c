/* `yolov5c detect` (detect_cli.h). */
#include "detect/detect_cli.h"

#include <stdio.h>
#include <string.h>

#include "data/fsutil.h"
#include "detect/detect.h"
#include "detect/detect_sources.h"
#include "model/model.h"
#include "val/cli_opts.h"
#include "val/inference_model.h"
#include "val/save_dir.h"

static void detect_usage(FILE *out)
{
    fprintf(out,
            "usage: yolov5c detect --weights W --source FILE|DIR|GLOB [--cfg MODEL.yaml] [--img 640 [W]]\n"
            "                      [--conf-thres 0.25] [--iou-thres 0.45] [--max-det 1000] [--classes C ...]\n"
            "                      [--agnostic-nms] [--save-txt] [--save-conf] [--nosave] [--line-thickness 3]\n"
            "                      [--hide-labels] [--hide-conf] [--project runs/detect] [--name exp]\n"
            "                      [--exist-ok] [--bf16]\n\n"
            "Runs weights on images as YOLOv5's detect.py: letterbox to the smallest multiple of the\n"
            "stride that holds the image at --img, NMS, boxes in the original image's pixels.\n\n"
            "options:\n"
            "  --weights W        yolov5c weights (.safetensors) or a training checkpoint (EMA weights)\n"
            "  --cfg MODEL.yaml   build the network from this YAML instead of the weights' model_yaml\n"
            "  --source S         an image file, a directory (its *.* images, not recursive) or a\n"
            "                     quoted glob ('imgs/**/*.jpg'); formats: bmp jpeg jpg png (decoded),\n"
            "                     dng mpo tif tiff webp pfm (listed, reported unreadable)\n"
            "  --img H [W]        inference size (640; one value for a square)\n"
            "  --conf-thres X     confidence threshold (0.25)\n"
            "  --iou-thres X      NMS IoU threshold (0.45)\n"
            "  --max-det N        detections kept per image (1000)\n"
            "  --classes C ...    keep only these classes\n"
            "  --agnostic-nms     NMS across classes\n"
            "  --save-txt         labels/<image>.txt: 'class cx cy w h' per detection (normalised)\n"
            "  --save-conf        ... with the confidence appended\n"
            "  --nosave           do not save annotated images\n"
            "  --line-thickness N box outline width in pixels (3)\n"
            "  --hide-labels      boxes without labels\n"
            "  --hide-conf        labels without confidences\n"
            "  --project DIR      results go to DIR/NAME, NAME2, ... (runs/detect)\n"
            "  --name NAME        (exp)\n"
            "  --exist-ok         reuse DIR/NAME if it exists\n"
            "  --bf16             convolution products with bfloat16 operands and fp32 sums (faster;\n"
            "                     needs a CPU with AVX512_BF16)\n"
            "  -h, --help         show this help\n\n"
            "Exit status: 0 done, 1 failure or some image could not be read (the others are still\n"
            "processed and saved), 2 bad usage.\n");
}

#define DETECT_MAX_CLASSES 1024

typedef struct {
    const char *weights, *cfg, *source, *project, *name;
    int img[2], n_img;
    double conf_thres, iou_thres;
    int max_det, line_thickness;
    int classes[DETECT_MAX_CLASSES], n_classes;
    int agnostic, save_txt, save_conf, nosave, hide_labels, hide_conf, exist_ok, bf16;
} DetectArgs;

static int parse_args(int argc, char **argv, DetectArgs *a)
{
    memset(a, 0, sizeof *a);
    a->project = "runs/detect";
    a->name = "exp";
    a->img[0] = 640;
    a->n_img = 1;
    a->conf_thres = 0.25;
    a->iou_thres = 0.45;
    a->max_det = 1000;
    a->line_thickness = 3;
    const CliOpt opts[] = {
        {"--weights", CLI_STRING, &a->weights, 0, 0, 0, NULL},
        {"--source", CLI_STRING, &a->source, 0, 0, 0, NULL},
        {"--cfg", CLI_STRING, &a->cfg, 0, 0, 0, NULL},
        {"--img|--imgsz|--img-size", CLI_INT_LIST, a->img, 32, 16384, 2, &a->n_img},
        {"--conf-thres", CLI_DOUBLE, &a->conf_thres, 0, 1, 0, NULL},
        {"--iou-thres", CLI_DOUBLE, &a->iou_thres, 0, 1, 0, NULL},
        {"--max-det", CLI_INT, &a->max_det, 1, 1000000, 0, NULL},
        {"--classes", CLI_INT_LIST, a->classes, 0, 1000000, DETECT_MAX_CLASSES, &a->n_classes},
        {"--agnostic-nms", CLI_FLAG, &a->agnostic, 0, 0, 0, NULL},
        {"--save-txt", CLI_FLAG, &a->save_txt, 0, 0, 0, NULL},
        {"--save-conf", CLI_FLAG, &a->save_conf, 0, 0, 0, NULL},
        {"--nosave", CLI_FLAG, &a->nosave, 0, 0, 0, NULL},
        {"--line-thickness", CLI_INT, &a->line_thickness, 1, 100, 0, NULL},
        {"--hide-labels", CLI_FLAG, &a->hide_labels, 0, 0, 0, NULL},
        {"--hide-conf", CLI_FLAG, &a->hide_conf, 0, 0, 0, NULL},
        {"--project", CLI_STRING, &a->project, 0, 0, 0, NULL},
        {"--name", CLI_STRING, &a->name, 0, 0, 0, NULL},
        {"--exist-ok", CLI_FLAG, &a->exist_ok, 0, 0, 0, NULL},
        {"--bf16", CLI_FLAG, &a->bf16, 0, 0, 0, NULL},
    };
    Error e;
    int rc = cli_parse(argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), &e);
    if (rc == 1) {
        detect_usage(stdout);
        return 1;
    }
    if (rc == 0 && !a->weights) rc = err_set(&e, "--weights is required");
    if (rc == 0 && !a->source) rc = err_set(&e, "--source is required");
    if (rc == 0 && a->bf16 && !gemm_bf16_available())
        rc = err_set(&e, "--bf16: this CPU has no AVX512_BF16 (bfloat16 dot products); run without --bf16");
    if (rc != 0) {
        fprintf(stderr, "yolov5c detect: %s\n\n", e.msg);
        detect_usage(stderr);
        return 2;
    }
    if (a->n_img == 1) a->img[1] = a->img[0];
    return 0;
}

static const char *py_bool(int v) { return v ? "True" : "False"; }

static int round_up(int v, int s) { return (v + s - 1) / s * s; }

int detect_cli_main(int argc, char **argv)
{
    DetectArgs a;
    int prc = parse_args(argc, argv, &a);
    if (prc) return prc == 1 ? 0 : 2;
    printf("detect: weights=%s, source=%s, imgsz=[%d, %d], conf_thres=%g, iou_thres=%g, max_det=%d, "
           "save_txt=%s, save_conf=%s, nosave=%s, classes=",
           a.weights, a.source, a.img[0], a.img[1], a.conf_thres, a.iou_thres, a.max_det, py_bool(a.save_txt),
           py_bool(a.save_conf), py_bool(a.nosave));
    if (a.n_classes == 0) printf("None");
    for (int i = 0; i < a.n_classes; i++) printf(i ? ", %d" : "[%d", a.classes[i]);
    printf("%s, agnostic_nms=%s, project=%s, name=%s, exist_ok=%s, line_thickness=%d, hide_labels=%s, "
           "hide_conf=%s%s\n",
           a.n_classes ? "]" : "", py_bool(a.agnostic), a.project, a.name, py_bool(a.exist_ok), a.line_thickness,
           py_bool(a.hide_labels), py_bool(a.hide_conf), a.bf16 ? ", bf16=True" : "");

    Error e;
    StrList images = {0};
    size_t videos = 0;
    if (detect_list_sources(a.source, &images, &videos, &e) != 0) {
        fprintf(stderr, "yolov5c detect: %s\n", e.msg);
        return 1;
    }
    if (videos) fprintf(stderr, "WARNING: %zu video file(s) in the source skipped (videos are not supported)\n", videos);
    Model model;
    if (inference_model_load(a.weights, a.cfg, &model, &e) != 0) {
        fprintf(stderr, "yolov5c detect: %s\n", e.msg);
        strlist_free(&images);
        return 1;
    }
    model.precision = a.bf16 ? GEMM_BF16 : GEMM_FP32;
    int status = 1;
    int stride = 0;
    for (int l = 0; l < model.cfg.nl; l++)
        if ((int)model.stride[l] > stride) stride = (int)model.stride[l];
    if (stride < 32) stride = 32; /* DetectMultiBackend: max(int(stride.max()), 32) */
    for (int i = 0; i < a.n_classes; i++)
        if (a.classes[i] >= model.nc) {
            fprintf(stderr, "yolov5c detect: --classes %d: the model has %d classes (0..%d)\n", a.classes[i],
                    model.nc, model.nc - 1);
            goto done;
        }
    DetectOptions o;
    detect_options_default(&o);
    o.stride = stride;
    o.img_h = round_up(a.img[0], stride);
    o.img_w = round_up(a.img[1], stride);
    if (o.img_h != a.img[0] || o.img_w != a.img[1])
        fprintf(stderr, "WARNING: --img-size [%d, %d] must be multiple of max stride %d, updating to [%d, %d]\n",
                a.img[0], a.img[1], stride, o.img_h, o.img_w);
    o.nms.conf_thres = a.conf_thres;
    o.nms.iou_thres = a.iou_thres;
    o.nms.max_det = a.max_det;
    o.nms.agnostic = a.agnostic;
    o.nms.classes = a.n_classes ? a.classes : NULL;
    o.nms.n_classes = a.n_classes;
    o.save_img = !a.nosave;
    o.save_txt = a.save_txt;
    o.save_conf = a.save_conf;
    o.line_thickness = a.line_thickness;
    o.hide_labels = a.hide_labels;
    o.hide_conf = a.hide_conf;
    o.out = stdout;
    o.err = stderr;
    char save_dir[4096];
    if (save_dir_create(a.project, a.name, a.exist_ok, a.save_txt, save_dir, sizeof save_dir, &e) != 0) {
        fprintf(stderr, "yolov5c detect: %s\n", e.msg);
        goto done;
    }
    o.save_dir = save_dir;
    DetectSummary s;
    if (detect_run(&model, &images, &o, &s, &e) != 0) {
        fprintf(stderr, "yolov5c detect: %s\n", e.msg);
        goto done;
    }
    if (a.save_txt || o.save_img) {
        printf("Results saved to %s", save_dir);
        if (a.save_txt) {
            StrList files = {0};
            char labels[4200];
            snprintf(labels, sizeof labels, "%s/labels", save_dir);
            int n = 0;
            if (fs_list_files(labels, &files, &e) == 0)
                for (size_t i = 0; i < files.count; i++) {
                    size_t len = strlen(files.items[i]);
                    n += len > 4 && !strcmp(files.items[i] + len - 4, ".txt");
                }
            strlist_free(&files);
            printf("\n%d labels saved to %s", n, labels);
        }
        printf("\n");
    }
    if (s.failed)
        fprintf(stderr, "yolov5c detect: %d of %zu images could not be read or processed (listed above)\n", s.failed,
                images.count);
    status = s.failed ? 1 : 0;
done:
    model_free(&model);
    strlist_free(&images);
    return status;
}
