/* yolov5c entry point: dispatches to one subcommand per file in src/cli/. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "dist/dist.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} Command;

static const Command commands[] = {
    {"train", cmd_train, "train a model (YOLOv5 v7.0 train.py): checkpoints, bit-exact --resume"},
    {"val", cmd_val, "validate weights on a dataset: P, R, mAP50, mAP50-95 (YOLOv5 val.py)"},
    {"detect", cmd_detect, "run detection on images: annotated images and YOLO txt (YOLOv5 detect.py)"},
    {"info", cmd_info, "model summary: layer table, parameters, GFLOPs"},
    {"anchors", cmd_anchors, "check the anchors against a dataset (AutoAnchor) and propose new ones"},
    {"dataset", cmd_dataset, "scan a dataset (summary, classes, warnings) or generate the built-in shapes dataset"},
};

static void usage(FILE *out)
{
    fprintf(out, "yolov5c - YOLOv5 object detection, trained and run on the CPU\n\n"
                 "usage: yolov5c <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'yolov5c <command> --help' shows a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("yolov5c %s\n", YV5_VERSION);
        return 0;
    }
    /* Only training is data-parallel; N copies of val or detect would each
     * do all the work and write the same files. */
    if (strcmp(argv[1], "train") != 0 && dist_launcher_world() > 1) {
        fprintf(stderr, "yolov5c %s: started as one of %d MPI ranks; only 'train' runs under mpirun (use -np 1 or no "
                        "mpirun)\n",
                argv[1], dist_launcher_world());
        return 2;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "yolov5c: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
