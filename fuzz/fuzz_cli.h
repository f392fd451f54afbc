/* fuzz_cli.h: option handling of the bfc subcommands as fuzz_cli drives it: argv as the
 * command receives it (argv[1] is the subcommand); BFC_OK or the status the command would
 * report, with its message in bfc_last_error(). */
#ifndef BFC_FUZZ_CLI_H
#define BFC_FUZZ_CLI_H

int fuzz_cli_gen(int argc, char **argv);
int fuzz_cli_train(int argc, char **argv);
int fuzz_cli_fit(int argc, char **argv);

#endif
