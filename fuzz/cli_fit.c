/* cli_fit.c: the option handling of `bfc fit` for fuzz_cli. The command's source is included
 * so that the fuzzer runs its real option table, callbacks and checks (static); the function
 * below stops at the memory estimate, before any file is touched or any data are drawn. */
#include "../cli/cmd_fit.c"

#include "fuzz_cli.h"

int fuzz_cli_fit(int argc, char **argv)
{
    fit_args a;
    fit_args_init(&a);
    const bfc_opt *tables[] = {bfc_problem_opts, fit_opts, NULL};
    int help, st = bfc_opt_parse(argc, argv, 2, tables, fit_opt, &a, &help, NULL, NULL);
    int is_kernel = 0;
    bfc_kernel kern;
    bfc_krr_config kc;
    if (!st) st = fit_args_check(&a, &is_kernel, &kern, &kc);
    if (!st && is_kernel) (void)bfc_krr_memory_estimate(&kc, a.p.n, a.p.n_test, a.p.target.d);
    return st;
}
