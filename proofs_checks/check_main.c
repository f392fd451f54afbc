/* check_main.c: bfc_check, the driver of the claim checks of SPEC §5 (ours).
 *
 *   bfc_check ID|all [--size fast|full] [--seeds N] [--out DIR] [--threads N] [--list]
 *
 * ID selects a claim: "C9" runs every check whose id is C9 or C9 plus a letter (C9a, ...).
 * Each check prints its claim, per-seed values with median and range, its criterion and a
 * verdict per case; the driver ends with the line "N passed, N failed" and exits 1 if any
 * case failed (2 on bad usage). With --out DIR it writes DIR/checks.csv (claim, seed,
 * metric, value), DIR/verdicts.csv (claim, verdict, summary) and DIR/checks.json (size,
 * seeds, commit, compiler, BLAS, wall time per check).
 * Progress on stderr: every check's start and end with the ETA of the selection (the checks'
 * usual costs, bfc_check.cost_s, scaled by how the checks done so far compared with theirs),
 * every training run and baseline fit as it ends (runs.c), and from a heartbeat thread, a
 * line naming what runs whenever nothing was printed for BFC_CHECK_HEARTBEAT_S seconds. */
#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "bfc.h"
#include "blas.h"
#include "check.h"
#include "fsutil.h"
#include "json.h"

#ifndef BFC_COMPILER
#define BFC_COMPILER "unknown"
#endif

#define MAX_RUN 128 /* checks run in one invocation */

struct bfc_check_ctx {
    int size, nseeds;
    const bfc_check *cur;
    FILE *csv, *verdicts; /* NULL without --out */
    int n_pass, n_fail, n_reported, n_skip;
    int cur_fail;         /* the running check recorded a FAIL */
};

int bfc_check_size_of(const bfc_check_ctx *ctx) { return ctx->size; }
int bfc_check_nseeds(const bfc_check_ctx *ctx) { return ctx->nseeds; }
uint64_t bfc_check_seed(const bfc_check_ctx *ctx, int i)
{
    BFC_ASSERT(i >= 0 && i < ctx->nseeds);
    return (uint64_t)i;
}
const char *bfc_check_id(const bfc_check_ctx *ctx) { return ctx->cur ? ctx->cur->id : "?"; }

/* ---- progress ---- */
/* The selection's timing, shared by the driver and the heartbeat thread (under lock). */
static struct {
    pthread_mutex_t lock;
    const bfc_check *const *run; /* the selection */
    double *wall;                /* wall seconds of the checks done */
    int n_run, cur;              /* cur: index of the check running, −1 before the first */
    int size;                    /* cost_s index */
    double t0, t_cur, t_last;    /* start, start of the current check, last progress line */
    char busy[256];              /* what the current check is doing ("" if not said) */
    int stop;                    /* 1: the heartbeat thread ends */
} prog = {.lock = PTHREAD_MUTEX_INITIALIZER, .cur = -1};

/* Seconds left (lock held): the usual costs of the checks not yet finished, scaled by the
 * ratio of measured to usual time over the checks done (1 before any, clamped to
 * [1/4, 4] so that one odd check cannot swing it far); the running check counts for what
 * remains of its scaled cost, and *overrun (if not NULL) is set when it has run past it (the
 * ETA is then a lower bound). */
static double eta_locked(double now, int *overrun)
{
    double done_usual = 0, done_took = 0;
    for (int r = 0; r < prog.cur; r++) done_usual += prog.run[r]->cost_s[prog.size],
                                       done_took += prog.wall[r];
    double f = done_usual > 1.0 && done_took > 0 ? done_took / done_usual : 1.0;
    f = fmin(4.0, fmax(0.25, f));
    double left = 0;
    for (int r = prog.cur + 1; r < prog.n_run; r++) left += f * prog.run[r]->cost_s[prog.size];
    double cur_left = 0.0;
    if (prog.cur >= 0 && prog.cur < prog.n_run)
        cur_left = f * prog.run[prog.cur]->cost_s[prog.size] - (now - prog.t_cur);
    if (overrun) *overrun = cur_left < 0;
    return left + fmax(0.0, cur_left);
}

