/* perf_dgemm.c: the machine's reference rate, a large square DGEMM C = A·B (2n³ flops) at 1
 * and 2 OpenBLAS threads, median of the timed samples after one warm-up. The learner's
 * step and the Cholesky of KRR are reported as fractions of it. */
#include <cblas.h>
#include <stdio.h>

#include "bfc.h"
#include "perf.h"

void perf_dgemm(perf_run *r)
{
    const int n = r->dgemm_n;
    const size_t nn = (size_t)n * (size_t)n;
    double *A = bfc_alloc_d(nn), *B = bfc_alloc_d(nn), *C = bfc_alloc_d(nn);
    if (!A || !B || !C) {
        fprintf(stderr, "perf: DGEMM %d: out of memory, skipped\n", n);
        bfc_free(A), bfc_free(B), bfc_free(C);
        return;
    }
    for (size_t i = 0; i < nn; i++) {
        A[i] = (double)((i * 7919u) % 1000u) / 1000.0 - 0.5;
        B[i] = (double)((i * 104729u) % 997u) / 997.0 - 0.5;
    }
    const double flops = 2.0 * (double)n * (double)n * (double)n;
    char caseid[64], ours[32];
    snprintf(caseid, sizeof caseid, "n=%d", n);
    for (int threads = 1; threads <= 2; threads++) {
        perf_threads(threads);
        double t[64];
        const int reps = r->reps < 64 ? r->reps : 64;
        for (int s = -1; s < reps; s++) { /* s = -1: warm-up */
            const double t0 = bfc_wall_seconds();
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0, A, n, B, n, 0.0, C,
                        n);
            if (s >= 0) t[s] = bfc_wall_seconds() - t0;
        }
        const double sec = perf_median(t, reps);
        r->dgemm_gflops[threads] = flops / sec / 1e9;
        perf_row(r, threads, "dgemm", caseid, "openblas", "seconds", sec, "s", reps);
        perf_row(r, threads, "dgemm", caseid, "openblas", "gflops", r->dgemm_gflops[threads],
                 "GFLOP/s", reps);
        char comparison[80];
        snprintf(comparison, sizeof comparison, "DGEMM %d^3, GFLOP/s (reference)", n);
        snprintf(ours, sizeof ours, "%.1f", r->dgemm_gflops[threads]);
        perf_table(r, comparison, ours, NULL, NULL, r->core, threads);
        perf_progress(r, "DGEMM %d, %d thread%s: %.1f GFLOP/s", n, threads, threads > 1 ? "s" : "",
                      r->dgemm_gflops[threads]);
    }
    bfc_free(A), bfc_free(B), bfc_free(C);
}
