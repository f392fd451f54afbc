/* krr.c: kernel ridge regression: memory check, ridge path from one eigendecomposition,
 * in-place Cholesky solve with fallbacks, blocked prediction. */
#include "krr.h"

#include <cblas.h>
#include <float.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bfc.h"
#include "lapack.h"
#include "rng.h"

/* Bytes the process holds beyond the arrays counted by the estimate: OpenBLAS's per-thread
 * buffers and the libraries themselves (peak RSS of fits at n = 1000..5000 exceeded the
 * arrays by 17-19 MiB with 2 threads). */
#define KRR_BASE_BYTES ((size_t)20 << 20)

/* Jitters of the Cholesky fallback, relative to the mean diagonal of K, added to λ. */
static const double krr_jitter[] = {1e-10, 1e-8, 1e-6};

struct bfc_krr {
    bfc_kernel kernel;
    int n, d;
    double *X;     /* n × d copy of the training inputs */
    double *alpha; /* n dual coefficients */
    double y_mean;
    size_t predict_block_bytes;
    bfc_krr_report *report; /* own allocation: predict records its time through it */
    double *path;           /* ridges (n_path) then validation MSEs (n_path) */
};

void bfc_krr_defaults(bfc_krr_config *cfg, int d)
{
    memset(cfg, 0, sizeof *cfg);
    bfc_kernel_defaults(&cfg->kernel, d);
    cfg->ridge = 0.0;
    cfg->ridge_grid_min = BFC_KRR_GRID_MIN;
    cfg->ridge_grid_max = BFC_KRR_GRID_MAX;
    cfg->ridge_grid_count = BFC_KRR_GRID_COUNT;
    cfg->val_fraction = BFC_KRR_VAL_FRACTION;
    cfg->select_max = BFC_KRR_SELECT_MAX;
    cfg->seed = 0;
    cfg->mem_limit = 0;
    cfg->predict_block_bytes = BFC_KRR_PREDICT_BLOCK_BYTES;
    cfg->center = 1;
    cfg->verbose = 0;
}

size_t bfc_krr_default_mem_limit(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return 0;
    char line[256];
    unsigned long long kb = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) break;
    fclose(f);
    return (size_t)((double)kb * 1024.0 * 0.8);
}

/* ------------------------------------------------------------------ memory estimate */

/* sizes of the validation set v and of the selection subset s for n points (n ≥ 2) */
static void split_sizes(const bfc_krr_config *cfg, int n, int *v, int *s)
{
    long vv = lround(cfg->val_fraction * n);
    if (vv < 1) vv = 1;
    if (vv > n - 1) vv = n - 1;
    long ss = n - vv;
    if (ss > cfg->select_max) ss = cfg->select_max;
    *v = (int)vv;
    *s = (int)ss;
}

static double bytes_select(const bfc_krr_config *cfg, int n, int d)
{
    if (cfg->ridge > 0.0 || n < 2) return 0.0;
    int vi, si;
    split_sizes(cfg, n, &vi, &si);
    const double v = vi, s = si, nr = cfg->ridge_grid_count;
    const double doubles = s * s                  /* K_S, then its eigenvectors */
                           + 2.0 * s * s + 7.0 * s + 1.0 /* dsyevd work, eigenvalues */
                           + v * s                /* K(val, S) */
                           + (s + v) * (d + 1.0)  /* inputs and labels of S and val */
                           + (s + v)              /* norms of the kernel matrices */
                           + s + 2.0 * s * nr     /* Vᵀy, scaled coefficients, α path */
                           + v * nr + 2.0 * nr;   /* validation predictions, path */
    const double ints = (double)n + 5.0 * s + 3.0; /* permutation, dsyevd iwork */
    return 8.0 * doubles + 4.0 * ints;
}

static size_t page_bytes(void)
{
    const long p = sysconf(_SC_PAGESIZE);
    return p > 0 ? (size_t)p : 4096u;
}

