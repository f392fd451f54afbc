/* kernel.c: kernel configuration, validation and kernel matrices by BLAS-3 plus a map. */
#include "kernel.h"

#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

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

/* v (len) ← (o + c·v)^p element-wise, by the same square-and-multiply as ipow (so bitwise
 * equal to bfc_kernel_eval), one pass per bit of p over chunks small enough for L1: the
 * loops have no data-dependent trip count and vectorise. Powers of two (the default p = 4)
 * square in place: p = 4 is three passes over the chunk, no copy. */
static void poly_span(double *v, int len, double o, double c, int p)
{
    enum { CHUNK = 256 };
    double r[CHUNK];
    int t = 0; /* p = 2^t · q, q odd */
    while (!((p >> t) & 1)) t++;
    for (int j0 = 0; j0 < len; j0 += CHUNK) {
        const int nb = len - j0 < CHUNK ? len - j0 : CHUNK;
        double *b = v + j0;
        for (int j = 0; j < nb; j++) b[j] = o + c * b[j];
        for (int s = 0; s < t; s++)
            for (int j = 0; j < nb; j++) b[j] *= b[j];
        int q = p >> t;
        if (q == 1) continue;
        for (int j = 0; j < nb; j++) r[j] = b[j];
        for (q >>= 1; q; q >>= 1) {
            for (int j = 0; j < nb; j++) b[j] *= b[j];
            if (q & 1)
                for (int j = 0; j < nb; j++) r[j] *= b[j];
        }
        for (int j = 0; j < nb; j++) b[j] = r[j];
    }
}

