/* kernel.c: kernel configuration, validation and kernel matrices by BLAS-3 plus a map. */
#include "kernel.h"

#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>

#include "bfc.h"

void bfc_kernel_defaults(bfc_kernel *k, int d)
{
    k->kind = BFC_KERNEL_POLY;
    k->degree = 4;
    k->scale = d > 0 ? 1.0 / (double)d : 1.0;
    k->offset = 1.0;
    k->bandwidth2 = d > 0 ? (double)d : 1.0;
    bfc_ntk_defaults(&k->net);
    k->fn = NULL;
    k->fn_params = NULL;
    k->fn_name = NULL;
}

int bfc_kernel_validate(const bfc_kernel *k, int d)
{
    if (d < 1) return bfc_fail(BFC_EINVAL, "input dimension d must be >= 1 (got %d)", d);
    switch (k->kind) {
    case BFC_KERNEL_POLY:
        if (k->degree < 1)
            return bfc_fail(BFC_EINVAL, "poly kernel degree must be >= 1 (got %d)", k->degree);
        if (k->degree > BFC_KERNEL_MAX_DEGREE)
            return bfc_fail(BFC_EINVAL,
                            "poly kernel degree %d is too large: values overflow double "
                            "precision (at most %d)",
                            k->degree, BFC_KERNEL_MAX_DEGREE);
        if (!(k->scale > 0.0) || !isfinite(k->scale))
            return bfc_fail(BFC_EINVAL, "poly kernel scale must be finite and > 0 (got %g)",
                            k->scale);
        if (!(k->offset >= 0.0) || !isfinite(k->offset))
            return bfc_fail(BFC_EINVAL, "poly kernel offset must be finite and >= 0 (got %g)",
                            k->offset);
        return BFC_OK;
    case BFC_KERNEL_RBF:
    case BFC_KERNEL_LAPLACE:
        if (!(k->bandwidth2 > 0.0) || !isfinite(k->bandwidth2))
            return bfc_fail(BFC_EINVAL,
                            "%s kernel bandwidth s^2 must be finite and > 0 (got %g)",
                            k->kind == BFC_KERNEL_RBF ? "rbf" : "laplace", k->bandwidth2);
        return BFC_OK;
    case BFC_KERNEL_NTK:
    case BFC_KERNEL_NNGP: return bfc_ntk_validate(&k->net);
    case BFC_KERNEL_CUSTOM:
        if (!k->fn) return bfc_fail(BFC_EINVAL, "custom kernel has no function (fn is NULL)");
        return BFC_OK;
    default:
        return bfc_fail(BFC_EINVAL,
                        "unknown kernel kind %d (expected poly, rbf, laplace, ntk, nngp or "
                        "custom)",
                        (int)k->kind);
    }
}

const char *bfc_kernel_name(const bfc_kernel *k, char *buf, size_t len)
{
    const char *act = bfc_activation_name(k->net.activation);
    switch (k->kind) {
    case BFC_KERNEL_POLY: snprintf(buf, len, "poly-%d", k->degree); break;
    case BFC_KERNEL_RBF: snprintf(buf, len, "rbf"); break;
    case BFC_KERNEL_LAPLACE: snprintf(buf, len, "laplace"); break;
    case BFC_KERNEL_NTK:
    case BFC_KERNEL_NNGP:
        snprintf(buf, len, "%s-%s-%d", k->kind == BFC_KERNEL_NTK ? "ntk" : "nngp",
                 act ? act : "unknown", k->net.depth);
        break;
    case BFC_KERNEL_CUSTOM: snprintf(buf, len, "%s", k->fn_name ? k->fn_name : "custom"); break;
    default: snprintf(buf, len, "unknown-%d", (int)k->kind); break;
    }
    return buf;
}

/* b^p for p ≥ 1 by repeated squaring */
static inline double ipow(double b, int p)
{
    double r = 1.0;
    while (p) {
        if (p & 1) r *= b;
        b *= b;
        p >>= 1;
    }
    return r;
}

static inline double sqdist(double xy, double xx, double yy)
{
    const double r = xx + yy - 2.0 * xy;
    return r > 0.0 ? r : 0.0;
}

double bfc_kernel_eval(const bfc_kernel *k, double xy, double xx, double yy, int d)
{
    switch (k->kind) {
    case BFC_KERNEL_POLY: return ipow(k->offset + k->scale * xy, k->degree);
    case BFC_KERNEL_RBF: return exp(-sqdist(xy, xx, yy) / (2.0 * k->bandwidth2));
    case BFC_KERNEL_LAPLACE: return exp(-sqrt(sqdist(xy, xx, yy) / k->bandwidth2));
    case BFC_KERNEL_NTK: return bfc_ntk_eval(&k->net, xy, xx, yy, d, NULL);
    case BFC_KERNEL_NNGP: {
        double g;
        bfc_ntk_eval(&k->net, xy, xx, yy, d, &g);
        return g;
    }
    case BFC_KERNEL_CUSTOM: return k->fn(xy, xx, yy, k->fn_params);
    default: return NAN;
    }
}