/* Resident bytes of an n × n row-major matrix of which only the upper triangle is touched:
 * row i touches 8(n − i) bytes, and the gap of 8(i + 1) bytes before the next row's
 * diagonal frees its whole pages (on average all but one page's worth), so at most the
 * triangle plus one page per row, and never more than the whole matrix. */
static double bytes_square_upper(int n)
{
    const double nn = n, full = 8.0 * nn * nn;
    const double upper = 8.0 * nn * (nn + 1.0) / 2.0 + nn * (double)page_bytes();
    return upper < full ? upper : full;
}

static double bytes_fit(int n, int d)
{
    const double nn = n;
    /* K (its upper triangle), the model (X copy, α), saved diagonal, norms of the Gram and
     * the tiles of its product (at most 2 MiB) */
    return bytes_square_upper(n) + 8.0 * nn * (d + 3.0) + (double)(2u << 20);
}

static size_t predict_rows(size_t block_bytes, int n, int m)
{
    size_t rows = block_bytes / (8u * (size_t)(n > 0 ? n : 1));
    if (rows < 1) rows = 1;
    if (rows > (size_t)m) rows = (size_t)(m > 0 ? m : 1);
    return rows;
}

static double bytes_predict(const bfc_krr_config *cfg, int n, int m, int d)
{
    if (m <= 0) return 0.0;
    const size_t blk = cfg->predict_block_bytes ? cfg->predict_block_bytes
                                                : BFC_KRR_PREDICT_BLOCK_BYTES;
    const int rows = (int)predict_rows(blk, n, m);
    /* the model (X, α), and bfc_kernel_matvec's norms and tiles: K(test, train) is never
     * formed */
    return 8.0 * (double)n * (d + 1.0) + (double)bfc_kernel_matvec_bytes(rows, n, d);
}

size_t bfc_krr_memory_estimate(const bfc_krr_config *cfg, int n, int n_test, int d)
{
    double b = fmax(bytes_select(cfg, n, d), bytes_fit(n, d));
    b = fmax(b, bytes_predict(cfg, n, n_test, d));
    b += (double)KRR_BASE_BYTES;
    return b >= (double)SIZE_MAX ? SIZE_MAX : (size_t)b;
}

/* the largest n' ≤ n whose fit (without prediction) fits in limit bytes */
static int largest_n_that_fits(const bfc_krr_config *cfg, int n, int d, size_t limit)
{
    int lo = 0, hi = n;
    while (hi - lo > 1) {
        const int mid = lo + (hi - lo) / 2;
        if (bfc_krr_memory_estimate(cfg, mid, 0, d) <= limit) lo = mid;
        else hi = mid;
    }
    return lo;
}

/* ------------------------------------------------------------------ helpers */

static double mib(double bytes) { return bytes / 1048576.0; }

static void progress(const bfc_krr_config *cfg, double t0, const char *what)
{
    if (cfg->verbose) fprintf(stderr, "krr: %s (%.2f s)\n", what, bfc_wall_seconds() - t0);
}

static int all_finite(const double *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(a[i])) return 0;
    return 1;
}

/* n × n doubles, 64-byte aligned and not zeroed (every entry is written before it is read:
 * zeroing would add a pass over the largest array); NULL on failure or overflow. The final
 * fit touches only the upper triangle; transparent huge pages are declined for the matrix
 * so that the pages below it stay untouched, whatever the system's default (the estimate
 * counts the triangle: bytes_square_upper), and a fit never waits on the kernel compacting
 * memory for a huge page. */
static double *alloc_square(int n)
{
    const size_t nn = (size_t)n * (size_t)n;
    if (n > 0 && nn / (size_t)n != (size_t)n) return NULL;
    const size_t bytes = (nn ? nn : 1) * sizeof(double);
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes) != 0) return NULL;
#ifdef MADV_NOHUGEPAGE
    /* advice on whole pages inside the block; failure is harmless */
    const size_t pg = page_bytes(), a = ((uintptr_t)p + pg - 1) / pg * pg;
    if ((uintptr_t)p + bytes > a + pg)
        madvise((void *)a, ((uintptr_t)p + bytes - a) / pg * pg, MADV_NOHUGEPAGE);
