/* baselines_cli.h: the baselines' subcommand for the bfc command-line tool. */
#ifndef BFC_BASELINES_CLI_H
#define BFC_BASELINES_CLI_H

#include <stdio.h>

/* `bfc fit`: full argv (argv[1] == "fit"); returns the exit status (0 ok, 1 failure,
 * 2 bad usage or a run that would not fit in memory). */
int bfc_cmd_fit(int argc, char **argv);
/* The methods of bfc fit, one per line with what they are (for bfc --help). */
void bfc_fit_methods_print(FILE *f);

#endif
