/* `yolov5c detect`: inference on image files (detect/detect_cli.h). */
#include "cli/commands.h"
#include "detect/detect_cli.h"

int cmd_detect(int argc, char **argv) { return detect_cli_main(argc, argv); }