#endif
    return p;
}

/* ------------------------------------------------------------------ the ridge path */

int bfc_krr_ridge_path(double *K, const double *y, const double *Kvs, int s, int v,
                       const double *ridges, int nr, double *P, double *seconds_eigen)
{
    BFC_ASSERT(s >= 1 && v >= 0 && nr >= 1);
    int info = 0, lwork = -1, liwork = -1, iwq = 0;
    double wq = 0.0;
    double *w = bfc_alloc_d((size_t)s);
    if (!w) return bfc_fail(BFC_ENOMEM, "cannot allocate %d eigenvalues", s);
    /* row-major upper = column-major lower: dsyevd reads it as is */
    dsyevd_("V", "L", &s, K, &s, w, &wq, &lwork, &iwq, &liwork, &info);
    lwork = (int)wq;
    liwork = iwq;
    double *work = bfc_alloc_d((size_t)lwork);
    int *iwork = malloc(sizeof(int) * (size_t)liwork);
    if (!work || !iwork) {
        bfc_free(w), bfc_free(work), free(iwork);
        return bfc_fail(BFC_ENOMEM, "cannot allocate the eigendecomposition workspace (%.1f MiB)",
                        mib(8.0 * lwork));
    }
    const double t0 = bfc_wall_seconds();
    dsyevd_("V", "L", &s, K, &s, w, work, &lwork, iwork, &liwork, &info);
    if (seconds_eigen) *seconds_eigen = bfc_wall_seconds() - t0;
    bfc_free(work);
    free(iwork);
    if (info != 0) {
        bfc_free(w);
        return bfc_fail(BFC_ENUMERIC, "eigendecomposition of the %d x %d selection Gram failed "
                                      "(dsyevd info %d)", s, s, info);
    }
    /* The buffer holds V column-major, i.e. row i of the row-major view is eigenvector i. */
    double *b = bfc_alloc_d((size_t)s), *D = bfc_alloc_d((size_t)s * (size_t)nr),
           *A = bfc_alloc_d((size_t)s * (size_t)nr);
    if (!b || !D || !A) {
        bfc_free(w), bfc_free(b), bfc_free(D), bfc_free(A);
        return bfc_fail(BFC_ENOMEM, "cannot allocate the ridge path (%d x %d)", s, nr);
    }
    cblas_dgemv(CblasRowMajor, CblasNoTrans, s, s, 1.0, K, s, y, 1, 0.0, b, 1); /* b = Vᵀy */
    const double tol = (double)s * DBL_EPSILON * fmax(fabs(w[0]), fabs(w[s - 1]));
    for (int i = 0; i < s; i++)
        for (int r = 0; r < nr; r++) {
            const double e = w[i] + ridges[r];
            D[(size_t)i * nr + r] = e > tol ? b[i] / e : 0.0;
        }
    /* A (s × nr) = V D: column r is α(λ_r); P (v × nr) = Kvs A */
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, s, nr, s, 1.0, K, s, D, nr, 0.0, A, nr);
    if (v > 0)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, v, nr, s, 1.0, Kvs, s, A, nr, 0.0,
                    P, nr);
    const int ok = all_finite(P, (size_t)v * (size_t)nr);
    bfc_free(w), bfc_free(b), bfc_free(D), bfc_free(A);
    if (!ok) return bfc_fail(BFC_ENUMERIC, "the ridge path produced non-finite predictions");
    return BFC_OK;
}

