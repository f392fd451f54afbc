/* cli.h: pieces shared by the bfc subcommands: GNU long-option parsing with validated
 * numbers, the target and data flags every command takes (so every method runs on the same
 * data), signal handling, and result files (CSV + JSON with the run's metadata). */
#ifndef BFC_CLI_H
#define BFC_CLI_H

#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "fsutil.h"
#include "json.h"
#include "target.h"

/* ---- option parsing ---- */

/* How an option's value is stored. Most options are plain numbers, strings or flags: their
 * table entry says where the value goes (a field of the command's argument struct, by
 * offset) and its range, and the parser converts, checks and stores it; the rest
 * (BFC_OPT_CALLBACK, the zero default) are handed to the command's callback. */
typedef enum {
    BFC_OPT_CALLBACK = 0,
    BFC_OPT_FLAG,   /* no value: the int field is set to 1 */
    BFC_OPT_INT,    /* int field in [lo, hi] */
    BFC_OPT_LONG,   /* long field in [lo, hi] */
    BFC_OPT_U64,    /* uint64_t field */
    BFC_OPT_DOUBLE, /* double field in [lo, hi] */
    BFC_OPT_STR     /* char[hi] field (hi: its size) */
} bfc_opt_type;

typedef struct {
    const char *name; /* long name without "--" */
    int has_arg;      /* 1: takes a value ("--name V" or "--name=V") */
    const char *arg;  /* value placeholder for --help, e.g. "N" */
    const char *help; /* one line */
    bfc_opt_type type;
    size_t offset;    /* of the field in the struct the parser fills */
    double lo, hi;    /* range (numbers) or size (BFC_OPT_STR) */
    size_t given;     /* 1 + offset of an int field set to 1 when the option is given; 0: none */
} bfc_opt;

/* The typed part of a table entry: {"steps", 1, "T", "help", BFC_OPT_I(args, tc.steps, 1,
 * 1e8)}. T is the struct the parser fills; its bfc_problem, if any, comes first (the
 * problem's options are stored by their offsets in bfc_problem). */
#define BFC_OPT_I(T, field, lo_, hi_) \
    .type = BFC_OPT_INT, .offset = offsetof(T, field), .lo = (lo_), .hi = (hi_)
#define BFC_OPT_L(T, field, lo_, hi_) \
    .type = BFC_OPT_LONG, .offset = offsetof(T, field), .lo = (lo_), .hi = (hi_)
#define BFC_OPT_D(T, field, lo_, hi_) \
    .type = BFC_OPT_DOUBLE, .offset = offsetof(T, field), .lo = (lo_), .hi = (hi_)
#define BFC_OPT_U(T, field) .type = BFC_OPT_U64, .offset = offsetof(T, field)
#define BFC_OPT_S(T, field) \
    .type = BFC_OPT_STR, .offset = offsetof(T, field), .hi = sizeof(((T *)0)->field)
#define BFC_OPT_F(T, field) .type = BFC_OPT_FLAG, .offset = offsetof(T, field)
/* an option for the command's callback, and the end of a table */
#define BFC_OPT_CB .type = BFC_OPT_CALLBACK
#define BFC_OPT_END {.name = NULL}
/* add to an entry: the int field set to 1 when the option is given */
#define BFC_OPT_GIVEN(T, field) .given = offsetof(T, field) + 1

/* Called for each BFC_OPT_CALLBACK option recognised from the table; return BFC_OK or an
 * error code (with a message recorded by bfc_fail). */
typedef int (*bfc_opt_fn)(void *ctx, const char *name, const char *val);

/* Parse argv[first..argc) against the option tables (NULL-name terminated): typed options
 * are stored in ctx, the others passed to fn(ctx, ...). A value is "--name V" or
 * "--name=V"; a V that is empty or, after a space, starts with "--" is refused as missing.
 * Positional arguments are not allowed unless npos is non-NULL (then collected in pos, up
 * to *npos). "--help"/"-h" sets *help. Returns BFC_OK or BFC_EINVAL with a message. */
int bfc_opt_parse(int argc, char **argv, int first, const bfc_opt *const *tables, bfc_opt_fn fn,
                  void *ctx, int *help, const char **pos, int *npos);
/* Store val for the typed option o in the struct at dst (BFC_EINVAL naming the flag and the
 * range when val does not convert or is out of range). */
int bfc_opt_store(const bfc_opt *o, void *dst, const char *val);
/* Print the options of the tables, aligned, to f. */
void bfc_opt_print(FILE *f, const bfc_opt *const *tables);

/* Validated conversions; messages name the flag and the allowed range. */
int bfc_parse_int(const char *flag, const char *s, long lo, long hi, int *out);
int bfc_parse_long(const char *flag, const char *s, long lo, long hi, long *out);
int bfc_parse_u64(const char *flag, const char *s, uint64_t *out);
int bfc_parse_double(const char *flag, const char *s, double lo, double hi, double *out);
/* Comma-separated list of n_max doubles / ints; *n receives the count. */
int bfc_parse_double_list(const char *flag, const char *s, double lo, double hi, double *out,
                          int n_max, int *n);
int bfc_parse_int_list(const char *flag, const char *s, long lo, long hi, int *out, int n_max,
                       int *n);

