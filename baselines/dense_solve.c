/* dense_solve.c: Cholesky with jitter and eigen fallbacks, dsyevd with its workspace, and the
 * square matrix of the kernel methods (dense_solve.h). */
#include "dense_solve.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bfc.h"
#include "lapack.h"

const double bfc_dense_jitter[BFC_DENSE_N_JITTER] = {1e-10, 1e-8, 1e-6};

/* Bytes the process holds beyond the arrays counted by the estimates: the libraries, the
 * problem's set-up, OpenBLAS's per-thread buffers. Measured: peak RSS of `bfc fit --method
 * krr --ridge 1 --d 10 --n 300` 8.3-8.5 MiB with 1 and 2 threads. */
#define BASE_BYTES ((double)(8u << 20))
/* Bytes per row of the panels OpenBLAS packs in the Cholesky's updates: a block of up to
 * GEMM_Q doubles per row of the trailing matrix (GEMM_Q = 256 with the Haswell kernels, 384
 * with SkylakeX's). Measured with the Haswell kernels, 1 and 2 threads: the peak RSS of `bfc
 * fit --method krr` exceeded the counted arrays and the base by 1.3-1.8 KiB per point at
 * n = 3000..5000 (an earlier machine with Cooperlake's kernels: 3.0-3.3 KiB, which this
 * constant underestimates by under 5% of the total at those sizes). */
#define PACK_BYTES_PER_ROW 2048.0

size_t bfc_dense_process_bytes(double arrays, int n)
{
    const double b = arrays + BASE_BYTES + PACK_BYTES_PER_ROW * (double)n;
    return b >= (double)SIZE_MAX ? SIZE_MAX : (size_t)b;
}

int bfc_largest_n(size_t (*estimate)(const void *ctx, int n), const void *ctx, int n_max,
                  size_t limit)
{
    if (n_max < 1 || estimate(ctx, 1) > limit) return 0;
    int lo = 1, hi = n_max;
    if (estimate(ctx, hi) <= limit) return hi;
    while (hi - lo > 1) { /* estimate(lo) ≤ limit < estimate(hi) */
        const int mid = lo + (hi - lo) / 2;
        if (estimate(ctx, mid) <= limit) lo = mid;
        else hi = mid;
    }
    return lo;
}

static double mib(double bytes) { return bytes / 1048576.0; }

static int all_finite(const double *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(a[i])) return 0;
    return 1;
}

/* ------------------------------------------------------------------ the square matrix */

static size_t page_bytes(void)
{
    const long p = sysconf(_SC_PAGESIZE);
    return p > 0 ? (size_t)p : 4096u;
}

/* bytes mapped for n × n doubles (whole pages); 0 on overflow */
static size_t square_map_bytes(int n)
{
    const size_t nn = (size_t)n * (size_t)n, pg = page_bytes();
    if (n < 0 || (n > 0 && nn / (size_t)n != (size_t)n)) return 0;
    if (nn > (SIZE_MAX - pg) / sizeof(double)) return 0;
    return ((nn ? nn : 1) * sizeof(double) + pg - 1) / pg * pg;
}

double *bfc_square_alloc(int n)
{
    const size_t bytes = square_map_bytes(n);
    if (!bytes) return NULL;
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return NULL;
#ifdef MADV_NOHUGEPAGE
    madvise(p, bytes, MADV_NOHUGEPAGE); /* advice only: failure is harmless */
#endif
    return p;
}

void bfc_square_free(double *A, int n)
{
    if (A) munmap(A, square_map_bytes(n));
}

/* vm.overcommit_memory = 2: every mapping is charged in full */
static int strict_overcommit(void)
{
    FILE *f = fopen("/proc/sys/vm/overcommit_memory", "r");
    int mode = 0;
    if (f) {
        if (fscanf(f, "%d", &mode) != 1) mode = 0;
        fclose(f);
    }
    return mode == 2;
}

/* Row i touches 8(n − i) bytes; the gap of 8(i + 1) bytes before the next row's diagonal
 * frees its whole pages (on average all but one page's worth). */
double bfc_square_upper_bytes(int n)
{
    const double nn = n, full = 8.0 * nn * nn;
    const double upper = 8.0 * nn * (nn + 1.0) / 2.0 + nn * (double)page_bytes();
    return upper < full && !strict_overcommit() ? upper : full;
}

