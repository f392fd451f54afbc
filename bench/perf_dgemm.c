/* perf_dgemm.c: the machine's reference rate, a large square DGEMM C = A·B (2n³ flops) at 1
 * and 2 OpenBLAS threads. The learner's step and the Cholesky of KRR are reported as
 * fractions of it; on a shared machine the rate moves with the load, so those parts also
 * time one DGEMM sample between their own samples and use the median of those. */
#include <cblas.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>

#include "bfc.h"
#include "metrics.h"
#include "perf.h"

#define MAX_REPS 64

double perf_dgemm_sample(const perf_run *r, int threads)
{
    const int n = r->dgemm_n;
    const size_t nn = (size_t)n * (size_t)n;
    /* fresh buffers each time: freed, they leave nothing resident (KRR measures peak RSS) */
    double *A = bfc_alloc_d(nn), *B = bfc_alloc_d(nn), *C = bfc_alloc_d(nn);
    double rate = NAN;
    if (A && B && C) {
        for (size_t i = 0; i < nn; i++) {
            A[i] = (double)((i * 7919u) % 1000u) / 1000.0 - 0.5;
            B[i] = (double)((i * 104729u) % 997u) / 997.0 - 0.5;
        }
        perf_threads(threads);
        const double t0 = bfc_wall_seconds();
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0, A, n, B, n, 0.0, C, n);
        const double sec = bfc_wall_seconds() - t0;
        rate = 2.0 * (double)n * (double)n * (double)n / sec / 1e9;
    }
    bfc_free(A), bfc_free(B), bfc_free(C);
    malloc_trim(0); /* give the pages back even if malloc kept them in its heap */
    return rate;
}

void perf_dgemm(perf_run *r)
{
    char caseid[64], ours[32], comparison[96];
    snprintf(caseid, sizeof caseid, "n=%d", r->dgemm_n);
    perf_progress(r, "DGEMM %d: a warm-up and %d samples at 1, then 2 threads", r->dgemm_n,
                  r->reps);
    for (int threads = 1; threads <= 2; threads++) {
        double g[MAX_REPS];
        const int reps = r->reps < MAX_REPS ? r->reps : MAX_REPS;
        perf_dgemm_sample(r, threads); /* warm-up */
        for (int s = 0; s < reps; s++) g[s] = perf_dgemm_sample(r, threads);
        r->dgemm_gflops[threads] = bfc_median(g, reps);
        perf_row(r, threads, "dgemm", caseid, "openblas", "gflops", r->dgemm_gflops[threads],
                 "GFLOP/s", reps);
        snprintf(comparison, sizeof comparison, "DGEMM %d^3, GFLOP/s (reference)", r->dgemm_n);
        snprintf(ours, sizeof ours, "%.1f", r->dgemm_gflops[threads]);
        perf_table(r, comparison, ours, NULL, NULL, r->core, threads);
        perf_progress(r, "DGEMM %d, %d thread%s: %.1f GFLOP/s", r->dgemm_n, threads,
                      threads > 1 ? "s" : "", r->dgemm_gflops[threads]);
    }
}
