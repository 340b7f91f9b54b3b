/* `yolov5c detect`: detect.py on image files (spec §8): weights + --source
 * FILE|DIR|GLOB -> a line per image, annotated copies and YOLO txt labels in
 * runs/detect/exp{,2,...}. Lives in the library so tests can call it. */
#ifndef YV5_DETECT_CLI_H
#define YV5_DETECT_CLI_H

/* argv[0] is the command name. Returns the exit status: 0 done, 1 runtime
 * failure or at least one image skipped (each is reported on stderr; the
 * others are still processed), 2 bad usage. */
int detect_cli_main(int argc, char **argv);

#endif
