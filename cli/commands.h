/* commands.h: entry points of the bfc subcommands; each takes the full argv (argv[1] is the
 * command name) and returns the process exit status (0 ok, 1 failure, 2 bad usage,
 * 130 interrupted). */
#ifndef BFC_COMMANDS_H
#define BFC_COMMANDS_H

int bfc_cmd_gen(int argc, char **argv);
int bfc_cmd_train(int argc, char **argv);
int bfc_cmd_sweep(int argc, char **argv);

#endif
