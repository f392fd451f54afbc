/* sweep.h: the sweep engine behind `bfc sweep` (one file per stage: sweep_internal.h): a
 * configuration (targets × methods × n × seeds, bench/configs/README.md), its cells as child
 * processes of the bfc executable with results cached under a key of their command line,
 * and the aggregation of the results into long-format CSV, sample and time complexity
 * n_ε / t_ε (SPEC §4), figure tables and REPORT.md with the verdicts of the claims a sweep
 * covers (C3, C4, C6 of SPEC §5).
 *
 *   bfc_sweep *s = bfc_sweep_load("bench/configs/default.json", &st);   NULL + message
 *   bfc_sweep_quick(s);  bfc_sweep_override(s, "seeds", "0,1");         optional
 *   bfc_sweep_expand(s);                                                the cells
 *   bfc_sweep_run(s, &opts, &summary);                                  runs what is missing
 *   bfc_sweep_write_results(s, out_dir, &summary);                      CSV, JSON, report
 *   bfc_sweep_free(s);
 *
 * A cell is one run: `bfc COMMAND FLAGS... --n N --seed S`, flags sorted by name. Its key
 * is a 64-bit hash of that canonical command line (bfc_sweep_key), its directory
 * OUT/cells/<key>/ holds the run's own files plus cmd.txt, stderr.log and status.json; a
 * cell is finished when status.json says "ok". Changing anything in a cell's command line
 * gives a new key; a code change does not (use a new output directory). */
#ifndef BFC_SWEEP_H
#define BFC_SWEEP_H

#include <signal.h>
#include <stdio.h>

#include "target.h"

#include "json.h"

typedef struct bfc_sweep bfc_sweep; /* opaque: a validated configuration and its cells */

/* One cell, owned by its sweep (valid until bfc_sweep_free or the next expand). */
typedef struct {
    const char *method;  /* method name of the configuration */
    const char *target;  /* target name */
    int n;               /* training set size */
    long long seed;      /* --seed */
    int argc;            /* argv[0] is the bfc subcommand, then the flags */
    char **argv;         /* NULL-terminated; without --out, --json, --quiet */
    char key[17];        /* 16 lower-case hex digits */
    const char *cmdline; /* "bfc " + argv joined by spaces, shell-quoted where needed */
} bfc_sweep_cell;

/* Parse and validate a configuration. what names it in messages (the path, usually).
 * NULL on failure with *status set and a message naming the key (and line:column for a
 * syntax error), e.g. "cfg.json: targets[1].gap: expected a number, got a string". */
bfc_sweep *bfc_sweep_parse(const char *text, const char *what, int *status);
/* Read and parse a file; the configuration's name defaults to the file's base name. */
bfc_sweep *bfc_sweep_load(const char *path, int *status);
void bfc_sweep_free(bfc_sweep *s);

/* Apply the configuration's "quick" block (BFC_EINVAL if it has none). Call before expand. */
int bfc_sweep_quick(bfc_sweep *s);
/* Override a field from the command line (before expand); BFC_EINVAL with a message:
 *   "n" "250,500"       the n grid of every target      "seeds" "0,1"
 *   "targets" "L3,L4"   run only these targets          "methods" "e2e,krr-poly4"
 *   "eps" "0.1,0.01"    the ε of n_ε                    "timeout" "600" (s per cell, 0 none)
 *   "arg" "train:steps=1000"   a flag for every cell of a command ("train:no-cosine" for a
 *                       flag without value, "train:clip=" to remove one) */
int bfc_sweep_override(bfc_sweep *s, const char *field, const char *value);
/* Build the cells (targets in order × their methods × n × seeds). BFC_EINVAL when there are
 * none or a name given to "targets"/"methods" is unknown. */
int bfc_sweep_expand(bfc_sweep *s);

const char *bfc_sweep_name(const bfc_sweep *s);
int bfc_sweep_ncells(const bfc_sweep *s);
const bfc_sweep_cell *bfc_sweep_cell_at(const bfc_sweep *s, int i);

/* key (17 bytes with the NUL) of a command line argv[0..argc): FNV-1a 64 of the canonical
 * text "bfc-sweep-cell/1" followed by each argument preceded by a 0x1f byte, then murmur3's
 * 64-bit finaliser, in hex. Flags must already be in canonical order (as in a cell). */
void bfc_sweep_key(char *const *argv, int argc, char key[17]);

