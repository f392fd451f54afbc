/* cli_fit.c: the option handling of `bfc fit` for fuzz_cli. The command's source is included
 * so that the fuzzer runs its real option table and callbacks (static); the function below
 * follows the command's checks up to the memory estimate, before any data are drawn. */
#include "../baselines/cmd_fit.c"

#include "fuzz_cli.h"

int fuzz_cli_fit(int argc, char **argv)
{
    fit_args a;
    memset(&a, 0, sizeof a);
    bfc_problem_defaults(&a.p);
    strcpy(a.method, "krr");
    strcpy(a.kernel, "poly");
    strcpy(a.act, "relu");
    const bfc_opt *tables[] = {bfc_problem_opts, fit_opts, NULL};
    int help, st = bfc_opt_parse(argc, argv, 2, tables, fit_opt, &a, &help, NULL, NULL);
    if (!st) st = bfc_problem_finish(&a.p);
    int is_kernel = !strcmp(a.method, "krr") || !strcmp(a.method, "ntk") || !strcmp(a.method, "nngp");
    bfc_kernel kern;
    if (!st && is_kernel) st = kernel_from_args(&a, a.p.target.d, &kern);
    if (!st && is_kernel) {
        bfc_krr_config kc;
        bfc_krr_defaults(&kc, a.p.target.d);
        kc.kernel = kern;
        kc.ridge = a.ridge;
        if (a.select_max) kc.select_max = a.select_max;
        (void)bfc_krr_memory_estimate(&kc, a.p.n, a.p.n_test, a.p.target.d);
    }
    return st;
}