/* ---- the problem: target and data ---- */

typedef struct {
    bfc_target_config target;
    int k_list[BFC_MAX_L + 1], n_k; /* --k as given (one value, or one per layer) */
    double alpha_list[BFC_MAX_L + 1];
    int n_alpha;
    uint64_t seed;          /* --seed: data, initialisation, minibatches */
    int target_seed_set;    /* --target-seed given */
    uint64_t target_seed;   /* default: --seed */
    int n, n_test;          /* training and test set sizes */
    char data_dir[4096];    /* --data: load target and data sets written by bfc gen */
    char out_dir[4096];     /* --out */
    int json;               /* --json: one JSON object on stdout at the end */
    int quiet;              /* --quiet: no progress */
    int threads;            /* --threads: BLAS threads (0: the command's default) */
    int force;              /* --force: replace an earlier run's results in --out */
    int d_set, L_set;       /* --d / --L given explicitly (checked against --data) */
    int n_set;              /* --n given explicitly (with --data: use the first n points) */
} bfc_problem;

extern const bfc_opt bfc_problem_opts[];
void bfc_problem_defaults(bfc_problem *p);
/* Handle one of bfc_problem_opts; returns 1 if consumed, 0 if not one of them, or −code. */
int bfc_problem_option(bfc_problem *p, const char *name, const char *val);
/* Resolve --k/--alpha lists against --L and validate (messages name the flags). */
int bfc_problem_finish(bfc_problem *p);
/* Generate (or with --data, load) the target and the training and test sets. With --data the
 * loaded target must agree with any explicitly given --d. */
int bfc_problem_load(const bfc_problem *p, bfc_target **t, bfc_data *train, bfc_data *test);

/* ---- output directories ---- */

/* Take the output directory of a run of `bfc <cmd>` (train, fit): create it, lock it for
 * this process (bfc_dir_lock: refused while another run holds it, naming that run), and
 * make sure that nothing of another run is mixed with this one's. Results of an earlier run
 * (result.json, result.csv, checkpoint.bin) are refused unless force, which removes them
 * (and curve.csv) before the run starts, so that a run killed later never leaves an older
 * run's complete-looking result beside its own checkpoint. A curve.csv alone (a run killed
 * before its first checkpoint) is removed. With resume the checkpoint and curve are this
 * run's own and stay; the results it was interrupted with are removed (the resumed run
 * rewrites them when it ends). Temporaries of killed writers are removed. *lock_fd receives
 * the lock (release with bfc_dir_unlock). BFC_EINVAL (a usage error) with a message naming
 * the files found and --force or --resume; BFC_EIO if the directory cannot be used. */
int bfc_out_dir_take(const char *dir, const char *cmd, int force, int resume, int *lock_fd);
/* bfc_check_writable_dir for --out: a directory that cannot be created or written is a
 * usage error (BFC_EINVAL: choose another --out). */
int bfc_out_dir_check(const char *dir);

/* The names in dir for which match(name) holds, listed as "a, b, c" (at most cap bytes,
 * "..." when cut); returns their number (0 when dir does not exist). */
int bfc_dir_list(const char *dir, int (*match)(const char *name), char *list, size_t cap);
/* Remove the files in dir for which match(name) holds; BFC_EIO naming the first that
 * cannot be removed. */
int bfc_dir_remove(const char *dir, int (*match)(const char *name));
/* A temporary file of bfc_afile ("name.tmp.<pid>"), left behind by a killed writer. */
int bfc_is_temporary(const char *name);

/* The exit status of a command for a status code: 0 ok, 2 usage errors (BFC_EINVAL) and
 * runs refused for memory (BFC_ENOMEM), 3 training diverged (BFC_EDIVERGED; the results
 * are written, marked "diverged"), 130 interrupted, 1 other failures. */
int bfc_exit_status(int st);

/* ---- results ---- */

/* The long-format result CSV every command writes: header "method,d,L,n,seed,metric,value"
 * and one row per metric, written atomically (nothing appears until commit). */
typedef struct {
    bfc_afile *af;
    FILE *f;
    const char *method;
    int d, L, n;
    uint64_t seed;
} bfc_result_csv;

/* BFC_OK or BFC_EIO (message names the path). */
int bfc_result_csv_open(bfc_result_csv *w, const char *path, const char *method,
                        const bfc_target_config *c, int n, uint64_t seed);
void bfc_result_csv_row(bfc_result_csv *w, const char *metric, double value);
/* The run's status as a row of its own: metric "status", value the status word of
 * bfc_status_name ("ok", "diverged", "interrupted", ...); every result.csv has one. */
void bfc_result_csv_status(bfc_result_csv *w, const char *status);
int bfc_result_csv_commit(bfc_result_csv *w);

/* ---- signals ---- */

/* Install SIGINT/SIGTERM handlers that count the signals received in the returned counter;
 * a signal after fatal_after counted ones takes its default action (ends the process). */
volatile sig_atomic_t *bfc_install_signal_counter(int fatal_after);
/* bfc_install_signal_counter(1): the first signal sets the flag, a second one exits. */
volatile sig_atomic_t *bfc_install_stop_handler(void);

/* Progress/status message on stderr unless quiet: "bfc <cmd>: ...". */
void bfc_note(int quiet, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
