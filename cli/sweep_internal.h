/* sweep_internal.h: the types the stages of the sweep (sweep.h) pass to each other. Data
 * flows one way:
 *
 *   sweep_flags.c    flag containers and the typed readers of the configuration's JSON
 *   sweep_config.c   the configuration: schema, validation, quick block, overrides
 *   sweep_cells.c    cells (expansion, canonical command lines, keys) and their cache on disk
 *   sweep_run.c      runs the cells that are not finished through a sweep_runner:
 *   sweep_local.c      the local runner (fork/exec of child processes, signals)
 *   sweep_aggregate.c  finished cells → results.csv, series (medians over seeds), n_ε, fits
 *   sweep_figures.c  the figures' tables and figures.txt
 *   sweep_report.c   REPORT.md (verdicts), and bfc_sweep_write_results, which runs the
 *   sweep_sidecar.c    aggregation and the three writers; sweep.json
 *
 * A later stage reads what an earlier one produced through the types and functions below,
 * never the other way round. Every allocation failure is BFC_ENOMEM with a message. */
#ifndef BFC_SWEEP_INTERNAL_H
#define BFC_SWEEP_INTERNAL_H

#include <stdio.h>

#include "blas.h"
#include "claims.h"
#include "fsutil.h"
#include "json.h"
#include "sweep.h"
#include "target.h"

#define NAME_MAX_LEN 48   /* target and method names */
#define OUT_MAX      3000 /* longest output directory name */
#define PATH_CAP     4352 /* any path under an output directory of at most OUT_MAX */

/* ---- allocation (sweep_flags.c): NULL after bfc_fail(BFC_ENOMEM, ...) ---- */

void *sw_realloc(void *p, size_t n);
char *sw_strdup(const char *s);
char *sw_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- containers (sweep_flags.c); functions returning int give BFC_OK or BFC_ENOMEM ---- */

typedef struct {
    char **v;
    int n, cap;
} strv;

int strv_push(strv *a, const char *s);
int strv_find(const strv *a, const char *s);
int strv_copy(strv *dst, const strv *src);
void strv_free(strv *a);

/* Flags of a bfc command line: "--name value", "--name" (bare), or a deletion marker that
 * removes the flag when layers are merged (JSON null or false). */
enum { FLAG_VALUE = 0, FLAG_BARE, FLAG_DELETE };

typedef struct {
    char *name, *value; /* value NULL unless FLAG_VALUE */
    int kind;
} flag;

typedef struct {
    flag *v;
    int n, cap;
} flagv;

int flags_add(flagv *f, const char *name, const char *value, int kind);
/* dst ← dst with every flag named in src replaced by src's entries of that name. */
int flags_merge(flagv *dst, const flagv *src);
/* The value of the last flag named name ("" when bare), NULL when absent. */
const char *flags_get(const flagv *f, const char *name);
void flags_free(flagv *f);

/* Flags per bfc subcommand, e.g. {"train": {...}, "fit": {...}}. */
typedef struct {
    char *cmd;
    flagv f;
} cmdflags;

typedef struct {
    cmdflags *v;
    int n;
} cmdargs;

/* The flags of cmd, created empty when absent (NULL only when out of memory). */
flagv *cmdargs_for(cmdargs *a, const char *cmd);
const flagv *cmdargs_get(const cmdargs *a, const char *cmd);
/* dst gets every entry of src appended, per command (deletion markers included). */
int cmdargs_append(cmdargs *dst, const cmdargs *src);
void cmdargs_free(cmdargs *a);

/* ---- reading the configuration (sweep_flags.c) ---- */

/* The path of the key being read, for messages: "targets[1].args.train.clip". */
typedef struct {
    const char *what;
    char path[256];
} ctx;

