/* cmd_sweep.c: `bfc sweep CONFIG`: run a configuration's cells (targets × methods × n ×
 * seeds) as child processes, resume what is unfinished, and write the aggregated results,
 * figure tables and REPORT.md (sweep.h; format in bench/configs/README.md). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bfc.h"
#include "cli.h"
#include "commands.h"
#include "fsutil.h"
#include "sweep.h"

#define MAX_OVERRIDES 64

typedef struct {
    const char *config;
    char out[4096];
    int jobs;
    int quick, dry_run, report_only, quiet;
    int n_over;
    const char *over_field[MAX_OVERRIDES];
    const char *over_value[MAX_OVERRIDES];
} sweep_args;

#define A sweep_args
static const bfc_opt sweep_opts[] = {
    {"out", 1, "DIR", "results directory (default results/<config name>[-quick]); rerun to resume",
     BFC_OPT_CB},
    {"jobs", 1, "N", "cells run in parallel, one BLAS thread each (default 2)",
     BFC_OPT_I(A, jobs, 1, 1024)},
    {"quick", 0, "", "apply the configuration's \"quick\" block (a small subset)",
     BFC_OPT_F(A, quick)},
    {"n", 1, "N,N..", "override the n grid of every target", BFC_OPT_CB},
    {"seeds", 1, "S,S..", "override the seeds", BFC_OPT_CB},
    {"targets", 1, "A,B..", "run only these targets", BFC_OPT_CB},
    {"methods", 1, "A,B..", "run only these methods", BFC_OPT_CB},
    {"eps", 1, "E,E..", "override the eps of n_eps (default 0.1,0.03,0.01)", BFC_OPT_CB},
    {"timeout", 1, "S", "seconds per cell before it is stopped (0 = none)", BFC_OPT_CB},
    {"arg", 1, "CMD:F=V",
     "add a flag to every cell of a command, e.g. train:steps=1000 (repeatable)", BFC_OPT_CB},
    {"dry-run", 0, "", "list the cells (key and command line) and exit", BFC_OPT_F(A, dry_run)},
    {"report-only", 0, "", "run nothing: aggregate the finished cells and write the report",
     BFC_OPT_F(A, report_only)},
    {"quiet", 0, "", "no progress on stderr", BFC_OPT_F(A, quiet)},
    BFC_OPT_END};
#undef A

/* --out (with its length check) and the overrides, applied once the configuration is read */
static int sweep_opt(void *ctx, const char *name, const char *val)
{
    sweep_args *a = ctx;
    if (!strcmp(name, "out")) {
        if (strlen(val) >= sizeof a->out || strlen(val) > 3000)
            return bfc_fail(BFC_EINVAL, "--out: path too long");
        strcpy(a->out, val);
        return BFC_OK;
    }
    if (a->n_over == MAX_OVERRIDES) return bfc_fail(BFC_EINVAL, "too many overrides");
    a->over_field[a->n_over] = name;
    a->over_value[a->n_over++] = val;
    return BFC_OK;
}

static void usage(const bfc_opt *const *tables)
{
    printf("usage: bfc sweep CONFIG [options]\n\n"
           "Run every cell (target x method x n x seed) of the configuration CONFIG (JSON, see\n"
           "bench/configs/README.md) as a child process 'bfc train|fit ... --out DIR/cells/KEY',\n"
           "KEY a hash of the cell's command line, with OPENBLAS_NUM_THREADS=1 and --jobs at\n"
           "a time. Finished cells are kept: rerunning the same command resumes. A failed cell\n"
           "records its error in its status.json and the sweep goes on. Ctrl-C once stops\n"
           "launching and waits for the cells in flight; twice kills them.\n\n"
           "Writes in DIR: results.csv (method,target,n,seed,metric,value), sweep.json (resolved\n"
           "configuration and run metadata), summary.csv, neps.csv (sample complexity n_eps and\n"
           "time t_eps), fig_*.csv with figures.txt (tables of the plots/*.gp figures),\n"
           "REPORT.md and sweep-args.txt (these arguments, for scripts/report.sh).\n"
           "Exit status: 0 all cells finished, 1 some failed, 2 bad configuration,\n"
           "130 interrupted.\n\noptions:\n");
    bfc_opt_print(stdout, tables);
}

