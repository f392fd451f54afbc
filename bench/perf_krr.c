/* perf_krr.c: kernel ridge regression fit + predict (poly-4 kernel (1 + <x,y>/d)^4, fixed
 * ridge, 10^4 test points, 2 OpenBLAS threads) through baselines/krr.h, side by side with
 * scikit-learn's KernelRidge(kernel="poly", degree=4, gamma=1/d, coef0=1, alpha=ridge) on the
 * same data (peers/sklearn_krr.py). Predictions are compared before anything is timed.
 * Also: the Cholesky's GFLOP/s against the DGEMM rate, and the peak RSS of each fit +
 * predict against bfc_krr_memory_estimate. */
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bfc.h"
#include "fsutil.h"
#include "json.h"
#include "krr.h"
#include "metrics.h"
#include "npy.h"
#include "perf.h"
#include "rng.h"
#include "target.h"

/* Agreement of the predictions (relative norm) required before sklearn is timed. Both sides
 * solve (K + λI) α = y by Cholesky in double; two backward-stable solves differ by about
 * cond(K + λI)·ε in α, and predictions K(test, train) α average much of that out. With the
 * default ridge cond is ~1e7..1e8 here, so 1e-6 is loose for a correct solve and tight for
 * any difference in the kernel, the ridge or the centring (those show at O(1e-2) or more). */
#define PERF_KRR_TOL 1e-6
#define PERF_KRR_WARM_N 1000
#define MAX_REPS 64
#define KRR_THREADS 2

/* Peak RSS of the process since the last reset: VmHWM of /proc/self/status, reset by
 * writing 5 to /proc/self/clear_refs (Linux ≥ 4.0). */
static int hwm_reset(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f) return -1;
    const int ok = fputs("5", f) >= 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}

static double hwm_bytes(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return NAN;
    char line[256];
    double kb = NAN;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %lf kB", &kb) == 1) break;
    fclose(f);
    return kb * 1024.0;
}

typedef struct {
    double fit, predict, total, gflops_chol, seconds_chol, build, peak;
} krr_time;

/* One fit + predict of ours at n; pred (krr_test) receives the predictions. */
static int ours_run(const perf_run *r, const bfc_krr_config *cfg, const bfc_data *train,
                    const bfc_data *test, int n, double *pred, krr_time *out, int *hwm_ok)
{
    malloc_trim(0); /* the peak then starts from the pages in use, not from freed ones */
    *hwm_ok = hwm_reset() == 0;
    const double t0 = bfc_wall_seconds();
    bfc_krr *model = NULL;
    int st = bfc_krr_fit(cfg, train->X, train->y, n, train->d, &model);
    const double t1 = bfc_wall_seconds();
    if (!st) st = bfc_krr_predict(model, test->X, r->krr_test, pred);
    const double t2 = bfc_wall_seconds();
    out->peak = hwm_bytes();
    if (st) {
        fprintf(stderr, "perf: krr n=%d: %s\n", n, bfc_last_error());
        bfc_krr_free(model);
        return st;
    }
    const bfc_krr_report *rep = bfc_krr_get_report(model);
    out->fit = t1 - t0;
    out->predict = t2 - t1;
    out->total = t2 - t0;
    out->gflops_chol = rep->gflops_cholesky;
    out->seconds_chol = rep->seconds_cholesky;
    out->build = rep->seconds_build;
    if (rep->fallback)
        fprintf(stderr, "perf: krr n=%d: solve used fallback %d (%s)\n", n, rep->fallback,
                rep->fallback_what);
    bfc_krr_free(model);
    return BFC_OK;
}

static double json_num(const bfc_json *o, const char *key)
{
    double v = NAN;
    if (bfc_json_number(bfc_json_get(o, key), &v)) return NAN;
    return v;
}

/* Ask the peer for one fit + predict at n; fills fit, predict, total, peak. */
static int peer_run(perf_peer *peer, int n, int save, krr_time *out)
{
    const char *line = perf_peer_ask(peer, "run %d %d", n, save);
    bfc_json *o = line ? bfc_json_parse(line, NULL, 0) : NULL;
    memset(out, 0, sizeof *out);
    out->fit = json_num(o, "fit");
    out->predict = json_num(o, "predict");
    out->peak = json_num(o, "peak_rss");
    out->total = out->fit + out->predict;
    const char *err = bfc_json_string(bfc_json_get(o, "error"));
    if (err) fprintf(stderr, "perf: sklearn n=%d: %s\n", n, err);
    bfc_json_free(o);
    return out->total > 0 ? 0 : -1;
}