/* Choose the ridge: split, Gram of S, path, validation MSE. Fills the report's path. */
static int select_ridge(const bfc_krr_config *cfg, const double *X, const double *y, int n,
                        int d, bfc_krr *mdl, double t_start)
{
    bfc_krr_report *rep = mdl->report;
    const int nr = cfg->ridge_grid_count;
    int v, s;
    split_sizes(cfg, n, &v, &s);
    rep->n_val = v;
    rep->n_select = s;
    mdl->path = bfc_alloc_d(2 * (size_t)nr);
    int *idx = malloc(sizeof(int) * (size_t)n);
    double *Xs = bfc_alloc_d((size_t)s * d), *Xv = bfc_alloc_d((size_t)v * d);
    double *ys = bfc_alloc_d((size_t)s), *yv = bfc_alloc_d((size_t)v);
    gsl_rng *rng = bfc_rng_new(cfg->seed, BFC_STREAM_VAL);
    double *Ks = NULL, *Kvs = NULL, *P = NULL;
    int st = BFC_OK;
    if (!mdl->path || !idx || !Xs || !Xv || !ys || !yv || !rng) {
        st = bfc_fail(BFC_ENOMEM, "cannot allocate the validation split (n = %d)", n);
        goto done;
    }
    for (int i = 0; i < n; i++) idx[i] = i;
    gsl_ran_shuffle(rng, idx, (size_t)n, sizeof(int));
    for (int j = 0; j < v; j++) {
        memcpy(Xv + (size_t)j * d, X + (size_t)idx[j] * d, sizeof(double) * (size_t)d);
        yv[j] = y[idx[j]];
    }
    for (int j = 0; j < s; j++) {
        memcpy(Xs + (size_t)j * d, X + (size_t)idx[v + j] * d, sizeof(double) * (size_t)d);
        ys[j] = y[idx[v + j]];
    }
    free(idx);
    idx = NULL;
    double ys_mean = 0.0;
    if (cfg->center) {
        for (int j = 0; j < s; j++) ys_mean += ys[j];
        ys_mean /= s;
        for (int j = 0; j < s; j++) ys[j] -= ys_mean;
    }
    Ks = alloc_square(s);
    Kvs = bfc_alloc_d((size_t)v * (size_t)s);
    P = bfc_alloc_d((size_t)v * (size_t)nr);
    if (!Ks || !Kvs || !P) {
        st = bfc_fail(BFC_ENOMEM, "cannot allocate the selection Gram (%d x %d, %.1f MiB)", s, s,
                      mib(8.0 * s * s));
        goto done;
    }
    if ((st = bfc_kernel_gram(&cfg->kernel, Xs, s, d, Ks))) goto done;
    if ((st = bfc_kernel_matrix(&cfg->kernel, Xv, v, Xs, s, d, Kvs))) goto done;
    double md = 0.0;
    for (int j = 0; j < s; j++) md += Ks[(size_t)j * s + j];
    md /= s;
    double *ridges = mdl->path, *mse = mdl->path + nr;
    for (int r = 0; r < nr; r++) {
        const double t = nr > 1 ? (double)r / (nr - 1) : 0.0;
        ridges[r] = md * cfg->ridge_grid_min * pow(cfg->ridge_grid_max / cfg->ridge_grid_min, t);
    }
    if (cfg->verbose) {
        char msg[128];
        snprintf(msg, sizeof msg, "selection Gram %d x %d built, eigendecomposition next", s, s);
        progress(cfg, t_start, msg);
    }
    if ((st = bfc_krr_ridge_path(Ks, ys, Kvs, s, v, ridges, nr, P, &rep->seconds_eigen)))
        goto done;
    int best = -1;
    for (int r = 0; r < nr; r++) {
        double e = 0.0;
        for (int j = 0; j < v; j++) {
            const double res = yv[j] - ys_mean - P[(size_t)j * nr + r];
            e += res * res;
        }
        mse[r] = e / v;
        if (isfinite(mse[r]) && (best < 0 || mse[r] < mse[best])) best = r;
    }
    if (best < 0) {
        st = bfc_fail(BFC_ENUMERIC, "no ridge of the grid gave a finite validation error");
        goto done;
    }
    rep->n_path = nr;
    rep->path_ridge = ridges;
    rep->path_val_mse = mse;
    rep->path_best = best;
    rep->val_mse = mse[best];
    rep->ridge = ridges[best];
done:
    free(idx);
    bfc_free(Xs), bfc_free(Xv), bfc_free(ys), bfc_free(yv);
    bfc_free(Ks), bfc_free(Kvs), bfc_free(P);
    if (rng) gsl_rng_free(rng);
    return st;
}