/* row (len) ← k(row) element-wise, row holding <x, z_j> on entry; xi = ‖x‖², zz (len) ‖z_j‖² */
static void map_span(const bfc_kernel *k, int d, double *row, int len, double xi,
                     const double *zz)
{
    switch (k->kind) {
    case BFC_KERNEL_POLY: poly_span(row, len, k->offset, k->scale, k->degree); break;
    case BFC_KERNEL_RBF: {
        const double g = -1.0 / (2.0 * k->bandwidth2);
        for (int j = 0; j < len; j++) row[j] = exp(g * sqdist(row[j], xi, zz[j]));
        break;
    }
    case BFC_KERNEL_LAPLACE: {
        const double g = 1.0 / k->bandwidth2;
        for (int j = 0; j < len; j++) row[j] = exp(-sqrt(g * sqdist(row[j], xi, zz[j])));
        break;
    }
    default:
        for (int j = 0; j < len; j++) row[j] = bfc_kernel_eval(k, row[j], xi, zz[j], d);
        break;
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

/* ------------------------------------------------------------------ tiled product + map
 *
 * A kernel matrix is built tile by tile: TILE_ROWS rows × tile_cols(d) columns of
 * X Zᵀ by one DGEMM, mapped while the tile is still in cache, then (matrix-vector
 * product) reduced against a vector, so K(X, Z) need never be formed. Each tile's product
 * is small enough (rows · cols · d ≤ 2^18) that OpenBLAS computes it on the calling thread,
 * and the tiles are shared out over as many threads as OpenBLAS uses (row blocks taken in
 * turn from an atomic counter). The tiling depends on (n, m, d) only, never on the thread
 * count, so the result is bitwise the same for any number of threads. */
enum {
    TILE_ROWS = 64,
    TILE_MNK = 1 << 18, /* OpenBLAS runs a DGEMM of m·n·k ≤ 2^18 on one thread */
    TILE_COLS_MIN = 16,
    TILE_COLS_MAX = 1024,
    MAP_MAX_THREADS = 16,
    MIN_ENTRIES_PER_THREAD = 1 << 17
};

static int tile_cols(int d)
{
    int c = TILE_MNK / (TILE_ROWS * d);
    if (c > TILE_COLS_MAX) c = TILE_COLS_MAX;
    c &= ~7;
    return c < TILE_COLS_MIN ? TILE_COLS_MIN : c;
}

typedef enum { TILED_GRAM_UPPER, TILED_MATRIX, TILED_MATVEC } tiled_what;

typedef struct {
    tiled_what what;
    const bfc_kernel *k;
    int d, n, m, cols;
    const double *X, *Z, *xx, *zz;
    double *K;         /* GRAM_UPPER (n × n), MATRIX (n × m); row-major */
    const double *a;   /* MATVEC: out (n) += K(X, Z) a (m) */
    double *out;
    double *scratch;   /* MATVEC, GRAM_UPPER: a tile (TILE_ROWS × cols) per thread */
    atomic_int next;   /* next row block */
    int bad;           /* a non-finite entry was seen (first: bad_i, bad_j, bad_v) */
    int bad_i, bad_j;
    double bad_v;
    pthread_mutex_t lock; /* guards bad* */
} tiled_job;

typedef struct {
    tiled_job *job;
    double *tile; /* the scratch tile of this thread */
} tiled_arg;

/* 1 if every entry of v (len) is finite: an exponent of all ones is inf or NaN; the
 * integer OR-reduction vectorises where a loop of isfinite does not */
static int all_finite_span(const double *v, int len)
{
    uint64_t any = 0;
    for (int j = 0; j < len; j++) {
        uint64_t u;
        memcpy(&u, &v[j], sizeof u);
        any |= (((u >> 52) & 0x7ff) + 1) >> 11;
    }
    return any == 0;
}

static void tiled_bad(tiled_job *J, int i, int j, double v)
{
    pthread_mutex_lock(&J->lock);
    if (!J->bad || i < J->bad_i || (i == J->bad_i && j < J->bad_j)) {
        J->bad = 1;
        J->bad_i = i, J->bad_j = j, J->bad_v = v;
    }
    pthread_mutex_unlock(&J->lock);
}

static void *tiled_worker(void *arg)
{
    tiled_arg *A = arg;
    tiled_job *J = A->job;
    const int d = J->d, n = J->n, m = J->m;
    const int blocks = (n + TILE_ROWS - 1) / TILE_ROWS;
    for (;;) {
        const int b = atomic_fetch_add(&J->next, 1);
        if (b >= blocks) break;
        const int i0 = b * TILE_ROWS, rb = n - i0 < TILE_ROWS ? n - i0 : TILE_ROWS;
        const int jstart = J->what == TILED_GRAM_UPPER ? i0 : 0;
        for (int j0 = jstart; j0 < m; j0 += J->cols) {
            const int cb = m - j0 < J->cols ? m - j0 : J->cols;
            /* the Gram's tiles that reach below the diagonal (j0 < i0 + rb) go through the
             * scratch: only their upper part is copied out, so nothing below is written */
            const int diag = J->what == TILED_GRAM_UPPER && j0 < i0 + rb;
            double *T;
            size_t ld;
            if (J->what == TILED_MATVEC || diag) T = A->tile, ld = (size_t)cb;
            else T = J->K + (size_t)i0 * (size_t)m + (size_t)j0, ld = (size_t)m;
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rb, cb, d, 1.0,
                        J->X + (size_t)i0 * (size_t)d, d, J->Z + (size_t)j0 * (size_t)d, d, 0.0,
                        T, (int)ld);
            for (int r = 0; r < rb; r++) {
                const int i = i0 + r, c0 = diag && i > j0 ? i - j0 : 0;
                if (c0 >= cb) continue; /* this row's part of the tile is all below */
                double *row = T + (size_t)r * ld + c0;
                const int len = cb - c0;
                /* the Gram's diagonal is the norm itself: the distance of x to itself is
                 * then exactly 0 and the diagonal is consistent with the rows */
                if (diag && i >= j0) row[0] = J->xx[i];
                map_span(J->k, d, row, len, J->xx[i], J->zz + j0 + c0);
                if (!all_finite_span(row, len))
                    for (int j = 0; j < len; j++)
                        if (!isfinite(row[j])) {
                            tiled_bad(J, i, j0 + c0 + j, row[j]);
                            break;
                        }
                if (J->what == TILED_MATVEC) J->out[i] += cblas_ddot(cb, row, 1, J->a + j0, 1);
                if (diag)
                    memcpy(J->K + (size_t)i * (size_t)m + (size_t)(j0 + c0), row,
                           sizeof(double) * (size_t)len);
            }
        }
    }
    return NULL;
}

/* threads for a job of this many entries: as many as OpenBLAS uses, each with enough work */
static int tiled_threads(double entries, int d)
{
    /* beyond d = 256 a tile's product is one OpenBLAS would split over its own threads:
     * then it gets them, and the tiles run on one thread (one caller of OpenBLAS at a time) */
    if ((double)TILE_ROWS * tile_cols(d) * d > TILE_MNK) return 1;
    int T = openblas_get_num_threads();
    if (T > MAP_MAX_THREADS) T = MAP_MAX_THREADS;
    if ((double)T * MIN_ENTRIES_PER_THREAD > entries) T = (int)(entries / MIN_ENTRIES_PER_THREAD);
    return T < 1 ? 1 : T;
}

/* Run the job on T threads (this one included; J->scratch, if any, holds T tiles);
 * BFC_ENUMERIC at a non-finite entry. */
static int tiled_run(tiled_job *J, int T)
{
    atomic_init(&J->next, 0);
    J->bad = 0;
    pthread_mutex_init(&J->lock, NULL);
    tiled_arg args[MAP_MAX_THREADS];
    pthread_t tid[MAP_MAX_THREADS];
    int started[MAP_MAX_THREADS] = {0};
    for (int t = 0; t < T; t++)
        args[t] = (tiled_arg){J, J->scratch ? J->scratch + (size_t)t * TILE_ROWS * (size_t)J->cols
                                            : NULL};
    for (int t = 1; t < T; t++)
        started[t] = pthread_create(&tid[t], NULL, tiled_worker, &args[t]) == 0;
    tiled_worker(&args[0]); /* a thread that could not start leaves its blocks to the rest */
    for (int t = 1; t < T; t++)
        if (started[t]) pthread_join(tid[t], NULL);
    pthread_mutex_destroy(&J->lock);
    if (J->bad)
        return bfc_fail(BFC_ENUMERIC,
                        "kernel matrix entry (%d, %d) is not finite (%g): check the inputs for "
                        "NaN/inf and the kernel's scale",
                        J->bad_i, J->bad_j, J->bad_v);
    return BFC_OK;
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

/* norms of X (n × d) into xx and of Z (m × d) into zz (may be xx itself when Z is X), then
 * the scale check at the largest */
static int norms_and_scale(const bfc_kernel *k, const double *X, int n, const double *Z, int m,
                           int d, double *xx, double *zz)
{
    squared_norms(X, n, d, xx);
    double mx = max_or_nan(xx, n); /* fmax drops NaN: no */
    if (zz != xx) {
        squared_norms(Z, m, d, zz);
        const double mz = max_or_nan(zz, m);
        mx = isnan(mx) || isnan(mz) ? NAN : (mx > mz ? mx : mz);
    }
    return check_scale(k, d, mx);
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
    st = norms_and_scale(k, X, n, Z, m, d, xx, zz);
    if (!st) {
        tiled_job J = {.what = TILED_MATRIX, .k = k, .d = d, .n = n, .m = m,
                       .cols = tile_cols(d), .X = X, .Z = Z, .xx = xx, .zz = zz, .K = K};
        st = tiled_run(&J, tiled_threads((double)n * (double)m, d));
    }
    bfc_free(xx);
    return st;
}

int bfc_kernel_matvec(const bfc_kernel *k, const double *X, int n, const double *Z, int m,
                      int d, const double *a, double *out)
{
    int st = bfc_kernel_validate(k, d);
    if (st) return st;
    if (n < 0 || m < 0) return bfc_fail(BFC_EINVAL, "matrix sizes must be >= 0 (got %d x %d)", n, m);
    if (n == 0 || m == 0) return BFC_OK;
    BFC_ASSERT(X && Z && a && out);
    const int cols = tile_cols(d), T = tiled_threads((double)n * (double)m, d);
    const size_t tiles = (size_t)T * TILE_ROWS * (size_t)cols;
    double *xx = bfc_alloc_d((size_t)n + (size_t)m + tiles);
    if (!xx) return bfc_fail(BFC_ENOMEM, "cannot allocate %d norms and the tiles", n + m);
    double *zz = xx + n;
    st = norms_and_scale(k, X, n, Z, m, d, xx, zz);
    if (!st) {
        tiled_job J = {.what = TILED_MATVEC, .k = k, .d = d, .n = n, .m = m, .cols = cols,
                       .X = X, .Z = Z, .xx = xx, .zz = zz, .a = a, .out = out,
                       .scratch = zz + m};
        st = tiled_run(&J, T);
    }
    bfc_free(xx);
    return st;
}

size_t bfc_kernel_matvec_bytes(int n, int m, int d)
{
    if (d < 1) d = 1;
    const size_t T = (size_t)tiled_threads((double)n * (double)m, d);
    return sizeof(double) * ((size_t)n + (size_t)m + T * TILE_ROWS * (size_t)tile_cols(d));
}

/* K (n × n, row-major): copy the strict upper triangle onto the lower one, in cache-sized
 * tiles. */
static void mirror_upper_to_lower(double *K, int n)
{
    enum { TILE = 64 };
    const size_t ld = (size_t)n;
    for (int ib = 0; ib < n; ib += TILE) {
        const int ie = ib + TILE < n ? ib + TILE : n;
        for (int jb = ib; jb < n; jb += TILE) {
            const int je = jb + TILE < n ? jb + TILE : n;
            for (int i = ib; i < ie; i++)
                for (int j = (jb > i + 1 ? jb : i + 1); j < je; j++)
                    K[(size_t)j * ld + (size_t)i] = K[(size_t)i * ld + (size_t)j];
        }
    }
}

int bfc_kernel_gram_upper(const bfc_kernel *k, const double *X, int n, int d, double *K)
{
    int st = bfc_kernel_validate(k, d);
    if (st) return st;
    if (n < 0) return bfc_fail(BFC_EINVAL, "matrix size must be >= 0 (got %d)", n);
    if (n == 0) return BFC_OK;
    BFC_ASSERT(X && K);
    const int cols = tile_cols(d), T = tiled_threads(0.5 * (double)n * (double)(n + 1), d);
    double *xx = bfc_alloc_d((size_t)n + (size_t)T * TILE_ROWS * (size_t)cols);
    if (!xx) return bfc_fail(BFC_ENOMEM, "cannot allocate %d norms and the tiles", n);
    st = norms_and_scale(k, X, n, X, n, d, xx, xx);
    if (!st) {
        tiled_job J = {.what = TILED_GRAM_UPPER, .k = k, .d = d, .n = n, .m = n, .cols = cols,
                       .X = X, .Z = X, .xx = xx, .zz = xx, .K = K, .scratch = xx + n};
        st = tiled_run(&J, T);
    }
    bfc_free(xx);
    return st;
}

int bfc_kernel_gram(const bfc_kernel *k, const double *X, int n, int d, double *K)
{
    const int st = bfc_kernel_gram_upper(k, X, n, d, K);
    if (!st) mirror_upper_to_lower(K, n);
    return st;
}