/* The id of the check running, or NULL between checks (lock held). */
static const char *running_locked(void)
{
    return prog.cur >= 0 && prog.cur < prog.n_run ? prog.run[prog.cur]->id : NULL;
}

/* "[elapsed tag] " + text on stderr (lock held); tag NULL: the check running. */
static void vprogress_locked(const char *tag, const char *fmt, va_list ap)
{
    const double now = bfc_wall_seconds();
    char el[32];
    if (!tag) tag = running_locked();
    bfc_format_duration(now - prog.t0, el, sizeof el);
    fprintf(stderr, "[%s %s] ", el, tag ? tag : "bfc_check");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    fflush(stderr);
    prog.t_last = now;
}

static void progress_locked(const char *tag, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void progress_locked(const char *tag, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprogress_locked(tag, fmt, ap);
    va_end(ap);
}

void bfc_check_progress(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&prog.lock);
    vprogress_locked(NULL, fmt, ap);
    pthread_mutex_unlock(&prog.lock);
    va_end(ap);
}

void bfc_check_busy(const char *fmt, ...)
{
    pthread_mutex_lock(&prog.lock);
    prog.busy[0] = '\0';
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(prog.busy, sizeof prog.busy, fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&prog.lock);
}

/* The heartbeat: once a second, if nothing was printed for BFC_CHECK_HEARTBEAT_S, one line
 * with what runs, for how long, and the ETA. It only reads the clock and prints. */
static void *heartbeat(void *arg)
{
    (void)arg;
    for (;;) {
        sleep(1);
        pthread_mutex_lock(&prog.lock);
        if (prog.stop) {
            pthread_mutex_unlock(&prog.lock);
            return NULL;
        }
        const double now = bfc_wall_seconds();
        const char *id = running_locked();
        if (id && now - prog.t_last >= BFC_CHECK_HEARTBEAT_S) {
            char in[32], eta[32];
            int over;
            bfc_format_duration(now - prog.t_cur, in, sizeof in);
            bfc_format_duration(eta_locked(now, &over), eta, sizeof eta);
            progress_locked(NULL, "still %s (%s into the check%s); ETA %s%s",
                            prog.busy[0] ? prog.busy : "running", in,
                            over ? ", longer than it usually takes" : "", over ? "over " : "",
                            eta);
        }
        pthread_mutex_unlock(&prog.lock);
    }
}

/* ---- output ---- */
static void csv_row(bfc_check_ctx *ctx, const char *cas, const char *seed, const char *metric,
                    double v)
{
    if (!ctx->csv) return;
    bfc_csv_field(ctx->csv, cas);
    fputc(',', ctx->csv);
    fputs(seed, ctx->csv);
    fputc(',', ctx->csv);
    bfc_csv_field(ctx->csv, metric);
    fprintf(ctx->csv, ",%.17g\n", v);
}

void bfc_check_say(bfc_check_ctx *ctx, const char *fmt, ...)
{
    (void)ctx;
    va_list ap;
    va_start(ap, fmt);
    fputs("    ", stdout);
    vprintf(fmt, ap);
    fputc('\n', stdout);
    va_end(ap);
    fflush(stdout);
}

void bfc_check_series(bfc_check_ctx *ctx, const char *cas, const char *metric, const char *label,
                      const double *v, int n)
{
    printf("    %-30s", label);
    for (int i = 0; i < n; i++) {
        char seed[32];
        printf(" %10.3e", v[i]);
        snprintf(seed, sizeof seed, "%llu", (unsigned long long)bfc_check_seed(ctx, i));
        csv_row(ctx, cas, seed, metric, v[i]);
    }
    printf("   median %.3e  range [%.3e, %.3e]\n", bfc_claim_median(v, n),
           bfc_claim_min(v, n), bfc_claim_max(v, n));
    fflush(stdout);
}