static int save_npy(const char *dir, const char *name, const double *a, size_t n0, size_t n1)
{
    char path[4096];
    if (bfc_path_join(path, sizeof path, dir, name)) return BFC_EINVAL;
    size_t shape[2] = {n0, n1};
    return bfc_npy_save(path, a, n1 ? 2 : 1, shape);
}

static void median_of(krr_time *t, int n, krr_time *m)
{
    double a[MAX_REPS];
#define MED(field)                                                                               \
    do {                                                                                         \
        for (int i = 0; i < n; i++) a[i] = t[i].field;                                           \
        m->field = bfc_median(a, n);                                                            \
    } while (0)
    MED(fit);
    MED(predict);
    MED(total);
    MED(gflops_chol);
    MED(seconds_chol);
    MED(build);
    MED(peak);
#undef MED
}

static double mib(double b) { return b / 1048576.0; }

void perf_krr(perf_run *r)
{
    perf_threads(KRR_THREADS);
    const int d = 20;
    int nmax = PERF_KRR_WARM_N;
    for (int i = 0; i < r->n_krr; i++)
        if (r->krr_n[i] > nmax) nmax = r->krr_n[i];
    bfc_target_config tc;
    bfc_target_defaults(&tc);
    tc.d = d;
    int status = 0;
    bfc_target *t = bfc_target_new(&tc, &status);
    bfc_data train, test;
    memset(&train, 0, sizeof train);
    memset(&test, 0, sizeof test);
    double *pred = NULL, *ppeer = NULL;
    perf_peer peer;
    memset(&peer, 0, sizeof peer);
    if (!t || bfc_data_make(t, nmax, 0, BFC_STREAM_TRAIN, &train) ||
        bfc_data_make(t, r->krr_test, 0, BFC_STREAM_TEST, &test)) {
        fprintf(stderr, "perf: krr: %s\n", bfc_last_error());
        goto done;
    }
    pred = bfc_alloc_d((size_t)r->krr_test);
    if (!pred) goto done;
    char dir[4096], sub[64];
    snprintf(sub, sizeof sub, "krr-%s", r->label);
    bfc_path_join(dir, sizeof dir, r->out_dir, sub);
    if (bfc_mkdir_p(dir) || save_npy(dir, "X.npy", train.X, (size_t)nmax, (size_t)d) ||
        save_npy(dir, "y.npy", train.y, (size_t)nmax, 0) ||
        save_npy(dir, "Xt.npy", test.X, (size_t)r->krr_test, (size_t)d)) {
        fprintf(stderr, "perf: krr: %s\n", bfc_last_error());
        goto done;
    }
    bfc_krr_config cfg;
    bfc_krr_defaults(&cfg, d); /* poly-4: (1 + <x,y>/d)^4 */
    cfg.ridge = r->krr_ridge;
    cfg.center = 0; /* KernelRidge fits no intercept */

    int have_peer = 0;
    char peer_core[64] = "?";
    if (r->peers) {
        char ridge[32], gamma[32], why[512];
        snprintf(ridge, sizeof ridge, "%.17g", r->krr_ridge);
        snprintf(gamma, sizeof gamma, "%.17g", 1.0 / d);
        const char *args[] = {"--dir", dir, "--ridge", ridge, "--degree", "4", "--gamma", gamma,
                              "--coef0", "1", NULL};
        if (perf_peer_start(&peer, r, "sklearn_krr.py", args, KRR_THREADS, why, sizeof why)) {
            perf_note(r, "peer skipped: scikit-learn KernelRidge: %s", why);
        } else {
            bfc_json *ready = bfc_json_parse(peer.line, NULL, 0);
            const char *s = bfc_json_string(bfc_json_get(ready, "status"));
            const char *reason = bfc_json_string(bfc_json_get(ready, "reason"));
            const bfc_json *blas = bfc_json_get(ready, "blas");
            const char *core = bfc_json_string(bfc_json_get(blas, "core"));
            if (core) snprintf(peer_core, sizeof peer_core, "%s", core);
            if (s && strcmp(s, "ok") == 0) {
                have_peer = 1;
                const char *sv = bfc_json_string(bfc_json_get(ready, "sklearn"));
                const char *bn = bfc_json_string(bfc_json_get(blas, "name"));
                const char *bv = bfc_json_string(bfc_json_get(blas, "version"));
                const char *bf = bfc_json_string(bfc_json_get(blas, "file"));
                const char *nv = bfc_json_string(bfc_json_get(ready, "numpy"));
                const char *scv = bfc_json_string(bfc_json_get(ready, "scipy"));
                snprintf(r->peer_sklearn, sizeof r->peer_sklearn,
                         "scikit-learn %s (numpy %s, scipy %s); BLAS %s %s (%s), core %s, "
                         "%g threads",
                         sv ? sv : "?", nv ? nv : "?", scv ? scv : "?", bn ? bn : "?",
                         bv ? bv : "?", bf ? bf : "?", peer_core, json_num(blas, "threads"));
                fprintf(stderr, "perf: peer %s\n", r->peer_sklearn);
                perf_row(r, KRR_THREADS, "krr", "peer", "sklearn", "blas_threads",
                         json_num(blas, "threads"), "", 1);
            } else {
                perf_note(r, "peer skipped: scikit-learn KernelRidge: %s",
                          reason ? reason : peer.line);
            }
            bfc_json_free(ready);
        }
    }
    char core[160];
    snprintf(core, sizeof core, "%s%s%s", r->core, strcmp(peer_core, r->core) ? "/" : "",
             strcmp(peer_core, r->core) ? peer_core : "");

    /* warm-up: thread pools, page cache, Python imports */
    krr_time w;
    int hwm_ok = 0;
    perf_progress(r, "krr: warm-up at n = %d", PERF_KRR_WARM_N);
    ours_run(r, &cfg, &train, &test, PERF_KRR_WARM_N, pred, &w, &hwm_ok);
    if (have_peer) peer_run(&peer, PERF_KRR_WARM_N, 0, &w);

    const int reps = r->krr_reps < MAX_REPS ? r->krr_reps : MAX_REPS;
    for (int i = 0; i < r->n_krr; i++) {
        const int n = r->krr_n[i];
        const double t_size = bfc_wall_seconds();
        char caseid[64], comparison[192], o[48], p[48], ratio[32], eta[32];
        snprintf(caseid, sizeof caseid, "n=%d d=%d poly-4 test=%d", n, d, r->krr_test);
        /* check (also this size's warm-up) */
        krr_time first;
        perf_progress(r, "krr n=%d: first fit (this size's warm-up)", n);
        if (ours_run(r, &cfg, &train, &test, n, pred, &first, &hwm_ok)) continue;
        int time_peer = have_peer && n <= r->krr_peer_max_n;
        if (have_peer && !time_peer)
            perf_note(r,
                      "peer skipped: scikit-learn at n = %d (time budget; --krr-peer-max-n %d "
                      "includes it)",
                      n, n);
        if (time_peer) {
            perf_progress(r, "krr n=%d: checking scikit-learn's predictions", n);
            krr_time pc;
            char name[64], path[4096];
            snprintf(name, sizeof name, "pred_sklearn_%d.npy", n);
            bfc_path_join(path, sizeof path, dir, name);
            int nd = 0;
            size_t shape[2];
            bfc_free(ppeer);
            ppeer = NULL;
            if (peer_run(&peer, n, 1, &pc) || bfc_npy_load(path, &ppeer, &nd, shape) ||
                shape[0] != (size_t)r->krr_test) {
                printf("check krr %s: scikit-learn gave no predictions: not timed\n", caseid);
                time_peer = 0;
            } else {
                const double diff = bfc_relative_diff(pred, ppeer, (size_t)r->krr_test);
                const int ok = diff <= PERF_KRR_TOL;
                printf("check krr %s: predictions of bfc and scikit-learn agree to %.2e "
                       "(required <= %.0e): %s\n",
                       caseid, diff, PERF_KRR_TOL, ok ? "ok" : "FAILED, not timed");
                perf_row(r, KRR_THREADS, "krr", caseid, "sklearn", "check_rel_diff", diff, "", 1);
                time_peer = ok;
            }
        }
        perf_progress(r, "krr n=%d: %d timed samples%s", n, reps,
                      time_peer ? ", alternating with scikit-learn" : "");
        krr_time to[MAX_REPS], tp[MAX_REPS];
        double dg[MAX_REPS];
        int got = 0, ok_ours = 0;
        const double t_samples = bfc_wall_seconds();
        for (int s = 0; s < reps; s++) {
            dg[s] = perf_dgemm_sample(r, KRR_THREADS); /* the reference, same load */
            char ot[48] = "failed", pt[48] = "";
            if (ours_run(r, &cfg, &train, &test, n, pred, &to[ok_ours], &hwm_ok) == 0)
                snprintf(ot, sizeof ot, "%.2f s", to[ok_ours++].total);
            if (time_peer && peer_run(&peer, n, 0, &tp[got]) == 0)
                snprintf(pt, sizeof pt, ", scikit-learn %.2f s", tp[got++].total);
            const double per = (bfc_wall_seconds() - t_samples) / (s + 1);
            bfc_format_duration(per * (reps - s - 1), eta, sizeof eta);
            perf_progress(r, "krr n=%d: sample %d of %d: bfc %s%s; ETA of this size %s", n, s + 1,
                          reps, ot, pt, eta);
        }
        const double dgemm = bfc_median(dg, reps);
        if (!ok_ours) continue;
        krr_time mo, mp;
        median_of(to, ok_ours, &mo);
        perf_row(r, KRR_THREADS, "krr", caseid, "bfc", "seconds_fit_predict", mo.total, "s", ok_ours);
        perf_row(r, KRR_THREADS, "krr", caseid, "bfc", "seconds_fit", mo.fit, "s", ok_ours);
        perf_row(r, KRR_THREADS, "krr", caseid, "bfc", "seconds_predict", mo.predict, "s", ok_ours);
        perf_row(r, KRR_THREADS, "krr", caseid, "bfc", "seconds_gram", mo.build, "s", ok_ours);
        perf_row(r, KRR_THREADS, "krr", caseid, "bfc", "seconds_cholesky", mo.seconds_chol, "s",
                 ok_ours);
        perf_row(r, KRR_THREADS, "krr", caseid, "bfc", "gflops_cholesky", mo.gflops_chol,
                 "GFLOP/s", ok_ours);
        snprintf(comparison, sizeof comparison, "KRR fit+predict n=%d: bfc vs sklearn", n);
        snprintf(o, sizeof o, "%.3f s", mo.total);
        if (got) {
            median_of(tp, got, &mp);
            perf_row(r, KRR_THREADS, "krr", caseid, "sklearn", "seconds_fit_predict", mp.total, "s",
                     got);
            perf_row(r, KRR_THREADS, "krr", caseid, "sklearn", "seconds_fit", mp.fit, "s", got);
            perf_row(r, KRR_THREADS, "krr", caseid, "sklearn", "seconds_predict", mp.predict, "s",
                     got);
            perf_row(r, KRR_THREADS, "krr", caseid, "sklearn", "peak_rss", mp.peak, "B", got);
            perf_row(r, KRR_THREADS, "krr", caseid, "sklearn", "ratio_peer_over_bfc",
                     mp.total / mo.total, "x", got);
            snprintf(p, sizeof p, "%.3f s", mp.total);
            snprintf(ratio, sizeof ratio, "%.2fx", mp.total / mo.total);
            perf_table(r, comparison, o, p, ratio, core, KRR_THREADS);
            char goal[192];
            const int env = strcmp(r->label, "env") == 0;
            snprintf(goal, sizeof goal, "KRR fit+predict vs sklearn n=%d, %s", n,
                     env ? "default" : "same kernels");
            perf_goal(r, goal, mp.total / mo.total, env ? 2.0 : 1.5, "x");
        } else {
            perf_table(r, comparison, o, "not timed", NULL, r->core, KRR_THREADS);
        }
        /* the Cholesky against DGEMM at the same thread count */
        snprintf(comparison, sizeof comparison, "KRR Cholesky n=%d: GFLOP/s vs DGEMM", n);
        snprintf(o, sizeof o, "%.1f", mo.gflops_chol);
        perf_row(r, KRR_THREADS, "krr", caseid, "openblas", "dgemm_gflops_interleaved", dgemm,
                 "GFLOP/s", reps);
        {
            const double frac = mo.gflops_chol / dgemm;
            snprintf(p, sizeof p, "%.1f (DGEMM)", dgemm);
            snprintf(ratio, sizeof ratio, "%.0f%%", 100.0 * frac);
            perf_row(r, KRR_THREADS, "krr", caseid, "bfc", "cholesky_fraction_of_dgemm", frac, "",
                     ok_ours);
            perf_table(r, comparison, o, p, ratio, r->core, KRR_THREADS);
            if (n >= 20000) {
                char goal[192];
                snprintf(goal, sizeof goal, "KRR Cholesky GFLOP/s / DGEMM 2 threads, n=%d", n);
                perf_goal(r, goal, 100.0 * frac, 70.0, "%");
            }
        }
        /* memory: peak RSS of fit + predict against the estimate */
        const double est = (double)bfc_krr_memory_estimate(&cfg, n, r->krr_test, d);
        perf_row(r, KRR_THREADS, "krr", caseid, "bfc", "memory_estimate", est, "B", 1);
        perf_row(r, KRR_THREADS, "krr", caseid, "bfc", "peak_rss", mo.peak, "B", ok_ours);
        perf_row(r, KRR_THREADS, "krr", caseid, "bfc", "peak_rss_over_estimate", mo.peak / est, "",
                 ok_ours);
        snprintf(comparison, sizeof comparison, "KRR peak RSS n=%d: measured vs estimate%s", n,
                 hwm_ok ? "" : " (*)");
        snprintf(o, sizeof o, "%.0f MiB", mib(mo.peak));
        snprintf(p, sizeof p, "%.0f MiB (estimate)", mib(est));
        snprintf(ratio, sizeof ratio, "%+.1f%%", 100.0 * (mo.peak / est - 1.0));
        perf_table(r, comparison, o, p, ratio, r->core, KRR_THREADS);
        {
            char goal[192];
            snprintf(goal, sizeof goal, "KRR peak RSS / estimate - 1, n=%d", n);
            perf_goal_within(r, goal, 100.0 * (mo.peak / est - 1.0), -10.0, 10.0, "%");
        }
        if (got) {
            snprintf(comparison, sizeof comparison, "KRR peak RSS n=%d: bfc vs sklearn", n);
            snprintf(p, sizeof p, "%.0f MiB", mib(mp.peak));
            snprintf(ratio, sizeof ratio, "%.2fx", mp.peak / mo.peak);
            perf_table(r, comparison, o, p, ratio, core, KRR_THREADS);
        }
        if (!hwm_ok)
            printf("(*) /proc/self/clear_refs not writable: peak RSS is the process's peak so "
                   "far, not this fit's\n");
        /* the sizes left, from this one's wall time scaled as n³ (the Cholesky's share grows
         * with n, so this errs high for the next size up and is right in order of magnitude) */
        double left = 0;
        const double took = bfc_wall_seconds() - t_size;
        for (int j = i + 1; j < r->n_krr; j++) left += took * pow((double)r->krr_n[j] / n, 3);
        bfc_format_duration(left, eta, sizeof eta);
        perf_progress(r, "krr n=%d: bfc %.2f s (Cholesky %.1f GFLOP/s)%s; this size took %.0f s%s%s",
                      n, mo.total, mo.gflops_chol, got ? "" : ", scikit-learn not timed", took,
                      i + 1 < r->n_krr ? ", ETA of the larger sizes " : "",
                      i + 1 < r->n_krr ? eta : "");
    }
done:
    perf_peer_stop(&peer);
    bfc_free(pred);
    bfc_free(ppeer);
    bfc_data_free(&train);
    bfc_data_free(&test);
    bfc_target_free(t);
}