typedef struct {
    const char *exe;  /* the bfc executable, e.g. "/proc/self/exe" */
    const char *out;  /* output directory */
    int jobs;         /* cells in parallel (≥ 1) */
    int quiet;        /* 1: no progress on stderr */
    double timeout_s; /* < 0: the configuration's (default); 0: none; > 0 seconds per cell */
    volatile sig_atomic_t *signals; /* count of SIGINT/SIGTERM received (may be NULL): the
                                       first stops launching cells (those in flight finish),
                                       the second kills the cells in flight; counted by
                                       bfc_install_signal_counter(2) (cli.h), which lets a
                                       third end the process */
} bfc_sweep_run_opts;

typedef struct {
    int total;                   /* cells of the plan (distinct command lines) */
    int cached;                  /* finished before this run */
    int ok;                      /* finished now (cached included) */
    int failed;                  /* ran and failed (error recorded in the cell's status.json) */
    int not_run;                 /* not launched (interrupted) */
    double wall_s;               /* of this run */
    int interrupted;             /* 1: stopped by a signal */
    double load_start, load_end; /* 1-minute load average of the machine (NaN if unknown) */
    int ncpu;                    /* online CPUs */
} bfc_sweep_summary;

/* Run every cell that is not finished in o->out/cells. Each runs as
 *   exe COMMAND FLAGS... --json --quiet --force --out o->out/cells/KEY
 * in its own process group, with OPENBLAS_NUM_THREADS=1, stdout in stdout.json and stderr in
 * stderr.log; at most o->jobs at once. A failed cell (exit status, signal, time-out) records
 * the error and the last lines of its stderr in status.json and the sweep goes on.
 * Progress lines on stderr: cells done / total, failures, elapsed time, ETA.
 * Returns BFC_OK (failed cells included: see sum), BFC_EINTR when stopped by a signal,
 * BFC_EIO if the output directory cannot be written. sum may be NULL. Every function of the
 * sweep returns BFC_ENOMEM (with a message) when an allocation fails. */
int bfc_sweep_run(bfc_sweep *s, const bfc_sweep_run_opts *o, bfc_sweep_summary *sum);

/* Aggregate the finished cells under out (atomic writes, each file complete or absent):
 *   results.csv     method,target,n,seed,metric,value (long format: every row of every
 *                   cell's result.csv, plus cell_wall_s, the cell's process wall time)
 *   sweep.json      resolved configuration, cells and failures, run metadata (bfc_meta_write)
 *   summary.csv     method,target,n,seeds,median,min,max,wall_median (test error)
 *   neps.csv        method,target,eps,n_eps,t_eps,reached,n_max
 *   fig_*.csv       the tables of the figures, and figures.txt: one line per figure,
 *                   "SCRIPT CSV PNG TITLE", for scripts/bench.sh to draw with plots/SCRIPT.gp
 *   REPORT.md       targets and shares, tables, n_ε and t_ε, figures (the PNGs present),
 *                   verdicts of C3, C4, C6, OUT/checks/verdicts.csv if present, failures
 * sum (may be NULL) adds the run's counts and wall time to sweep.json and the report. */
int bfc_sweep_write_results(const bfc_sweep *s, const char *out, const bfc_sweep_summary *sum);

/* What the aggregation takes from a cell's result.csv. */
typedef struct {
    double test_error;              /* relative test error (required) */
    double test_error_bulk;         /* on the central 99.9% of G* (NaN when absent) */
    double share[BFC_MAX_L + 1];    /* share_l of the target, l = 2..L (NaN when absent) */
    int rows;                       /* data rows */
} bfc_sweep_result;

/* Read the text of a cell's result.csv strictly: the header "method,d,L,n,seed,metric,value",
 * rows of seven fields each ending in a newline, a status row that says "ok", every other
 * value a finite number, and a test_error row. BFC_OK with *r filled and, when rows is not
 * NULL, every data row written to it as "PREFIX,metric,value"; otherwise BFC_EFORMAT with the
 * line and what is wrong in reason (nothing written to rows). */
int bfc_sweep_read_result(const char *text, bfc_sweep_result *r, const char *prefix, FILE *rows,
                          char *reason, size_t cap);

/* n_ε of one series (SPEC §4): the smallest n[i] (n ascending, i < m) whose median error
 * med[i] ≤ eps; −1 when none. NaN medians (no finished seed) are skipped. */
int bfc_sweep_n_eps(const int *n, const double *med, int m, double eps);

#endif