/* ------------------------------------------------------------------ eigendecomposition */

size_t bfc_eigen_work_doubles(int n) { return 1 + 6 * (size_t)n + 2 * (size_t)n * (size_t)n; }
size_t bfc_eigen_iwork_ints(int n) { return 3 + 5 * (size_t)n; }

int bfc_eigen_sym(double *A, int n, double *w, double *work, int *iwork)
{
    int info = 0, lwork, liwork;
    double *own = NULL;
    int *iown = NULL;
    if (work && iwork) {
        lwork = (int)bfc_eigen_work_doubles(n);
        liwork = (int)bfc_eigen_iwork_ints(n);
    } else {
        int iwq = 0;
        double wq = 0.0;
        lwork = liwork = -1;
        /* row-major upper = column-major lower: dsyevd reads it as is */
        dsyevd_("V", "L", &n, A, &n, w, &wq, &lwork, &iwq, &liwork, &info);
        lwork = (int)wq;
        liwork = iwq;
        work = own = bfc_alloc_d((size_t)lwork);
        iwork = iown = malloc(sizeof(int) * (size_t)(liwork > 0 ? liwork : 1));
        if (!own || !iown) {
            bfc_free(own), free(iown);
            return bfc_fail(BFC_ENOMEM, "cannot allocate the eigendecomposition workspace of "
                                        "order %d (%.1f MiB)", n, mib(8.0 * lwork));
        }
    }
    dsyevd_("V", "L", &n, A, &n, w, work, &lwork, iwork, &liwork, &info);
    bfc_free(own), free(iown);
    if (info != 0)
        return bfc_fail(BFC_ENUMERIC, "symmetric eigendecomposition of order %d failed (dsyevd "
                                      "info %d)", n, info);
    return BFC_OK;
}

/* ------------------------------------------------------------------ the solve */

int bfc_dense_cholesky(double *K, int n, double *rhs, double maxd, double *seconds, char *why,
                       size_t len)
{
    int info = 0, one = 1;
    const double t0 = bfc_wall_seconds();
    dpotrf_("L", &n, K, &n, &info);
    if (seconds) *seconds = bfc_wall_seconds() - t0;
    if (info != 0) {
        snprintf(why, len, "Cholesky failed: leading minor %d not positive definite", info);
        return 1;
    }
    for (int i = 0; i < n; i++) {
        const double p = K[(size_t)i * n + i];
        if (p * p <= DBL_EPSILON * maxd) {
            snprintf(why, len, "Cholesky pivot %d is %.3g, below rounding of the diagonal "
                               "(numerically singular)", i + 1, p * p);
            return 1;
        }
    }
    dpotrs_("L", &n, &one, K, &n, rhs, &n, &info);
    if (info != 0 || !all_finite(rhs, (size_t)n)) {
        snprintf(why, len, "Cholesky solve gave non-finite coefficients");
        return 1;
    }
    return 0;
}

/* x = V diag(1/(Λ + λ)) Vᵀ x with eigenvalues Λ_i + λ ≤ n·ε·max|Λ| dropped; K (n × n) holds
 * the unshifted matrix (upper triangle read) and is destroyed. room: bytes that may be
 * allocated or touched beyond the upper triangle. */
