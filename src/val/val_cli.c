/* `yolov5c val` (val_cli.h). */
#include "val/val_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/dataset.h"
#include "data/fsutil.h"
#include "eval/save_results.h"
#include "model/model.h"
#include "val/cli_opts.h"
#include "val/inference_model.h"
#include "val/path_stem.h"
#include "val/save_dir.h"
#include "val/val.h"

static void val_usage(FILE *out)
{
    fprintf(out,
            "usage: yolov5c val --weights W --data D [--cfg MODEL.yaml] [--img 640] [--batch-size 32]\n"
            "                   [--conf-thres 0.001] [--iou-thres 0.6] [--max-det 300] [--task val|test|train]\n"
            "                   [--single-cls] [--save-txt] [--save-conf] [--save-json] [--verbose]\n"
            "                   [--workers N] [--project runs/val] [--name exp] [--exist-ok] [--noplots] [--bf16]\n\n"
            "Validates weights on a dataset split as YOLOv5's val.py: rectangular batches (pad 0.5),\n"
            "NMS, COCO-style mAP at IoU 0.50:0.95, and YOLOv5's table.\n\n"
            "options:\n"
            "  --weights W        yolov5c weights (.safetensors; scripts/pt2safetensors.py converts a .pt)\n"
            "                     or a training checkpoint (its EMA weights)\n"
            "  --cfg MODEL.yaml   build the network from this YAML instead of the weights' model_yaml\n"
            "  --data D           data YAML (the dataset the weights were trained for)\n"
            "  --img N            inference size (pixels, rounded up to a multiple of the stride; 640)\n"
            "  --batch-size N     images per batch (32)\n"
            "  --conf-thres X     confidence threshold (0.001)\n"
            "  --iou-thres X      NMS IoU threshold (0.6)\n"
            "  --max-det N        detections kept per image (300)\n"
            "  --task T           split to validate: val, test or train (val)\n"
            "  --single-cls       treat the dataset as one class\n"
            "  --verbose          per-class rows also for 50 or more classes\n"
            "  --save-txt         labels/<image>.txt: 'class cx cy w h' per detection (normalised)\n"
            "  --save-conf        ... with the confidence appended\n"
            "  --save-json        <weights>_predictions.json: COCO results (category ids of the\n"
            "                     dataset's annotations; pycocotools' loadRes reads it)\n"
            "  --workers N        loader threads (default: min(8, cores, batch size))\n"
            "  --project DIR      results go to DIR/NAME, NAME2, ... (runs/val)\n"
            "  --name NAME        (exp)\n"
            "  --exist-ok         reuse DIR/NAME if it exists\n"
            "  --noplots          no val_batch*_labels/pred.jpg pictures\n"
            "  --bf16             convolution products with bfloat16 operands and fp32 sums (faster;\n"
            "                     needs a CPU with AVX512_BF16)\n"
            "  -h, --help         show this help\n\n"
            "Exit status: 0 done, 1 failure (weights, data or output problem; message on stderr),\n"
            "2 bad usage.\n");
}

typedef struct {
    const char *weights, *cfg, *data, *task, *project, *name;
    int img, batch_size, max_det, workers;
    double conf_thres, iou_thres;
    int single_cls, save_txt, save_conf, save_json, verbose, exist_ok, noplots, bf16;
} ValArgs;