/* ------------------------------------------------------------------ the final solve */

/* Cholesky of K (n × n, row-major upper = column-major lower, diagonal already shifted) in
 * place and solve into rhs. Returns 0, or describes the failure in why and returns 1 (rhs
 * is then to be rebuilt). maxd: largest diagonal entry of the shifted K. */
static int cholesky_attempt(double *K, int n, double *rhs, double maxd, double *seconds,
                            char *why, size_t len)
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

/* α = V diag(1/(Λ + λ)) Vᵀ rhs with eigenvalues Λ_i + λ ≤ n·ε·max|Λ| dropped; K (n × n)
 * holds the unshifted Gram (upper triangle read) and is destroyed. room: bytes that may
 * be allocated for dsyevd's workspace; beyond it, dsyev in place. */
static int eigen_solve(double *K, int n, double ridge, double *rhs, double room,
                       const char **method)
{
    int info = 0, lwork = -1, liwork = -1, iwq = 0;
    double wq = 0.0;
    double *w = bfc_alloc_d((size_t)n), *b = bfc_alloc_d((size_t)n);
    if (!w || !b) {
        bfc_free(w), bfc_free(b);
        return bfc_fail(BFC_ENOMEM, "cannot allocate the eigen fallback (n = %d)", n);
    }
    const double need = 8.0 * (2.0 * n * (double)n + 6.0 * n + 1.0) + 4.0 * (5.0 * n + 3.0);
    double *work = NULL;
    int *iwork = NULL;
    if (need <= room) {
        dsyevd_("V", "L", &n, K, &n, w, &wq, &lwork, &iwq, &liwork, &info);
        lwork = (int)wq;
        liwork = iwq;
        work = bfc_alloc_d((size_t)lwork);
        iwork = malloc(sizeof(int) * (size_t)liwork);
    }
    if (work && iwork) {
        *method = "dsyevd";
        dsyevd_("V", "L", &n, K, &n, w, work, &lwork, iwork, &liwork, &info);
    } else {
        bfc_free(work), free(iwork);
        iwork = NULL;
        *method = "dsyev (in place)";
        lwork = -1;
        dsyev_("V", "L", &n, K, &n, w, &wq, &lwork, &info);
        lwork = (int)wq;
        work = bfc_alloc_d((size_t)lwork);
        if (!work) {
            bfc_free(w), bfc_free(b);
            return bfc_fail(BFC_ENOMEM, "cannot allocate the eigen fallback workspace");
        }
        dsyev_("V", "L", &n, K, &n, w, work, &lwork, &info);
    }
    bfc_free(work), free(iwork);
    if (info != 0) {
        bfc_free(w), bfc_free(b);
        return bfc_fail(BFC_ENUMERIC, "eigendecomposition of the %d x %d Gram failed (info %d)",
                        n, n, info);
    }
    cblas_dgemv(CblasRowMajor, CblasNoTrans, n, n, 1.0, K, n, rhs, 1, 0.0, b, 1);
    const double tol = (double)n * DBL_EPSILON * fmax(fabs(w[0]), fabs(w[n - 1]));
    for (int i = 0; i < n; i++) b[i] = w[i] + ridge > tol ? b[i] / (w[i] + ridge) : 0.0;
    cblas_dgemv(CblasRowMajor, CblasTrans, n, n, 1.0, K, n, b, 1, 0.0, rhs, 1);
    bfc_free(w), bfc_free(b);
    return BFC_OK;
}

static void centered(const double *y, int n, double mean, double *out)
{
    for (int i = 0; i < n; i++) out[i] = y[i] - mean;
}

/* (K + λI) α = y − ȳ on the Gram K (n × n, upper triangle), fallbacks as in krr.h: each
 * retry rebuilds the upper triangle from the model's inputs (a failed dpotrf has overwritten
 * it; the Gram costs a few percent of the Cholesky, and keeping no copy of it keeps the fit
 * at one n × n matrix). diag (n) is scratch for the unshifted diagonal. */
