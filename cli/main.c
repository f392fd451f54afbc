/* main.c: the bfc command-line tool. This is the application layer: it dispatches to the
 * subcommands in cli/ (gen, train, fit, sweep), which call libbfc and the baselines. */
#include <stdio.h>
#include <string.h>

#include "bfc.h"
#include "blas.h"
#include "cli.h"
#include "commands.h"


static int info_opt(void *ctx, const char *name, const char *val)
{
    (void)ctx, (void)val;
    return bfc_fail(BFC_EINVAL, "unhandled option --%s", name);
}

static int cmd_info(int argc, char **argv)
{
    static const bfc_opt none[] = {BFC_OPT_END};
    const bfc_opt *tables[] = {none, NULL};
    int help, st = bfc_opt_parse(argc, argv, 2, tables, info_opt, NULL, &help, NULL, NULL);
    if (help) {
        printf("usage: bfc info\n\nPrint the version, the commit, the BLAS core in use and its "
               "threads, and the CPU.\n");
        return 0;
    }
    if (st) {
        fprintf(stderr, "bfc info: %s\n", bfc_last_error());
        return bfc_exit_status(st);
    }
    printf("bfc %s (commit %s)\nBLAS core: %s (%s), threads: %d\nCPU: %s\n", BFC_VERSION,
           bfc_git_commit(), bfc_blas_core(), bfc_blas_fix_status(), bfc_blas_threads(),
           bfc_cpu_model());
    return 0;
}

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} commands[] = {
    {"gen", bfc_cmd_gen, "draw a hierarchical target and its data sets, save them (.npy + JSON)"},
    {"train", bfc_cmd_train, "train the paper's learner under a schedule (e2e, layerwise, depth=D, joint)"},
    {"fit", bfc_cmd_fit, "fit a baseline (--method, below) on the same target and data"},
    {"sweep", bfc_cmd_sweep, "run a sweep of cells from a configuration, with results and report"},
    {"info", cmd_info, "print the version, the BLAS core in use and the CPU"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: bfc <command> [options]   (bfc <command> --help for its options)\n\n"
               "Backward Feature Correction suite: hierarchical targets, the paper's learner,\n"
               "its training schedules and the baselines it is compared against.\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\nmethods of fit (--method M):\n");
    bfc_fit_methods_print(f);
    fprintf(f, "\nexit status: 0 done, 1 failed, 2 usage error (or a run refused for memory),\n"
               "130 interrupted.\n");
    fprintf(f, "\nenvironment:\n"
               "  BFC_BLAS_AUTOFIX=0   do not re-run with a better OPENBLAS_CORETYPE when\n"
               "                       OpenBLAS picked a slower core than the CPU supports\n"
               "  OPENBLAS_CORETYPE    if set, respected as given\n");
}

int main(int argc, char **argv)
{
    bfc_blas_autofix(argc, argv);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("bfc %s (commit %s)\n", BFC_VERSION, bfc_git_commit());
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc, argv);
    fprintf(stderr, "bfc: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