/* 0 run, 1 help printed, 2 usage error printed. */
static int parse_args(int argc, char **argv, ValArgs *a)
{
    memset(a, 0, sizeof *a);
    a->task = "val";
    a->project = "runs/val";
    a->name = "exp";
    a->img = 640;
    a->batch_size = 32;
    a->max_det = 300;
    a->workers = -1;
    a->conf_thres = 0.001;
    a->iou_thres = 0.6;
    const CliOpt opts[] = {
        {"--weights", CLI_STRING, &a->weights, 0, 0, 0, NULL},
        {"--data", CLI_STRING, &a->data, 0, 0, 0, NULL},
        {"--cfg", CLI_STRING, &a->cfg, 0, 0, 0, NULL},
        {"--img|--imgsz|--img-size", CLI_INT, &a->img, 32, 16384, 0, NULL},
        {"--batch-size", CLI_INT, &a->batch_size, 1, 4096, 0, NULL},
        {"--conf-thres", CLI_DOUBLE, &a->conf_thres, 0, 1, 0, NULL},
        {"--iou-thres", CLI_DOUBLE, &a->iou_thres, 0, 1, 0, NULL},
        {"--max-det", CLI_INT, &a->max_det, 1, 1000000, 0, NULL},
        {"--task", CLI_STRING, &a->task, 0, 0, 0, NULL},
        {"--workers", CLI_INT, &a->workers, 0, 256, 0, NULL},
        {"--project", CLI_STRING, &a->project, 0, 0, 0, NULL},
        {"--name", CLI_STRING, &a->name, 0, 0, 0, NULL},
        {"--single-cls", CLI_FLAG, &a->single_cls, 0, 0, 0, NULL},
        {"--save-txt", CLI_FLAG, &a->save_txt, 0, 0, 0, NULL},
        {"--save-conf", CLI_FLAG, &a->save_conf, 0, 0, 0, NULL},
        {"--save-json", CLI_FLAG, &a->save_json, 0, 0, 0, NULL},
        {"--verbose", CLI_FLAG, &a->verbose, 0, 0, 0, NULL},
        {"--exist-ok", CLI_FLAG, &a->exist_ok, 0, 0, 0, NULL},
        {"--noplots", CLI_FLAG, &a->noplots, 0, 0, 0, NULL},
        {"--bf16", CLI_FLAG, &a->bf16, 0, 0, 0, NULL},
    };
    Error e;
    int rc = cli_parse(argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), &e);
    if (rc == 1) {
        val_usage(stdout);
        return 1;
    }
    if (rc == 0 && !a->weights) rc = err_set(&e, "--weights is required");
    if (rc == 0 && !a->data) rc = err_set(&e, "--data is required");
    if (rc == 0 && strcmp(a->task, "val") && strcmp(a->task, "test") && strcmp(a->task, "train"))
        rc = err_set(&e, "--task must be val, test or train, got '%s'", a->task);
    if (rc == 0 && a->bf16 && !gemm_bf16_available())
        rc = err_set(&e, "--bf16: this CPU has no AVX512_BF16 (bfloat16 dot products); run without --bf16");
    if (rc != 0) {
        fprintf(stderr, "yolov5c val: %s\n\n", e.msg);
        val_usage(stderr);
        return 2;
    }
    return 0;
}

static const char *py_bool(int v) { return v ? "True" : "False"; }

/* check_img_size: the next multiple of the stride at or above img. */
static int img_for_stride(int img, int stride)
{
    int s = (img + stride - 1) / stride * stride;
    return s < stride ? stride : s;
}

static int default_workers(int batch_size)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int w = 8;
    if (cores > 0 && cores < w) w = (int)cores;
    if (batch_size < w) w = batch_size > 1 ? batch_size : 0;
    return w;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

static int count_txt_files(const char *dir)
{
    StrList files = {0};
    Error e;
    int n = 0;
    if (fs_is_dir(dir) && fs_list_files(dir, &files, &e) == 0)
        for (size_t i = 0; i < files.count; i++) n += ends_with(files.items[i], ".txt");
    strlist_free(&files);
    return n;
}

static void print_nc_mismatch(const char *weights, int model_nc, int data_nc)
{
    fprintf(stderr,
            "yolov5c val: %s (%d classes) trained on different --data than what you passed (%d classes). "
            "Pass correct combination of --weights and --data that are trained together.\n",
            weights, model_nc, data_nc);
}