/* Rows r0..r1−1 of K (n × m, leading dimension ldk) ← k(K) element-wise, K holding
 * <x_i, z_j> on entry; xx (n), zz (m) squared norms; upper: only j ≥ i (square case). */
static void map_rows(const bfc_kernel *k, int d, double *K, size_t ldk, const double *xx,
                     const double *zz, int r0, int r1, int m, int upper)
{
    for (int i = r0; i < r1; i++) {
        double *row = K + (size_t)i * ldk;
        const int j0 = upper ? i : 0;
        const double xi = xx[i];
        switch (k->kind) {
        case BFC_KERNEL_POLY: {
            const double c = k->scale, o = k->offset;
            const int p = k->degree;
            for (int j = j0; j < m; j++) row[j] = ipow(o + c * row[j], p);
            break;
        }
        case BFC_KERNEL_RBF: {
            const double g = -1.0 / (2.0 * k->bandwidth2);
            for (int j = j0; j < m; j++) row[j] = exp(g * sqdist(row[j], xi, zz[j]));
            break;
        }
        case BFC_KERNEL_LAPLACE: {
            const double g = 1.0 / k->bandwidth2;
            for (int j = j0; j < m; j++) row[j] = exp(-sqrt(g * sqdist(row[j], xi, zz[j])));
            break;
        }
        default:
            for (int j = j0; j < m; j++) row[j] = bfc_kernel_eval(k, row[j], xi, zz[j], d);
            break;
        }
    }
}

/* nrm (n) = ‖X_i‖² for X (n × d) */
static void squared_norms(const double *X, int n, int d, double *nrm)
{
    for (int i = 0; i < n; i++) {
        const double *x = X + (size_t)i * (size_t)d;
        nrm[i] = cblas_ddot(d, x, 1, x, 1);
    }
}

/* max of a (n ≥ 1), or NaN if any entry is not finite */
static double max_or_nan(const double *a, int n)
{
    double mx = a[0];
    for (int i = 0; i < n; i++) {
        if (!isfinite(a[i])) return NAN;
        if (a[i] > mx) mx = a[i];
    }
    return mx;
}

/* The map runs on as many threads as OpenBLAS uses (the BLAS product before it does too);
 * every entry is computed independently, so the result is bitwise the same for any count. */
enum { MAP_MAX_THREADS = 16, MAP_MIN_ENTRIES_PER_THREAD = 1 << 18 };

typedef struct {
    const bfc_kernel *k;
    int d;
    double *K;
    size_t ldk;
    const double *xx, *zz;
    int r0, r1, m, upper;
} map_job;

static void *map_worker(void *arg)
{
    const map_job *j = arg;
    map_rows(j->k, j->d, j->K, j->ldk, j->xx, j->zz, j->r0, j->r1, j->m, j->upper);
    return NULL;
}

static void map_inner(const bfc_kernel *k, int d, double *K, size_t ldk, const double *xx,
                      const double *zz, int n, int m, int upper)
{
    const double total = upper ? 0.5 * (double)n * (double)(n + 1) : (double)n * (double)m;
    int T = openblas_get_num_threads();
    if (T > MAP_MAX_THREADS) T = MAP_MAX_THREADS;
    if ((double)T * MAP_MIN_ENTRIES_PER_THREAD > total) T = (int)(total / MAP_MIN_ENTRIES_PER_THREAD);
    if (T <= 1) {
        map_rows(k, d, K, ldk, xx, zz, 0, n, m, upper);
        return;
    }
    /* row ranges of equal work: row i holds m − i entries in the triangle, m otherwise */
    map_job jobs[MAP_MAX_THREADS];
    pthread_t tid[MAP_MAX_THREADS];
    int started[MAP_MAX_THREADS] = {0}, r = 0;
    double done = 0.0;
    for (int t = 0; t < T; t++) {
        const int r0 = r;
        const double target = total * (t + 1) / T;
        while (r < n && (t == T - 1 || done < target)) {
            done += upper ? (double)(m - r) : (double)m;
            r++;
        }
        jobs[t] = (map_job){k, d, K, ldk, xx, zz, r0, r, m, upper};
    }
    for (int t = 1; t < T; t++) started[t] = pthread_create(&tid[t], NULL, map_worker, &jobs[t]) == 0;
    map_worker(&jobs[0]);
    for (int t = 1; t < T; t++) {
        if (started[t]) pthread_join(tid[t], NULL);
        else map_worker(&jobs[t]); /* no thread to be had: do it here */
    }
}

/* Before any work: refuse kernels whose values would overflow on data whose largest
 * squared norm is maxsq. Every built-in kernel obeys |k(x,y)| ≤ k(z,z) at ‖z‖² = maxsq
 * (positive semi-definite, diagonal non-decreasing in the norm), so the diagonal there
 * bounds the whole matrix. Custom kernels are checked after the map only. */