void bfc_check_value(bfc_check_ctx *ctx, const char *cas, const char *metric, const char *label,
                     double v)
{
    printf("    %-30s %.4g\n", label, v);
    csv_row(ctx, cas, "-", metric, v);
    fflush(stdout);
}

void bfc_check_verdict(bfc_check_ctx *ctx, const char *cas, bfc_verdict verdict, const char *fmt,
                       ...)
{
    char summary[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(summary, sizeof summary, fmt, ap);
    va_end(ap);
    switch (verdict) {
    case BFC_VERDICT_PASS: ctx->n_pass++; break;
    case BFC_VERDICT_REPORTED: ctx->n_reported++; break;
    case BFC_VERDICT_SKIP: ctx->n_skip++; break;
    default: /* FAIL, PARTIAL, UNDETERMINED, N/A: the claim was not shown */
        ctx->n_fail++;
        ctx->cur_fail = 1;
        break;
    }
    printf("  %-8s %-8s %s\n", cas, bfc_verdict_name(verdict), summary);
    fflush(stdout);
    if (ctx->verdicts) {
        bfc_csv_field(ctx->verdicts, cas);
        fprintf(ctx->verdicts, ",%s,", bfc_verdict_name(verdict));
        bfc_csv_field(ctx->verdicts, summary);
        fputc('\n', ctx->verdicts);
    }
}

/* ---- selection ---- */
/* "C9" selects C9, C9a, C9b, ... but not C90; "C9a" selects C9a only; "all" everything. */
static int selects(const char *want, const char *id)
{
    if (!strcasecmp(want, "all") || !strcasecmp(want, id)) return 1;
    size_t n = strlen(want);
    return n > 0 && !strncasecmp(want, id, n) && isdigit((unsigned char)want[n - 1]) &&
           isalpha((unsigned char)id[n]);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bfc_check ID[,ID...]|all [--size fast|full] [--seeds N] [--out DIR]\n"
            "                 [--threads N]\n"
            "       bfc_check --list\n"
            "  ID        a claim (C1, C9, ...) or one check (C9a); several separated by commas\n"
            "            run in the order of --list; 'all' runs every check\n"
            "  --size    fast (default; the ctest size) or full (the benchmark size)\n"
            "  --seeds   number of seeds, at least 3 (default: fast 3, full 5)\n"
            "  --out     write checks.csv, verdicts.csv and checks.json in DIR\n"
            "  --threads BLAS threads (default 1)\n");
}

static void list_checks(void)
{
    for (int f = 0; bfc_check_registry[f]; f++)
        for (const bfc_check *c = bfc_check_registry[f]; c->id; c++)
            printf("%-5s %s\n", c->id, c->claim);
}

static FILE *open_out(const char *dir, const char *name, char *path, size_t cap)
{
    if (bfc_path_join(path, cap, dir, name)) return NULL;
    FILE *f = fopen(path, "w");
    if (!f) bfc_fail(BFC_EIO, "cannot write %s", path);
    return f;
}