static int eigen_solve(double *K, int n, double ridge, double *x, double room,
                       const char **method)
{
    const double lower = 4.0 * n * (n - 1.0); /* the eigenvectors fill the whole matrix */
    if (lower > room)
        return bfc_fail(BFC_ENOMEM, "the eigen fallback needs the whole %d x %d matrix, %.1f MiB "
                                    "beyond the estimate, and only %.1f MiB are left under the "
                                    "memory limit", n, n, mib(lower), mib(fmax(room, 0.0)));
    double *w = bfc_alloc_d((size_t)n), *b = bfc_alloc_d((size_t)n);
    if (!w || !b) {
        bfc_free(w), bfc_free(b);
        return bfc_fail(BFC_ENOMEM, "cannot allocate the eigen fallback (n = %d)", n);
    }
    const double need = 8.0 * (double)bfc_eigen_work_doubles(n) + 4.0 * (double)bfc_eigen_iwork_ints(n);
    int st, info = 0;
    if (lower + need <= room && (st = bfc_eigen_sym(K, n, w, NULL, NULL)) != BFC_ENOMEM) {
        *method = "dsyevd";
    } else {
        *method = "dsyev (in place)";
        int lwork = -1;
        double wq = 0.0;
        dsyev_("V", "L", &n, K, &n, w, &wq, &lwork, &info);
        lwork = (int)wq;
        double *work = bfc_alloc_d((size_t)lwork);
        if (!work) {
            bfc_free(w), bfc_free(b);
            return bfc_fail(BFC_ENOMEM, "cannot allocate the eigen fallback workspace");
        }
        dsyev_("V", "L", &n, K, &n, w, work, &lwork, &info);
        bfc_free(work);
        st = info == 0 ? BFC_OK
                       : bfc_fail(BFC_ENUMERIC, "eigendecomposition of the %d x %d matrix failed "
                                                "(dsyev info %d)", n, n, info);
    }
    if (st) {
        bfc_free(w), bfc_free(b);
        return st;
    }
    cblas_dgemv(CblasRowMajor, CblasNoTrans, n, n, 1.0, K, n, x, 1, 0.0, b, 1);
    const double tol = (double)n * DBL_EPSILON * fmax(fabs(w[0]), fabs(w[n - 1]));
    for (int i = 0; i < n; i++) b[i] = w[i] + ridge > tol ? b[i] / (w[i] + ridge) : 0.0;
    cblas_dgemv(CblasRowMajor, CblasTrans, n, n, 1.0, K, n, b, 1, 0.0, x, 1);
    bfc_free(w), bfc_free(b);
    return BFC_OK;
}

int bfc_dense_solve(double *K, int n, double ridge, const double *b, double *x, double room,
                    bfc_dense_restore_fn restore, void *ctx, const char *who,
                    bfc_dense_report *rep)
{
    memset(rep, 0, sizeof *rep);
    double *diag = bfc_alloc_d((size_t)n);
    if (!diag) return bfc_fail(BFC_ENOMEM, "cannot allocate the solve's diagonal (n = %d)", n);
    double maxd = 0.0, md = 0.0;
    for (int i = 0; i < n; i++) {
        diag[i] = K[(size_t)i * n + i];
        maxd = fmax(maxd, diag[i]);
        md += diag[i];
        K[(size_t)i * n + i] = diag[i] + ridge;
    }
    md /= n;
    memcpy(x, b, sizeof(double) * (size_t)n);
    char first[128], why[128];
    int st = BFC_OK;
    if (!bfc_dense_cholesky(K, n, x, maxd + ridge, &rep->seconds_cholesky, first, sizeof first))
        goto done;
    for (int j = 0; j < BFC_DENSE_N_JITTER; j++) {
        const double jit = bfc_dense_jitter[j] * md;
        if ((st = restore(ctx, K, n))) goto done;
        for (int i = 0; i < n; i++) K[(size_t)i * n + i] = diag[i] + ridge + jit;
        memcpy(x, b, sizeof(double) * (size_t)n);
        if (!bfc_dense_cholesky(K, n, x, maxd + ridge + jit, NULL, why, sizeof why)) {
            rep->fallback = 1;
            rep->jitter = jit;
            snprintf(rep->what, sizeof rep->what,
                     "%s (ridge %.3g); solved by Cholesky with jitter %.3g (%.0e x mean diag) "
                     "added to the ridge",
                     first, ridge, jit, bfc_dense_jitter[j]);
            fprintf(stderr, "bfc %s: warning: %s\n", who, rep->what);
            goto done;
        }
    }
    if ((st = restore(ctx, K, n))) goto done;
    for (int i = 0; i < n; i++) K[(size_t)i * n + i] = diag[i];
    memcpy(x, b, sizeof(double) * (size_t)n);
    const char *method = "";
    st = eigen_solve(K, n, ridge, x, room, &method);
    rep->fallback = 2;
    snprintf(rep->what, sizeof rep->what,
             "%s (ridge %.3g), also with jitter up to %.0e x mean diag; solved by eigen "
             "pseudo-inverse (%s)",
             first, ridge, bfc_dense_jitter[BFC_DENSE_N_JITTER - 1], method);
    fprintf(stderr, "bfc %s: warning: %s\n", who, rep->what);
    if (!st && !all_finite(x, (size_t)n))
        st = bfc_fail(BFC_ENUMERIC, "coefficients are not finite after every fallback");
done:
    bfc_free(diag);
    return st;
}