static int check_scale(const bfc_kernel *k, int d, double maxsq)
{
    if (k->kind == BFC_KERNEL_CUSTOM) return BFC_OK;
    if (!isfinite(maxsq))
        return bfc_fail(BFC_ENUMERIC, "input data contain a non-finite value (NaN or inf)");
    const double v = bfc_kernel_eval(k, maxsq, maxsq, maxsq, d);
    if (!isfinite(v) || fabs(v) > BFC_KERNEL_MAX_VALUE) {
        char name[64];
        bfc_kernel_name(k, name, sizeof name);
        if (k->kind == BFC_KERNEL_POLY)
            return bfc_fail(BFC_EINVAL,
                            "%s kernel values reach %.3g on this data (largest |x|^2 = %g, "
                            "d = %d): they would overflow; lower the degree (%d) or the scale "
                            "(%g), or standardise the inputs",
                            name, v, maxsq, d, k->degree, k->scale);
        return bfc_fail(BFC_EINVAL,
                        "%s kernel values reach %.3g on this data (largest |x|^2 = %g, d = %d): "
                        "they would overflow; lower the depth or standardise the inputs",
                        name, v, maxsq, d);
    }
    return BFC_OK;
}

/* BFC_ENUMERIC at the first non-finite entry of K (n × m); upper: only j ≥ i. */
static int check_finite(const double *K, int n, int m, int upper)
{
    for (int i = 0; i < n; i++) {
        const double *row = K + (size_t)i * (size_t)m;
        for (int j = upper ? i : 0; j < m; j++)
            if (!isfinite(row[j]))
                return bfc_fail(BFC_ENUMERIC,
                                "kernel matrix entry (%d, %d) is not finite (%g): check the "
                                "inputs for NaN/inf and the kernel's scale",
                                i, j, row[j]);
    }
    return BFC_OK;
}

int bfc_kernel_matrix(const bfc_kernel *k, const double *X, int n, const double *Z, int m,
                      int d, double *K)
{
    int st = bfc_kernel_validate(k, d);
    if (st) return st;
    if (n < 0 || m < 0) return bfc_fail(BFC_EINVAL, "matrix sizes must be >= 0 (got %d x %d)", n, m);
    if (n == 0 || m == 0) return BFC_OK;
    BFC_ASSERT(X && Z && K);
    double *xx = bfc_alloc_d((size_t)n + (size_t)m);
    if (!xx) return bfc_fail(BFC_ENOMEM, "cannot allocate %d norms", n + m);
    double *zz = xx + n;
    squared_norms(X, n, d, xx);
    squared_norms(Z, m, d, zz);
    const double mx = max_or_nan(xx, n), mz = max_or_nan(zz, m); /* fmax drops NaN: no */
    st = check_scale(k, d, isnan(mx) || isnan(mz) ? NAN : (mx > mz ? mx : mz));
    if (!st) {
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, m, d, 1.0, X, d, Z, d, 0.0, K,
                    m);
        map_inner(k, d, K, (size_t)m, xx, zz, n, m, 0);
        st = check_finite(K, n, m, 0);
    }
    bfc_free(xx);
    return st;
}

void bfc_kernel_mirror(double *K, int n, int upper_to_lower)
{
    enum { TILE = 64 }; /* cache-sized tiles */
    const size_t ld = (size_t)n;
    for (int ib = 0; ib < n; ib += TILE) {
        const int ie = ib + TILE < n ? ib + TILE : n;
        for (int jb = ib; jb < n; jb += TILE) {
            const int je = jb + TILE < n ? jb + TILE : n;
            for (int i = ib; i < ie; i++)
                for (int j = (jb > i + 1 ? jb : i + 1); j < je; j++) {
                    double *up = &K[(size_t)i * ld + (size_t)j], *lo = &K[(size_t)j * ld + (size_t)i];
                    if (upper_to_lower) *lo = *up;
                    else *up = *lo;
                }
        }
    }
}

int bfc_kernel_gram(const bfc_kernel *k, const double *X, int n, int d, double *K)
{
    int st = bfc_kernel_validate(k, d);
    if (st) return st;
    if (n < 0) return bfc_fail(BFC_EINVAL, "matrix size must be >= 0 (got %d)", n);
    if (n == 0) return BFC_OK;
    BFC_ASSERT(X && K);
    double *xx = bfc_alloc_d((size_t)n);
    if (!xx) return bfc_fail(BFC_ENOMEM, "cannot allocate %d norms", n);
    squared_norms(X, n, d, xx);
    st = check_scale(k, d, max_or_nan(xx, n));
    if (!st) {
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, n, d, 1.0, X, d, 0.0, K, n);
        /* norms from the diagonal of the product itself: the distance of x to itself is
         * then exactly 0 and the diagonal of every kernel is consistent with its rows */
        for (int i = 0; i < n; i++) xx[i] = K[(size_t)i * (size_t)n + (size_t)i];
        map_inner(k, d, K, (size_t)n, xx, xx, n, n, 1);
        st = check_finite(K, n, n, 1);
        if (!st) bfc_kernel_mirror(K, n, 1);
    }
    bfc_free(xx);
    return st;
}
