/* `yolov5c val`: val.py run standalone (spec §6): weights + data YAML ->
 * the mAP table in YOLOv5's layout, per-class rows, the speed line, and
 * optionally --save-txt labels and a COCO results JSON, into
 * runs/val/exp{,2,...}. Lives in the library so tests can call it. */
#ifndef YV5_VAL_CLI_H
#define YV5_VAL_CLI_H

/* argv[0] is the command name. Returns the exit status: 0 done, 1 runtime
 * failure (message on stderr), 2 bad usage (message and usage on stderr). */
int val_cli_main(int argc, char **argv);

#endif