static int solve_final(bfc_krr *mdl, double *K, double *diag, const double *y, double room)
{
    bfc_krr_report *rep = mdl->report;
    const int n = mdl->n;
    const double ridge = rep->ridge, md = rep->mean_diag;
    double maxd = 0.0;
    for (int i = 0; i < n; i++) {
        diag[i] = K[(size_t)i * n + i];
        maxd = fmax(maxd, diag[i]);
        K[(size_t)i * n + i] = diag[i] + ridge;
    }
    centered(y, n, mdl->y_mean, mdl->alpha);
    char first[128], why[128];
    if (!cholesky_attempt(K, n, mdl->alpha, maxd + ridge, &rep->seconds_cholesky, first,
                          sizeof first)) {
        rep->gflops_cholesky = rep->flops_cholesky / rep->seconds_cholesky / 1e9;
        return BFC_OK;
    }
    rep->gflops_cholesky = rep->flops_cholesky / rep->seconds_cholesky / 1e9;
    for (size_t j = 0; j < sizeof krr_jitter / sizeof krr_jitter[0]; j++) {
        const double jit = krr_jitter[j] * md;
        int st = bfc_kernel_gram_upper(&mdl->kernel, mdl->X, n, mdl->d, K);
        if (st) return st;
        for (int i = 0; i < n; i++) K[(size_t)i * n + i] = diag[i] + ridge + jit;
        centered(y, n, mdl->y_mean, mdl->alpha);
        if (!cholesky_attempt(K, n, mdl->alpha, maxd + ridge + jit, NULL, why, sizeof why)) {
            rep->fallback = 1;
            rep->jitter = jit;
            snprintf(rep->fallback_what, sizeof rep->fallback_what,
                     "%s (ridge %.3g); solved by Cholesky with jitter %.3g (%.0e x mean diag) "
                     "added to the ridge",
                     first, ridge, jit, krr_jitter[j]);
            fprintf(stderr, "bfc krr: warning: %s\n", rep->fallback_what);
            return BFC_OK;
        }
    }
    int st = bfc_kernel_gram_upper(&mdl->kernel, mdl->X, n, mdl->d, K);
    if (st) return st;
    for (int i = 0; i < n; i++) K[(size_t)i * n + i] = diag[i];
    centered(y, n, mdl->y_mean, mdl->alpha);
    const char *method = "";
    st = eigen_solve(K, n, ridge, mdl->alpha, room, &method);
    rep->fallback = 2;
    snprintf(rep->fallback_what, sizeof rep->fallback_what,
             "%s (ridge %.3g), also with jitter up to %.0e x mean diag; solved by eigen "
             "pseudo-inverse (%s)",
             first, ridge, krr_jitter[sizeof krr_jitter / sizeof krr_jitter[0] - 1], method);
    fprintf(stderr, "bfc krr: warning: %s\n", rep->fallback_what);
    if (st) return st;
    if (!all_finite(mdl->alpha, (size_t)n))
        return bfc_fail(BFC_ENUMERIC, "KRR coefficients are not finite after every fallback");
    return BFC_OK;
}

/* ------------------------------------------------------------------ fit */

