/* perf.h: the pieces of bfc_perf, the side-by-side performance benchmark (bench/README.md):
 * one run state, long-format result rows, the stdout table and the peers
 * (Python programs driven line by line over pipes, so that our timings and theirs
 * alternate within one run). */
#ifndef BFC_BENCH_PERF_H
#define BFC_BENCH_PERF_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "json.h"

/* Which parts run (bit mask). */
enum { PERF_DGEMM = 1, PERF_LEARNER = 2, PERF_KRR = 4, PERF_MEMORY = 8 };

#define PERF_MAX_KRR_N 8

typedef struct {
    /* configuration */
    const char *label;     /* "env" (environment as it is) or the OpenBLAS core forced */
    const char *out_dir;   /* results directory (exists) */
    const char *python;    /* interpreter for the peers */
    const char *peers_dir; /* directory of torch_step.py, sklearn_krr.py */
    int peers;             /* 0: --no-peers */
    int parts;             /* PERF_* mask */
    int reps;              /* timed samples per measurement after the warm-up (≥ 5) */
    int krr_reps;
    double sample_s;       /* target seconds per learner sample */
    int dgemm_n;
    int krr_n[PERF_MAX_KRR_N], n_krr;
    int krr_peer_max_n;    /* sklearn is timed only up to this n */
    int krr_test;          /* test points */
    double krr_ridge;      /* fixed ridge (sklearn's alpha) */
    int quick;             /* smoke-test sizes */
    /* state */
    char core[64];         /* OpenBLAS core of this process */
    FILE *csv;             /* long-format rows */
    FILE *md;              /* the table and the goals as Markdown (<config>.md), or NULL */
    FILE *goals_md;        /* goal rows, appended to md at the end (a memory stream) */
    char *goals_buf;
    size_t goals_len;
    FILE *notes_md;        /* notes (peers skipped), appended to md at the end */
    char *notes_buf;
    size_t notes_len;
    bfc_jw *meta;          /* JSON sidecar, object open: parts append keys */
    double dgemm_gflops[3]; /* DGEMM rate at 1 and 2 threads of the dgemm part (0: not run) */
    double t0;             /* wall clock at the start, for progress lines */
    char peer_torch[512];  /* versions and BLAS of the peers, as they reported them */
    char peer_sklearn[512];
    int goals_met, goals_missed;
} perf_run;

/* One long-format row: config, core, threads, part, case, method, metric, value, unit,
 * samples (number of timed samples behind a median, 1 for a single measurement). */
void perf_row(perf_run *r, int threads, const char *part, const char *caseid, const char *method,
              const char *metric, double value, const char *unit, int samples);

/* One line of the stdout table: comparison | ours | peer | ratio | core | threads, also
 * written as a row of the Markdown table (r->md). Any text may be NULL (printed as "-"). */
void perf_table(const perf_run *r, const char *comparison, const char *ours, const char *peer,
                const char *ratio, const char *core, int threads);
void perf_table_header(void);

/* A goal of the issue: prints "goal ... met/NOT met", counts it and keeps it for the Markdown
 * summary. */
void perf_goal(perf_run *r, const char *what, double value, double target, const char *unit);
/* The same for a goal lo <= value <= hi. */
void perf_goal_within(perf_run *r, const char *what, double value, double lo, double hi,
                      const char *unit);

/* A note on stdout ("peer skipped: ..."), also kept for the Markdown summary. */
void perf_note(perf_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Progress line on stderr with elapsed seconds. */
void perf_progress(const perf_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Set OpenBLAS threads (also records nothing else). */
void perf_threads(int n);

/* ---- peers ---------------------------------------------------------------------------
 * A peer is a Python program reading one command per line on stdin and answering one line
 * (JSON) on stdout; its stderr is ours. It starts by answering a "ready" line:
 * {"status": "ok" | "skip" | "fail", "reason": ..., ...}. */
typedef struct {
    pid_t pid;
    FILE *to, *from;
    char *line;  /* last reply (owned) */
    size_t cap;
    int alive;
} perf_peer;

/* Start `python script args...` with OPENBLAS_NUM_THREADS and OMP_NUM_THREADS = threads.
 * For the "env" configuration the environment is the user's one (a core forced by bfc's
 * own re-exec is removed). Returns 0 and the ready line in p->line, or -1 with a reason in
 * why (python missing, script missing, peer crashed). */
int perf_peer_start(perf_peer *p, const perf_run *r, const char *script, const char *const *args,
                    int threads, char *why, size_t whylen);
/* Send one command line, return the reply (valid until the next call) or NULL if the
 * peer died. */
const char *perf_peer_ask(perf_peer *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Send "quit", wait for the process; safe on a peer that never started. */
void perf_peer_stop(perf_peer *p);

/* ---- parts ------------------------------------------------------------------------------ */
void perf_dgemm(perf_run *r);
/* One DGEMM of size dgemm_n at this thread count (OpenBLAS threads are left at it): GFLOP/s. */
double perf_dgemm_sample(const perf_run *r, int threads);
void perf_learner(perf_run *r);
void perf_krr(perf_run *r);
void perf_memory(perf_run *r);

/* Malloc calls counted by the interposer of perf_alloc.c (all threads). */
unsigned long perf_alloc_calls(void);
/* 1: record the calling site of every heap call from now on (0: stop). */
void perf_alloc_trace(int on);
/* The sites recorded, "object:symbol xCOUNT (B B each); ..." into buf ("" if none);
 * returns the calls made from objects (shared libraries) whose name starts with prefix. */
unsigned long perf_alloc_sites(char *buf, size_t cap, const char *prefix);

#endif
