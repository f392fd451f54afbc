/* cli_train.c: the option handling of `bfc gen` and `bfc train` for fuzz_cli. The command's
 * source is included so that the fuzzer runs its real option table and callback (both
 * static); the functions below stop where the command would start drawing data. */
#include "../cli/cmd_train.c"

#include "fuzz_cli.h"

int fuzz_cli_gen(int argc, char **argv)
{
    bfc_problem p;
    bfc_problem_defaults(&p);
    const bfc_opt *tables[] = {bfc_problem_opts, NULL};
    int help, st = bfc_opt_parse(argc, argv, 2, tables, gen_opt, &p, &help, NULL, NULL);
    if (!st) st = bfc_problem_finish(&p);
    return st;
}

int fuzz_cli_train(int argc, char **argv)
{
    train_args a;
    memset(&a, 0, sizeof a);
    bfc_problem_defaults(&a.p);
    bfc_learner_defaults(&a.lc);
    bfc_train_defaults(&a.tc);
    const bfc_opt *tables[] = {bfc_problem_opts, train_opts, NULL};
    int help, st = bfc_opt_parse(argc, argv, 2, tables, train_opt, &a, &help, NULL, NULL);
    if (!st) st = train_args_finish(&a);
    return st;
}
