/* A small table-driven command-line parser for `yolov5c val` and `yolov5c
 * detect`, following argparse's conventions as YOLOv5 uses them: options
 * with several spellings ("--img", "--imgsz", "--img-size"), "--opt value"
 * or "--opt=value", flags, and options taking one or more values
 * ("--classes 0 2 3", "--img 480 640"). Numbers are checked for syntax and
 * range; every message names the option and the offending text. */
#ifndef YV5_CLI_OPTS_H
#define YV5_CLI_OPTS_H

#include "core/error.h"

typedef enum {
    CLI_FLAG,     /* int* set to 1 */
    CLI_INT,      /* int* in [min, max] */
    CLI_DOUBLE,   /* double* in [min, max] */
    CLI_STRING,   /* const char ** (points into argv) */
    CLI_INT_LIST, /* int* array of `cap`, count into *count; 1..cap values in [min, max] */
} CliKind;

typedef struct {
    const char *names; /* spellings separated by '|': "--img|--imgsz|--img-size" */
    CliKind kind;
    void *dest;
    double min, max;   /* CLI_INT, CLI_DOUBLE, CLI_INT_LIST */
    int cap;           /* CLI_INT_LIST */
    int *count;        /* CLI_INT_LIST */
} CliOpt;

/* Parses argv[1..argc) (argv[0] is the command). Returns 0 when parsed, 1
 * when -h/--help was given (nothing else checked), -1 with a message on a
 * usage error (unknown option, missing or malformed value, out of range). */
int cli_parse(int argc, char **argv, const CliOpt *opts, int n_opts, Error *e);

#endif
