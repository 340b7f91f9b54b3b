/* `yolov5c val`: validation of weights on a dataset split (val/val_cli.h). */
#include "cli/commands.h"
#include "val/val_cli.h"

int cmd_val(int argc, char **argv) { return val_cli_main(argc, argv); }
