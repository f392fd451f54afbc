/* commands.h: entry points of the bfc subcommands; each takes the full argv (argv[1] is the
 * command name) and returns the process exit status (0 ok, 1 failure, 2 bad usage,
 * 3 diverged, 130 interrupted). */
#ifndef BFC_COMMANDS_H
#define BFC_COMMANDS_H

#include <stdio.h>

int bfc_cmd_gen(int argc, char **argv);
int bfc_cmd_train(int argc, char **argv);
int bfc_cmd_sweep(int argc, char **argv);
int bfc_cmd_fit(int argc, char **argv);
/* The methods of bfc fit, one per line with what they are (for bfc --help). */
void bfc_fit_methods_print(FILE *f);

/* Parse and validate a command line of gen, train or fit as the command would, without
 * touching a file or drawing data: BFC_OK, or the status the command would exit with and
 * its message in bfc_last_error(). The sweep checks its cells with these, the CLI fuzz
 * target drives them. */
int bfc_cmd_gen_check(int argc, char **argv);
int bfc_cmd_train_check(int argc, char **argv);
int bfc_cmd_fit_check(int argc, char **argv);

#endif
