/* cli_fit.c: the option handling of `bfc fit` for fuzz_cli: the command's own
 * parse-and-validate entry point (its option table, callbacks and checks), which touches no
 * file and draws no data. */
#include "commands.h"
#include "fuzz_cli.h"

int fuzz_cli_fit(int argc, char **argv) { return bfc_cmd_fit_check(argc, argv); }