/* OUT/sweep-args.txt: the arguments after "sweep", one per line, so that a later step
 * (scripts/report.sh) can rebuild the same cells with --report-only; the configuration file
 * as an absolute path, so that it can run from anywhere. */
static int save_args(int argc, char **argv, const char *config, const char *out)
{
    int st = bfc_mkdir_p(out);
    char path[4200];
    if (!st) st = bfc_path_join(path, sizeof path, out, "sweep-args.txt");
    if (st) return st;
    bfc_afile *f = bfc_afile_open(path);
    if (!f) return BFC_EIO;
    for (int i = 2; i < argc; i++) {
        if (strchr(argv[i], '\n')) {
            bfc_afile_abort(f);
            return bfc_fail(BFC_EINVAL, "an argument holds a newline");
        }
        char *abs = argv[i] == config ? realpath(config, NULL) : NULL;
        fprintf(bfc_afile_fp(f), "%s\n", abs ? abs : argv[i]);
        free(abs);
    }
    return bfc_afile_commit(f);
}

int bfc_cmd_sweep(int argc, char **argv)
{
    sweep_args a;
    memset(&a, 0, sizeof a);
    a.jobs = 2;
    const bfc_opt *tables[] = {sweep_opts, NULL};
    const char *pos[1];
    int npos = 1, help;
    int st = bfc_opt_parse(argc, argv, 2, tables, sweep_opt, &a, &help, pos, &npos);
    if (help) {
        usage(tables);
        return 0;
    }
    if (!st && npos != 1)
        st = bfc_fail(BFC_EINVAL, "needs a configuration file (bfc sweep --help)");
    if (st) {
        fprintf(stderr, "bfc sweep: %s\n", bfc_last_error());
        return 2;
    }
    a.config = pos[0];
    bfc_sweep *s = bfc_sweep_load(a.config, &st);
    if (s && a.quick) st = bfc_sweep_quick(s);
    for (int i = 0; s && !st && i < a.n_over; i++)
        st = bfc_sweep_override(s, a.over_field[i], a.over_value[i]);
    if (s && !st) st = bfc_sweep_expand(s);
    if (st) {
        fprintf(stderr, "bfc sweep: %s\n", bfc_last_error());
        bfc_sweep_free(s);
        return 2;
    }
    if (!a.out[0])
        snprintf(a.out, sizeof a.out, "results/%s%s", bfc_sweep_name(s), a.quick ? "-quick" : "");
    if (a.dry_run) {
        for (int i = 0; i < bfc_sweep_ncells(s); i++) {
            const bfc_sweep_cell *c = bfc_sweep_cell_at(s, i);
            printf("%s %s\n", c->key, c->cmdline);
        }
        fprintf(stderr, "bfc sweep: %d cells; results would go to %s\n", bfc_sweep_ncells(s),
                a.out);
        bfc_sweep_free(s);
        return 0;
    }
    bfc_sweep_summary sum;
    memset(&sum, 0, sizeof sum);
    int rst = BFC_OK;
    if (!a.report_only && (st = save_args(argc, argv, a.config, a.out))) {
        fprintf(stderr, "bfc sweep: %s\n", bfc_last_error());
        bfc_sweep_free(s);
        return 1;
    }
    if (!a.report_only) {
        bfc_sweep_run_opts o = {"/proc/self/exe", a.out, a.jobs, a.quiet, -1,
                                bfc_install_signal_counter(2)};
        rst = bfc_sweep_run(s, &o, &sum);
        if (rst && rst != BFC_EINTR) {
            fprintf(stderr, "bfc sweep: %s\n", bfc_last_error());
            bfc_sweep_free(s);
            return 1;
        }
    }
    st = bfc_sweep_write_results(s, a.out, a.report_only ? NULL : &sum);
    if (st)
        fprintf(stderr, "bfc sweep: %s\n", bfc_last_error());
    else if (!a.quiet)
        fprintf(stderr, "bfc sweep: wrote %s/REPORT.md, results.csv, sweep.json\n", a.out);
    bfc_sweep_free(s);
    if (st) return 1;
    if (rst == BFC_EINTR) return 130;
    return sum.failed ? 1 : 0;
}