static int validate(const bfc_krr_config *cfg, const double *X, const double *y, int n, int d)
{
    int st = bfc_kernel_validate(&cfg->kernel, d);
    if (st) return st;
    if (n < 1) return bfc_fail(BFC_EINVAL, "KRR needs at least 1 training point (got n = %d)", n);
    if (!(cfg->ridge >= 0.0) || !isfinite(cfg->ridge))
        return bfc_fail(BFC_EINVAL,
                        "ridge must be > 0, or 0 to choose it on a validation split (got %g)",
                        cfg->ridge);
    if (cfg->ridge == 0.0) {
        if (n < 2)
            return bfc_fail(BFC_EINVAL, "choosing the ridge needs at least 2 training points "
                                        "(got n = %d): give a ridge > 0", n);
        if (!(cfg->val_fraction > 0.0 && cfg->val_fraction < 1.0))
            return bfc_fail(BFC_EINVAL, "validation fraction must be in (0, 1) (got %g)",
                            cfg->val_fraction);
        if (cfg->select_max < 1)
            return bfc_fail(BFC_EINVAL, "selection cap must be >= 1 (got %d)", cfg->select_max);
        if (cfg->ridge_grid_count < 1)
            return bfc_fail(BFC_EINVAL, "ridge grid needs at least 1 value (got %d)",
                            cfg->ridge_grid_count);
        if (!(cfg->ridge_grid_min > 0.0) || !(cfg->ridge_grid_max >= cfg->ridge_grid_min) ||
            !isfinite(cfg->ridge_grid_max))
            return bfc_fail(BFC_EINVAL, "ridge grid must satisfy 0 < min <= max (got %g .. %g)",
                            cfg->ridge_grid_min, cfg->ridge_grid_max);
    }
    for (size_t i = 0; i < (size_t)n * (size_t)d; i++)
        if (!isfinite(X[i]))
            return bfc_fail(BFC_EINVAL, "training input X[%zu][%zu] is not finite (%g)",
                            i / (size_t)d, i % (size_t)d, X[i]);
    for (int i = 0; i < n; i++)
        if (!isfinite(y[i]))
            return bfc_fail(BFC_EINVAL, "training label y[%d] is not finite (%g)", i, y[i]);
    return BFC_OK;
}

int bfc_krr_fit(const bfc_krr_config *cfg, const double *X, const double *y, int n, int d,
                bfc_krr **model)
{
    BFC_ASSERT(cfg && model);
    *model = NULL;
    const double t0 = bfc_wall_seconds();
    if (n > 0) BFC_ASSERT(X && y);
    int st = validate(cfg, X, y, n, d);
    if (st) return st;

    size_t limit = cfg->mem_limit ? cfg->mem_limit : bfc_krr_default_mem_limit();
    if (limit == 0) limit = SIZE_MAX;
    const size_t est = bfc_krr_memory_estimate(cfg, n, 0, d);
    if (est > limit) {
        char name[64];
        bfc_kernel_name(&cfg->kernel, name, sizeof name);
        return bfc_fail(BFC_ENOMEM,
                        "KRR (%s) on n = %d points (d = %d) needs about %.1f MiB (the upper "
                        "triangle of the n x n kernel matrix alone is %.1f MiB) but the memory "
                        "limit is %.1f MiB; the largest n that fits is %d: subsample or raise "
                        "mem_limit",
                        name, n, d, mib((double)est), mib(4.0 * n * (n + 1.0)), mib((double)limit),
                        largest_n_that_fits(cfg, n, d, limit));
    }

    bfc_krr *mdl = calloc(1, sizeof *mdl);
    if (!mdl) return bfc_fail(BFC_ENOMEM, "cannot allocate the model");
    mdl->report = calloc(1, sizeof *mdl->report);
    if (!mdl->report) {
        free(mdl);
        return bfc_fail(BFC_ENOMEM, "cannot allocate the model");
    }
    bfc_krr_report *rep = mdl->report;
    mdl->kernel = cfg->kernel;
    mdl->n = n;
    mdl->d = d;
    mdl->predict_block_bytes =
        cfg->predict_block_bytes ? cfg->predict_block_bytes : BFC_KRR_PREDICT_BLOCK_BYTES;
    rep->n = n;
    rep->d = d;
    rep->path_best = -1;
    rep->val_mse = NAN;
    rep->bytes_estimate = est;
    rep->mem_limit = limit == SIZE_MAX ? 0 : limit;
    rep->flops_cholesky = (double)n * (double)n * (double)n / 3.0;

    double *K = NULL, *diag = NULL;
    if (cfg->ridge == 0.0) {
        const double ts = bfc_wall_seconds();
        st = select_ridge(cfg, X, y, n, d, mdl, t0);
        rep->seconds_select = bfc_wall_seconds() - ts;
        if (st) goto fail;
        if (cfg->verbose) {
            char msg[160];
            snprintf(msg, sizeof msg, "ridge %.3g chosen on %d + %d points, validation MSE %.4g",
                     rep->ridge, rep->n_select, rep->n_val, rep->val_mse);
            progress(cfg, t0, msg);
        }
    } else {
        rep->ridge = cfg->ridge;
    }

    mdl->X = bfc_alloc_d((size_t)n * (size_t)d);
    mdl->alpha = bfc_alloc_d((size_t)n);
    diag = bfc_alloc_d((size_t)n);
    K = alloc_square(n);
    if (!mdl->X || !mdl->alpha || !diag || !K) {
        st = bfc_fail(BFC_ENOMEM, "cannot allocate the %d x %d kernel matrix (%.1f MiB)", n, n,
                      mib(8.0 * n * (double)n));
        goto fail;
    }
    memcpy(mdl->X, X, sizeof(double) * (size_t)n * (size_t)d);
    double tb = bfc_wall_seconds();
    if ((st = bfc_kernel_gram_upper(&cfg->kernel, X, n, d, K))) goto fail;
    rep->seconds_build = bfc_wall_seconds() - tb;
    double md = 0.0;
    for (int i = 0; i < n; i++) md += K[(size_t)i * n + i];
    rep->mean_diag = md / n;
    rep->ridge_relative = rep->ridge / rep->mean_diag;
    if (cfg->center) {
        double s = 0.0;
        for (int i = 0; i < n; i++) s += y[i];
        mdl->y_mean = s / n;
    }
    rep->y_mean = mdl->y_mean;
    progress(cfg, t0, "Gram built, Cholesky next");
    tb = bfc_wall_seconds();
    st = solve_final(mdl, K, diag, y, (double)limit - (double)est);
    rep->seconds_solve = bfc_wall_seconds() - tb;
    if (st) goto fail;
    bfc_free(K);
    bfc_free(diag);
    rep->seconds_fit = bfc_wall_seconds() - t0;
    progress(cfg, t0, "fit done");
    *model = mdl;
    return BFC_OK;
fail:
    bfc_free(K);
    bfc_free(diag);
    bfc_krr_free(mdl);
    return st;
}