int cfail(const ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append ".key" or "[i]" to the path; returns the old length to restore with ctx_pop. */
size_t ctx_push(ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ctx_pop(ctx *c, size_t len);

int check_keys(ctx *c, const bfc_json *obj, const char *const *known);
int want_type(ctx *c, const bfc_json *v, int type);
/* Names: 1..NAME_MAX_LEN of [A-Za-z0-9._=+:-], so that they fit file names, CSV and shells. */
int check_name(ctx *c, const char *s);
int get_string(ctx *c, const bfc_json *obj, const char *key, char **out, int required);
/* A number in [lo, hi]; integral when integral is set. */
int get_number(ctx *c, const bfc_json *v, double lo, double hi, int integral, double *out);
/* A strictly increasing non-empty list of training set sizes. */
int get_grid(ctx *c, const bfc_json *v, int **out, int *n);
int get_eps(ctx *c, const bfc_json *v, double **out, int *n);
int get_names(ctx *c, const bfc_json *v, strv *out);
/* Seeds: distinct integers in [0, 2^53]. The one check of a seed list, whether it comes from
 * the configuration (get_seeds) or from --seeds (seeds_from_values, x[i] as given). */
int get_seeds(ctx *c, const bfc_json *v, long long **out, int *n);
int seeds_from_values(ctx *c, const double *x, int m, int index_in_path, long long **out,
                      int *n);

/* Flag names as the bfc commands spell them: underscores become dashes. */
int flag_name(ctx *c, const char *key, char *out, size_t cap);
/* Flags set by the sweep itself for every cell (n, seed, out, json, quiet, data, help). */
int is_reserved(const char *name);
/* One JSON value as flags named name (number, string, true, false/null to remove, list). */
int flag_from_json(ctx *c, flagv *f, const char *name, const bfc_json *v);
/* An object of flags {"steps": 3000, "no_cosine": true, ...}. */
int flags_from_object(ctx *c, const bfc_json *obj, flagv *f);
/* {"train": {flags}, "fit": {flags}}: flags per bfc subcommand. */
int cmdargs_from_object(ctx *c, const bfc_json *obj, cmdargs *a);

/* ---- the configuration (sweep_config.c) ---- */

typedef struct {
    char *name, *group;
    flagv problem; /* the problem flags (d, L, k, gap, ...) */
    cmdargs args;  /* extra flags per command for this target */
    int *grid, ngrid;
    strv methods;
    int has_methods;
    bfc_target_config tc; /* resolved (seed: the target seed when fixed) */
    int target_seed_fixed;
} target;

typedef struct {
    char *name, *command, *role;
    flagv args;
    int n_min, n_max; /* 0: no limit */
    strv targets;
    int has_targets;
    int schedule, depth; /* train: the schedule (enum bfc_schedule) and D; else −1 */
} method;

/* The configuration's "quick" block, read and checked once with the rest. */
typedef struct {
    int present;
    int *grid, ngrid; /* NULL: not given */
    long long *seeds; /* NULL: not given */
    int nseeds;
    strv only_t, only_m;
    int has_only_t, has_only_m;
    cmdargs args;
    int has_timeout;
    double timeout_s;
} quickblock;

typedef struct {
    int t, m;   /* target and method */
    int dup_of; /* index of an earlier cell with the same key, or −1 */
} cellinfo;

struct bfc_sweep {
    char *what, *name, *description;
    target *t;
    int nt;
    method *m;
    int nm;
    int *grid, ngrid;
    long long *seeds;
    int nseeds;
    double *eps;
    int neps;
    double eps_vs_d;
    double timeout_s;
    cmdargs args;      /* top-level per-command flags */
    cmdargs late_args; /* quick and command-line flags: applied after the methods' */
    strv only_t, only_m;
    int has_only_t, has_only_m;
    quickblock qb;
    int quick; /* the quick block was applied */
    bfc_sweep_cell *cells;
    cellinfo *ci;
    int ncells;
};

/* The n grid of target ti (its own or the sweep's). */
const int *sweep_grid(const bfc_sweep *s, int ti, int *ng);
/* 1 when name passes a selection (has: a selection was given). */
int sweep_allowed(const strv *only, int has, const char *name);

/* ---- cells and their cache on disk (sweep_cells.c) ---- */

void free_cells(bfc_sweep *s);
/* 1 when a cell may run `bfc command` (train, fit: the commands that write result.csv). */
int sweep_command_known(const char *command);
/* buf = dir/name; paths under an output directory of at most OUT_MAX characters fit PATH_CAP. */
void pjoin(char *buf, size_t cap, const char *dir, const char *name);
/* An atomic file out/name (bfc_afile_open): its stream, with *af to commit or abort; NULL (and
 * *af NULL) when it cannot be created. */
FILE *sweep_out_open(const char *out, const char *name, bfc_afile **af);
/* out/cells/<key> */
void cell_dir(const char *out, const bfc_sweep_cell *c, char *buf, size_t cap);
int file_exists(const char *dir, const char *name);
/* Status of a cell from its status.json: 1 finished ("ok" and result.csv present), 0 failed,
 * −1 not run or interrupted. *wall and *cpu (if non-NULL) receive wall_s and cpu_s; reason
 * (if non-NULL) the recorded reason and the last stderr line. */
int read_status(const char *dir, double *wall, double *cpu, char *reason, size_t cap);

/* ---- running the cells (sweep_run.c drives a sweep_runner, e.g. sweep_local.c) ---- */

/* How a cell's process ended. */
typedef struct {
    int cell;       /* index of the cell */
    int exited;     /* 1: exited with code; 0: ended by signal */
    int code;       /* exit code (exited) */
    int signal;     /* the signal (!exited) */
    double wall;    /* seconds from submit to the end */
    double cpu;     /* user + system seconds of the process and its children (NaN unknown) */
} sweep_done;

/* Where cells run. The driver decides what runs, when, and what a result means; a runner
 * only starts `bfc ARGV --json --quiet --force --out DIR` for a cell (stdout to DIR/stdout.json,
 * stderr to DIR/stderr.log, one BLAS thread), reports its end and stops it on request. The
 * local runner forks child processes; an MPI runner would hand cells to ranks. */
typedef struct sweep_runner {
    void *impl;
    /* Start cell i (its directory prepared); BFC_OK or a status with a message. */
    int (*submit)(struct sweep_runner *r, int i, const bfc_sweep_cell *c, const char *dir);
    /* Without waiting: 1 and *d when a started cell has ended, 0 when none has. */
    int (*poll)(struct sweep_runner *r, sweep_done *d);
    /* Ask a started cell to stop (hard = 0: it may still write its results) or kill it. */
    void (*cancel)(struct sweep_runner *r, int i, int hard);
    /* Release the runner (after every started cell has ended). */
    void (*close)(struct sweep_runner *r);
} sweep_runner;

/* The local runner: cells as child processes of exe in their own process groups. */
int sweep_local_runner(sweep_runner *r, const char *exe, int ncells);

/* ---- aggregation (sweep_aggregate.c) ---- */

/* What the aggregation knows of one cell. */
typedef struct {
    int status; /* 1 finished, 0 failed, −1 not run */
    double test_error, test_error_bulk, wall, cpu;
    double share[BFC_MAX_L + 1];
    char commit[48]; /* of the bfc that ran the cell (its result.json), "" if unknown */
    char reason[640];
} cellres;

#define SERIES_MAX_N 256

/* One curve: a method on a target over its n grid. */
typedef struct {
    int ti, mi;
    int nn;
    int n[SERIES_MAX_N];
    double med[SERIES_MAX_N], lo[SERIES_MAX_N], hi[SERIES_MAX_N]; /* test error over seeds */
    double wall[SERIES_MAX_N], cpu[SERIES_MAX_N];                 /* medians */
    double bulk[SERIES_MAX_N]; /* median of test_error_bulk (NaN where a seed lacks it) */
    double bulk_lo[SERIES_MAX_N], bulk_hi[SERIES_MAX_N]; /* its min and max over seeds */
    int ok[SERIES_MAX_N], total[SERIES_MAX_N];
} series;

/* n_ε(d) of one method over the targets of a group (SPEC §5, C5), by the criteria of
 * claims.h: n_ε the log-log interpolated crossing of ε by the median over seeds, censored
 * where the grid does not bracket it; the power law fitted over the measured points only. */
typedef struct {
    int m;                /* targets of the group where the method has finished cells */
    double d[64], ne[64]; /* d, and n_ε (a bound where censored) */
    int censor[64];       /* BFC_NEPS_MEASURED, _ABOVE (> ne), _BELOW (<= ne) */
    bfc_claim_fit fit;    /* log n_ε = c + b log d over the measured points */
} dcurve;

/* The aggregated sweep: one cellres per cell, the series, the median share of each layer. */
typedef struct {
    const bfc_sweep *s;
    const char *out;
    cellres *cr;
    series *sr;
    int nsr;
    double (*share)[BFC_MAX_L + 1]; /* [ti][l]: median over the target's finished cells */
    int total, nok, nfail, nnot;   /* distinct cells by status */
    double cell_wall_sum;          /* of the finished distinct cells */
    char commits[1024];            /* "abc (12 cells), def (3 cells)" */
} sweep_agg;

/* Read every cell under out, write results.csv, summary.csv and neps.csv. */
int sweep_aggregate(sweep_agg *a, const bfc_sweep *s, const char *out);
void sweep_agg_free(sweep_agg *a);

const series *find_series(const sweep_agg *a, int ti, int mi);
/* The first series of target ti whose method has this role, NULL if none. */
const series *role_series(const sweep_agg *a, int ti, const char *role);
/* Median error at n (NaN when no finished seed), and the same on test_error_bulk. */
double series_at(const series *sr, int n);
double series_bulk_at(const series *sr, int n);
/* The largest n with a finished cell, −1 when none. */
int series_nmax(const series *sr);
/* Median wall time of the cells at n (NaN when none). */
double series_wall_at(const series *sr, int n);
void neps_vs_d(const sweep_agg *a, int ti, int mi, double eps, dcurve *dc);
/* Backward depth D of a train method on a target (−1 when it has none). */
int method_depth(const method *m, const target *t);
/* How many targets share t's group (and whether their d differ); 1 for its first target. */
int group_size(const bfc_sweep *s, int ti, int *distinct_d);
int first_in_group(const bfc_sweep *s, int ti);

/* ---- figures (sweep_figures.c) ---- */

typedef struct {
    char script[32], csv[160], png[160], title[256];
} figure;

typedef struct {
    figure *v;
    int n;
} figlist;

/* Write the figures' tables and figures.txt ("SCRIPT CSV PNG TITLE" per line); the list of
 * figures written is returned in f (free with free(f->v)). */
int sweep_figures(const sweep_agg *a, figlist *f);
/* "d=6, L=3, k=4, g=0.2" */
void describe_target(const target *t, char *buf, size_t cap);

/* ---- the report and the sidecar (sweep_report.c, sweep_claims.c, sweep_sidecar.c) ---- */
/* Split one RFC 4180 CSV line into at most max fields (each truncated to 1023 bytes), with
 * '|' escaped for a Markdown table; returns the number of fields. */
int csv_fields(const char *line, char field[][1024], int max);
/* The section "Verdicts" of REPORT.md: the claims the cells cover, judged by claims.h, beside
 * the claim checks of DIR/checks; e2e's error vs n checked for monotonicity. */
void sweep_report_claims(FILE *o, const sweep_agg *a);

int sweep_write_report(const sweep_agg *a, const figlist *f, const bfc_sweep_summary *sum,
                       const bfc_meta *meta);
int sweep_write_sidecar(const sweep_agg *a, const bfc_sweep_summary *sum, const bfc_meta *meta);
/* The "last_run" block of out/sweep.json into sum (so that --report-only keeps it); BFC_OK,
 * or BFC_EFORMAT when there is none. */
int sweep_read_last_run(const char *out, bfc_sweep_summary *sum);

#endif
