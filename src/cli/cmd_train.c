/* `yolov5c train`: the training run (src/train/train_run.h) with the data
 * loader as its batch source and the validation runner for the per-epoch
 * validation of the EMA model. */
#include "cli/commands.h"
#include "train/batch_source.h"
#include "train/train_run.h"
#include "train/train_val.h"

int cmd_train(int argc, char **argv)
{
    TrainEnv env;
    train_env_default(&env);
    env.open_source = loader_source_open;
    TrainVal val = {0};
    env.validate = train_validate;
    env.validate_ctx = &val;
    int rc = train_main(argc, argv, &env);
    train_val_close(&val);
    return rc;
}
