/* `yolov5c train`: the training run (src/train/train_run.h) with the data
 * loader as its batch source, the validation runner for the per-epoch
 * validation of the EMA model, and the MPI job it belongs to, if any. */
#include "cli/commands.h"

#include <stdio.h>

#include "dist/dist.h"
#include "train/batch_source.h"
#include "train/train_run.h"
#include "train/train_val.h"

int cmd_train(int argc, char **argv)
{
    /* Under mpirun (MPI-capable build) this process is one rank of a
     * data-parallel job; otherwise a world of one, with no MPI involved. */
    Dist dist;
    Error e = {{0}};
    if (dist_init(&dist, NULL, NULL, &e) != 0) {
        fprintf(stderr, "yolov5c train: %s\n", e.msg);
        dist_finalize(&dist);
        return 1;
    }
    TrainEnv env;
    train_env_default(&env);
    env.dist = &dist;
    env.open_source = loader_source_open;
    TrainVal val = {0};
    env.validate = train_validate;
    env.validate_ctx = &val;
    int rc = train_main(argc, argv, &env);
    train_val_close(&val);
    dist_finalize(&dist);
    return rc;
}