int val_cli_main(int argc, char **argv)
{
    ValArgs a;
    int prc = parse_args(argc, argv, &a);
    if (prc) return prc == 1 ? 0 : 2;
    SplitKind kind = !strcmp(a.task, "test") ? SPLIT_TEST : !strcmp(a.task, "train") ? SPLIT_TRAIN : SPLIT_VAL;
    if (a.workers < 0) a.workers = default_workers(a.batch_size);

    printf("val: data=%s, weights=%s, batch_size=%d, imgsz=%d, conf_thres=%g, iou_thres=%g, max_det=%d, "
           "task=%s, workers=%d, single_cls=%s, verbose=%s, save_txt=%s, save_conf=%s, save_json=%s, "
           "project=%s, name=%s, exist_ok=%s%s\n",
           a.data, a.weights, a.batch_size, a.img, a.conf_thres, a.iou_thres, a.max_det, a.task, a.workers,
           py_bool(a.single_cls), py_bool(a.verbose), py_bool(a.save_txt), py_bool(a.save_conf),
           py_bool(a.save_json), a.project, a.name, py_bool(a.exist_ok), a.bf16 ? ", bf16=True" : "");

    Error e;
    Model model;
    if (inference_model_load(a.weights, a.cfg, &model, &e) != 0) {
        fprintf(stderr, "yolov5c val: %s\n", e.msg);
        return 1;
    }
    model.precision = a.bf16 ? GEMM_BF16 : GEMM_FP32;
    int stride = 0;
    for (int l = 0; l < model.cfg.nl; l++)
        if ((int)model.stride[l] > stride) stride = (int)model.stride[l];
    if (stride < 1) stride = 32;
    int img = img_for_stride(a.img, stride);
    if (img != a.img)
        fprintf(stderr, "WARNING: --img-size %d must be multiple of max stride %d, updating to %d\n", a.img, stride,
                img);
    printf("model: %s (%d classes, %zu parameters)\n", a.weights, model.nc, model.table.n_params);

    /* val.py checks the class count before loading any image */
    DatasetConfig dc;
    if (dataset_config_load(a.data, &dc, &e) != 0) {
        fprintf(stderr, "yolov5c val: %s\n", e.msg);
        model_free(&model);
        return 1;
    }
    int data_nc = dc.nc;
    dataset_config_free(&dc);
    if (!a.single_cls && data_nc > 0 && model.nc != data_nc) {
        print_nc_mismatch(a.weights, model.nc, data_nc);
        model_free(&model);
        return 1;
    }

    int status = 1;
    Dataset ds;
    ScanOptions so = {1, 0, 0};
    memset(&ds, 0, sizeof ds);
    if (dataset_open(a.data, 1u << kind, &so, &ds, &e) != 0) {
        fprintf(stderr, "yolov5c val: %s\n", e.msg);
        model_free(&model);
        return 1;
    }
    const DatasetSplit *split = &ds.split[kind];
    const SplitConfig *sc = &ds.cfg.split[kind];
    printf("%s: Scanning %s... %zu images, %zu backgrounds, %zu corrupt, %zu instances\n", a.task,
           sc->annotations ? sc->annotations : sc->sources.count ? sc->sources.items[0] : "?", split->stats.images,
           split->stats.backgrounds, split->stats.corrupt, split->stats.instances);
    for (size_t i = 0; i < split->warnings.kept.count && i < 10; i++)
        fprintf(stderr, "%s: WARNING %s\n", a.task, split->warnings.kept.items[i]);

    char save_dir[4096], json_path[5200];
    ValOptions vo;
    ValResult r;
    memset(&r, 0, sizeof r);
    if (!a.single_cls && model.nc != ds.nc) {
        print_nc_mismatch(a.weights, model.nc, ds.nc);
        goto done;
    }
    if (save_dir_create(a.project, a.name, a.exist_ok, a.save_txt, save_dir, sizeof save_dir, &e) != 0) {
        fprintf(stderr, "yolov5c val: %s\n", e.msg);
        goto done;
    }
    val_options_default(&vo);
    vo.batch_size = a.batch_size;
    vo.img_size = img;
    vo.stride = stride;
    vo.conf_thres = a.conf_thres;
    vo.iou_thres = a.iou_thres;
    vo.max_det = a.max_det;
    vo.single_cls = a.single_cls;
    vo.workers = a.workers;
    vo.verbose = a.verbose;
    vo.task = a.task;
    vo.out = stdout;
    vo.warn = stderr;
    vo.save_dir = save_dir;
    vo.save_txt = a.save_txt;
    vo.save_conf = a.save_conf;
    vo.plots = !a.noplots;
    vo.confusion_csv = 1;
    if (a.save_json) {
        char stem[1024];
        path_stem(a.weights, stem, sizeof stem);
        snprintf(json_path, sizeof json_path, "%s/%s_predictions.json", save_dir, stem);
        vo.json_path = json_path;
        if (split->is_coco && split->category_ids) {
            vo.class_map = split->category_ids;
            vo.n_class_map = ds.nc;
        } else if (sc->sources.count == 1 && ends_with(sc->sources.items[0], "coco/val2017.txt") && ds.nc == 80) {
            vo.class_map = coco80_to_coco91(); /* val.py's is_coco rule */
            vo.n_class_map = 80;
        }
    }
    if (val_run(&vo, &model, NULL, split, &r, &e) != 0) {
        fprintf(stderr, "yolov5c val: %s\n", e.msg);
        goto done;
    }
    if (a.save_json) {
        printf("\nSaved %lld detections to %s (COCO results: evaluate with pycocotools against %s)\n",
               (long long)r.json_rows, json_path, sc->annotations ? sc->annotations : "the COCO annotations");
    }
    if (a.save_txt) {
        char labels[4200];
        snprintf(labels, sizeof labels, "%s/labels", save_dir);
        printf("Results saved to %s\n%d labels saved to %s\n", save_dir, count_txt_files(labels), labels);
    } else {
        printf("Results saved to %s\n", save_dir);
    }
    status = 0;
done:
    val_result_free(&r);
    dataset_close(&ds);
    model_free(&model);
    return status;
}
