/* cli_train.c: the option handling of `bfc gen` and `bfc train` for fuzz_cli: the commands'
 * own parse-and-validate entry points, which stop where a command would start drawing data. */
#include "commands.h"
#include "fuzz_cli.h"

int fuzz_cli_gen(int argc, char **argv) { return bfc_cmd_gen_check(argc, argv); }

int fuzz_cli_train(int argc, char **argv) { return bfc_cmd_train_check(argc, argv); }