int main(int argc, char **argv)
{
    const char *want = NULL, *out_dir = NULL;
    bfc_check_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.size = BFC_CHECK_FAST;
    int seeds = 0, threads = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--list")) {
            list_checks();
            return 0;
        } else if (!strcmp(a, "--size") && val) {
            if (!strcmp(val, "fast")) ctx.size = BFC_CHECK_FAST;
            else if (!strcmp(val, "full")) ctx.size = BFC_CHECK_FULL;
            else {
                fprintf(stderr, "bfc_check: --size must be fast or full (got '%s')\n", val);
                return 2;
            }
            i++;
        } else if (!strcmp(a, "--seeds") && val) {
            char *end;
            long v = strtol(val, &end, 10);
            if (end == val || *end || v < 3 || v > BFC_CHECK_MAX_SEEDS) {
                fprintf(stderr, "bfc_check: --seeds must be an integer in 3..%d (got '%s'); a "
                                "verdict needs at least 3 seeds\n", BFC_CHECK_MAX_SEEDS, val);
                return 2;
            }
            seeds = (int)v;
            i++;
        } else if (!strcmp(a, "--threads") && val) {
            char *end;
            long v = strtol(val, &end, 10);
            if (end == val || *end || v < 1 || v > 1024) {
                fprintf(stderr, "bfc_check: --threads must be an integer in 1..1024 (got '%s')\n", val);
                return 2;
            }
            threads = (int)v;
            i++;
        } else if (!strcmp(a, "--out") && val) {
            out_dir = val;
            i++;
        } else if (a[0] != '-' && !want) {
            want = a;
        } else {
            fprintf(stderr, "bfc_check: unexpected argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!want) {
        usage(stderr);
        return 2;
    }
    ctx.nseeds = seeds ? seeds : (ctx.size == BFC_CHECK_FULL ? 5 : 3);
    openblas_set_num_threads(threads);

    /* the selection: IDs separated by commas, each of which must match some check; the
     * checks run in registry order, each once */
    char toks[16][64];
    int n_tok = 0;
    for (const char *tok = want;;) {
        size_t len = strcspn(tok, ",");
        if (len == 0 || len >= sizeof toks[0] || n_tok == 16) {
            fprintf(stderr, "bfc_check: bad selection '%s': up to 16 IDs separated by single "
                            "commas, e.g. C1,C9a\n", want);
            return 2;
        }
        memcpy(toks[n_tok], tok, len);
        toks[n_tok++][len] = '\0';
        if (!tok[len]) break;
        tok += len + 1;
    }
    const bfc_check *run[MAX_RUN];
    int n_run = 0, matched[16] = {0};
    for (int f = 0; bfc_check_registry[f]; f++)
        for (const bfc_check *c = bfc_check_registry[f]; c->id; c++) {
            int sel = 0;
            for (int t = 0; t < n_tok; t++)
                if (selects(toks[t], c->id)) sel = matched[t] = 1;
            if (sel && n_run < MAX_RUN) run[n_run++] = c;
        }
    for (int t = 0; t < n_tok; t++)
        if (!matched[t]) {
            fprintf(stderr, "bfc_check: no check matches '%s'; bfc_check --list shows them\n",
                    toks[t]);
            return 2;
        }

    char csv_path[4096], ver_path[4096], json_path[4096];
    if (out_dir) {
        if (bfc_check_writable_dir(out_dir) ||
            !(ctx.csv = open_out(out_dir, "checks.csv", csv_path, sizeof csv_path)) ||
            !(ctx.verdicts = open_out(out_dir, "verdicts.csv", ver_path, sizeof ver_path)) ||
            bfc_path_join(json_path, sizeof json_path, out_dir, "checks.json")) {
            fprintf(stderr, "bfc_check: %s\n", bfc_last_error());
            if (ctx.csv) fclose(ctx.csv);
            return 1;
        }
        fputs("claim,seed,metric,value\n", ctx.csv);
        fputs("claim,verdict,summary\n", ctx.verdicts);
    }

    const char *size_name = ctx.size == BFC_CHECK_FULL ? "full" : "fast";
    printf("bfc_check %s: size %s, %d seeds (0..%d), %d BLAS thread%s\n", want, size_name,
           ctx.nseeds, ctx.nseeds - 1, threads, threads == 1 ? "" : "s");
    double wall[MAX_RUN];
    const double t_all = bfc_wall_seconds();
    prog.run = run;
    prog.wall = wall;
    prog.n_run = n_run;
    prog.size = ctx.size;
    prog.t0 = prog.t_last = t_all;
    pthread_t beat;
    const int beating = pthread_create(&beat, NULL, heartbeat, NULL) == 0;
    for (int r = 0; r < n_run; r++) {
        ctx.cur = run[r];
        ctx.cur_fail = 0;
        printf("\n%s  %s\n", run[r]->id, run[r]->claim);
        fflush(stdout);
        double t0 = bfc_wall_seconds();
        char eta[32];
        pthread_mutex_lock(&prog.lock);
        prog.cur = r;
        prog.t_cur = t0;
        prog.busy[0] = '\0';
        bfc_format_duration(eta_locked(t0, NULL), eta, sizeof eta);
        progress_locked(NULL, "started (check %d of %d); ETA %s", r + 1, n_run, eta);
        pthread_mutex_unlock(&prog.lock);
        int st = run[r]->run(&ctx);
        const double t1 = bfc_wall_seconds();
        wall[r] = t1 - t0;
        if (st) bfc_check_verdict(&ctx, run[r]->id, BFC_VERDICT_FAIL, "could not run: %s (%s)",
                                  bfc_last_error(), bfc_status_name(st));
        printf("    (%s took %.1f s)\n", run[r]->id, wall[r]);
        pthread_mutex_lock(&prog.lock);
        prog.busy[0] = '\0';
        prog.cur = r + 1; /* between checks: this one counts as done */
        prog.t_cur = t1;
        bfc_format_duration(r + 1 < n_run ? eta_locked(t1, NULL) : t1 - t_all, eta, sizeof eta);
        if (r + 1 < n_run)
            progress_locked(run[r]->id, "done in %.1f s; %d check%s left, ETA %s", wall[r],
                            n_run - r - 1, n_run - r - 1 == 1 ? "" : "s", eta);
        else
            progress_locked(run[r]->id, "done in %.1f s; all %d done in %s", wall[r], n_run, eta);
        pthread_mutex_unlock(&prog.lock);
    }
    pthread_mutex_lock(&prog.lock);
    prog.stop = 1;
    prog.cur = -1;
    pthread_mutex_unlock(&prog.lock);
    if (beating) pthread_join(beat, NULL);
    const double t_total = bfc_wall_seconds() - t_all;

    int io_fail = 0;
    if (out_dir) {
        io_fail |= fclose(ctx.csv) != 0;
        io_fail |= fclose(ctx.verdicts) != 0;
        bfc_jw j;
        bfc_jw_init(&j);
        j.pretty = 1;
        bfc_jw_obj_begin(&j);
        bfc_jw_kv_str(&j, "selection", want);
        bfc_jw_kv_str(&j, "size", size_name);
        bfc_jw_kv_int(&j, "seeds", ctx.nseeds);
        bfc_jw_kv_int(&j, "blas_threads", threads);
        bfc_jw_kv_str(&j, "blas", openblas_get_config());
        bfc_jw_kv_str(&j, "commit", bfc_git_commit());
        bfc_jw_kv_str(&j, "compiler", BFC_COMPILER);
        bfc_jw_kv_int(&j, "passed", ctx.n_pass);
        bfc_jw_kv_int(&j, "failed", ctx.n_fail);
        bfc_jw_kv_int(&j, "reported", ctx.n_reported);
        bfc_jw_kv_int(&j, "skipped", ctx.n_skip);
        bfc_jw_kv_num(&j, "wall_s", t_total);
        bfc_jw_key(&j, "wall_s_per_check");
        bfc_jw_obj_begin(&j);
        for (int r = 0; r < n_run; r++) bfc_jw_kv_num(&j, run[r]->id, wall[r]);
        bfc_jw_obj_end(&j);
        bfc_jw_obj_end(&j);
        if (bfc_jw_write_file(&j, json_path)) io_fail = 1;
        bfc_jw_free(&j);
        if (io_fail) fprintf(stderr, "bfc_check: writing the results in %s failed\n", out_dir);
    }

    printf("\n");
    if (ctx.n_reported || ctx.n_skip)
        printf("(%d reported, %d skipped: counted as neither passed nor failed)\n",
               ctx.n_reported, ctx.n_skip);
    printf("%d passed, %d failed\n", ctx.n_pass, ctx.n_fail);
    return ctx.n_fail || io_fail ? 1 : 0;
}
