#include <stdio.h>

#include "cli/commands.h"

/* Placeholder until the model parser lands (issue 3): says so and fails. */
int cmd_info(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "yolov5c info: model loading is not built yet\n");
    return 1;
}
