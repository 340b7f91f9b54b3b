/* One function per subcommand; each gets argv starting at its own name and
 * returns the process exit status (0 ok, 1 runtime failure, 2 bad usage). */
#ifndef YV5_COMMANDS_H
#define YV5_COMMANDS_H

#define YV5_VERSION "0.1.0"

int cmd_train(int argc, char **argv);
int cmd_val(int argc, char **argv);
int cmd_detect(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_dataset(int argc, char **argv);
int cmd_anchors(int argc, char **argv);

#endif