/* ------------------------------------------------------------------ predict and the rest */

int bfc_krr_predict(const bfc_krr *mdl, const double *Xt, int m, double *out)
{
    BFC_ASSERT(mdl);
    if (m < 0) return bfc_fail(BFC_EINVAL, "number of test points must be >= 0 (got %d)", m);
    if (m == 0) return BFC_OK;
    BFC_ASSERT(Xt && out);
    const double t0 = bfc_wall_seconds();
    const int n = mdl->n, d = mdl->d;
    const size_t rows = predict_rows(mdl->predict_block_bytes, n, m);
    int st = BFC_OK;
    for (size_t i0 = 0; i0 < (size_t)m && !st; i0 += rows) {
        const int nb = (int)((size_t)m - i0 < rows ? (size_t)m - i0 : rows);
        for (int i = 0; i < nb; i++) out[i0 + (size_t)i] = mdl->y_mean;
        st = bfc_kernel_matvec(&mdl->kernel, Xt + i0 * (size_t)d, nb, mdl->X, n, d, mdl->alpha,
                               out + i0);
    }
    if (!st && !all_finite(out, (size_t)m))
        st = bfc_fail(BFC_ENUMERIC, "KRR predictions are not finite");
    mdl->report->seconds_predict = bfc_wall_seconds() - t0;
    return st;
}

const bfc_krr_report *bfc_krr_get_report(const bfc_krr *mdl) { return mdl->report; }

const double *bfc_krr_alpha(const bfc_krr *mdl, int *n)
{
    if (n) *n = mdl->n;
    return mdl->alpha;
}

void bfc_krr_free(bfc_krr *mdl)
{
    if (!mdl) return;
    bfc_free(mdl->X);
    bfc_free(mdl->alpha);
    bfc_free(mdl->path);
    free(mdl->report);
    free(mdl);
}
