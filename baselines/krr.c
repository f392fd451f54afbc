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

#include "bfc.h"
#include "dense_solve.h"
#include "rng.h"

/* Relative gain in validation MSE that a ridge below the one at hand must bring to be taken
 * (grid extension, refinement): when the kernel nearly interpolates, the error is flat near
 * λ = 0 to 1e-11 and only rounding decides; a gain this small is far below the sampling
 * error of the validation MSE (√(2/v) ≥ 1e-3 for v ≤ 10⁶) and would only push the ridge
 * towards a singular solve. */
#define KRR_MIN_GAIN 1e-6

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
    cfg->bandwidth_select = 1;
    cfg->refine_ridge = 1;
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

void bfc_krr_split_sizes(double val_fraction, int select_max, int n, int *v, int *s)
{
    long vv = lround(val_fraction * n);
    if (vv < 1) vv = 1;
    if (vv > n - 1) vv = n - 1;
    long ss = n - vv;
    if (ss > select_max) ss = select_max;
    *v = (int)vv;
    *s = (int)ss;
}

static void split_sizes(const bfc_krr_config *cfg, int n, int *v, int *s)
{
    bfc_krr_split_sizes(cfg->val_fraction, cfg->select_max, n, v, s);
}

void bfc_krr_ridge_grid(double mean_diag, double grid_min, double grid_max, int count,
                        double *ridges)
{
    for (int r = 0; r < count; r++) {
        const double t = count > 1 ? (double)r / (count - 1) : 0.0;
        ridges[r] = mean_diag * grid_min * pow(grid_max / grid_min, t);
    }
}

int bfc_krr_check_selection(int n, double val_fraction, int select_max, double grid_min,
                            double grid_max, int grid_count)
{
    if (n < 2)
        return bfc_fail(BFC_EINVAL, "choosing the ridge needs at least 2 training points "
                                    "(got n = %d): give a ridge > 0", n);
    if (!(val_fraction > 0.0 && val_fraction < 1.0))
        return bfc_fail(BFC_EINVAL, "validation fraction must be in (0, 1) (got %g)",
                        val_fraction);
    if (select_max < 1)
        return bfc_fail(BFC_EINVAL, "selection cap must be >= 1 (got %d)", select_max);
    if (grid_count < 1)
        return bfc_fail(BFC_EINVAL, "ridge grid needs at least 1 value (got %d)", grid_count);
    if (!(grid_min > 0.0) || !(grid_max >= grid_min) || !isfinite(grid_max))
        return bfc_fail(BFC_EINVAL, "ridge grid must satisfy 0 < min <= max (got %g .. %g)",
                        grid_min, grid_max);
    return BFC_OK;
}

static double bytes_select(const bfc_krr_config *cfg, int n, int d)
{
    if (cfg->ridge > 0.0 || n < 2) return 0.0;
    int vi, si;
    split_sizes(cfg, n, &vi, &si);
    const double v = vi, s = si, nr = cfg->ridge_grid_count + BFC_KRR_GRID_EXTEND;
    const double doubles = s * s                  /* K_S, then its eigenvectors */
                           + 2.0 * s * s + 7.0 * s + 1.0 /* dsyevd work, eigenvalues */
                           + v * s                /* K(val, S) */
                           + (s + v) * (d + 1.0)  /* inputs and labels of S and val */
                           + (s + v)              /* norms of the kernel matrices */
                           + s + 2.0 * s * nr     /* Vᵀy, scaled coefficients, α path */
                           + v * nr + 4.0 * nr;   /* validation predictions, paths */
    const double ints = (double)n + 5.0 * s + 3.0; /* permutation, dsyevd iwork */
    return 8.0 * doubles + 4.0 * ints;
}

static double bytes_fit(int n, int d)
{
    const double nn = n;
    /* K (its upper triangle), the model (X copy, α), saved diagonal, norms of the Gram and
     * the tiles of its product (at most 2 MiB) */
    return bfc_square_upper_bytes(n) + 8.0 * nn * (d + 3.0) + (double)(2u << 20);
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

/* whether the refinement runs for n points: ridge chosen, S smaller than the training part */
static int refines(const bfc_krr_config *cfg, int n)
{
    if (cfg->ridge > 0.0 || !cfg->refine_ridge || n < 2) return 0;
    int v, s;
    split_sizes(cfg, n, &v, &s);
    return n - v > s;
}

static double bytes_refine(const bfc_krr_config *cfg, int n, int d)
{
    if (!refines(cfg, n)) return 0.0;
    int v, s;
    split_sizes(cfg, n, &v, &s);
    const int nt = n - v;
    /* the Gram of the training part (upper triangle), its inputs, labels, coefficients and
     * diagonal, the validation inputs, labels and predictions, the tiles of the Gram and of
     * the validation product, the permutation */
    return bfc_square_upper_bytes(nt) + 8.0 * (double)nt * (d + 3.0) + 8.0 * (double)v * (d + 2.0) +
           (double)(2u << 20) + (double)bfc_kernel_matvec_bytes(v, nt, d) + 4.0 * n;
}

size_t bfc_krr_memory_estimate(const bfc_krr_config *cfg, int n, int n_test, int d)
{
    double b = fmax(bytes_select(cfg, n, d), bytes_fit(n, d));
    b = fmax(b, bytes_refine(cfg, n, d));
    b = fmax(b, bytes_predict(cfg, n, n_test, d));
    return bfc_dense_process_bytes(b, n);
}

typedef struct {
    const bfc_krr_config *cfg;
    int n_test, d;
} largest_ctx;

static size_t estimate_at(const void *ctx, int n)
{
    const largest_ctx *c = ctx;
    return bfc_krr_memory_estimate(c->cfg, n, c->n_test, c->d);
}

int bfc_krr_largest_n(const bfc_krr_config *cfg, int n_max, int n_test, int d, size_t limit)
{
    const largest_ctx c = {cfg, n_test, d};
    return bfc_largest_n(estimate_at, &c, n_max, limit);
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

/* ------------------------------------------------------------------ the ridge path */

/* bfc_eigen_sym on the selection Gram, timed into *seconds */
static int eigen_in_place(double *K, int s, double *w, double *seconds)
{
    const double t0 = bfc_wall_seconds();
    const int st = bfc_eigen_sym(K, s, w, NULL, NULL);
    if (seconds) *seconds = bfc_wall_seconds() - t0;
    return st;
}

/* P (v × nr) = Kvs V (Λ + λ_r)⁻¹ b for b = Vᵀy (s), from the decomposition of
 * eigen_in_place (V, w); eigenvalues λ_i + λ_r ≤ s·ε·max|λ_i| dropped. */
static int path_from_eigen(const double *V, const double *w, const double *b, const double *Kvs,
                           int s, int v, const double *ridges, int nr, double *P)
{
    double *D = bfc_alloc_d((size_t)s * (size_t)nr), *A = bfc_alloc_d((size_t)s * (size_t)nr);
    if (!D || !A) {
        bfc_free(D), bfc_free(A);
        return bfc_fail(BFC_ENOMEM, "cannot allocate the ridge path (%d x %d)", s, nr);
    }
    const double tol = (double)s * DBL_EPSILON * fmax(fabs(w[0]), fabs(w[s - 1]));
    for (int i = 0; i < s; i++)
        for (int r = 0; r < nr; r++) {
            const double e = w[i] + ridges[r];
            D[(size_t)i * nr + r] = e > tol ? b[i] / e : 0.0;
        }
    /* A (s × nr) = V D: column r is α(λ_r); P (v × nr) = Kvs A */
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, s, nr, s, 1.0, V, s, D, nr, 0.0, A, nr);
    if (v > 0)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, v, nr, s, 1.0, Kvs, s, A, nr, 0.0,
                    P, nr);
    const int ok = all_finite(P, (size_t)v * (size_t)nr);
    bfc_free(D), bfc_free(A);
    if (!ok) return bfc_fail(BFC_ENUMERIC, "the ridge path produced non-finite predictions");
    return BFC_OK;
}

int bfc_krr_ridge_path(double *K, const double *y, const double *Kvs, int s, int v,
                       const double *ridges, int nr, double *P, double *seconds_eigen)
{
    BFC_ASSERT(s >= 1 && v >= 0 && nr >= 1);
    double *w = bfc_alloc_d((size_t)s), *b = bfc_alloc_d((size_t)s);
    if (!w || !b) {
        bfc_free(w), bfc_free(b);
        return bfc_fail(BFC_ENOMEM, "cannot allocate %d eigenvalues", s);
    }
    int st = eigen_in_place(K, s, w, seconds_eigen);
    if (!st) {
        cblas_dgemv(CblasRowMajor, CblasNoTrans, s, s, 1.0, K, s, y, 1, 0.0, b, 1); /* Vᵀy */
        st = path_from_eigen(K, w, b, Kvs, s, v, ridges, nr, P);
    }
    bfc_free(w), bfc_free(b);
    return st;
}

/* The validation split: idx (n) a permutation of 0..n−1 from stream BFC_STREAM_VAL of the
 * seed; idx[0..v) is the validation set, idx[v..n) the training part, S its first s. */
static int *split_permutation(const bfc_krr_config *cfg, int n)
{
    int *idx = malloc(sizeof(int) * (size_t)n);
    gsl_rng *rng = bfc_rng_new(cfg->seed, BFC_STREAM_VAL);
    if (!idx || !rng) {
        free(idx);
        if (rng) gsl_rng_free(rng);
        return NULL;
    }
    for (int i = 0; i < n; i++) idx[i] = i;
    gsl_ran_shuffle(rng, idx, (size_t)n, sizeof(int));
    gsl_rng_free(rng);
    return idx;
}

/* rows idx[0..m) of X (· × d) and y into Xo (m × d) and yo (m) */
static void gather(const double *X, const double *y, const int *idx, int m, int d, double *Xo,
                   double *yo)
{
    for (int j = 0; j < m; j++) {
        memcpy(Xo + (size_t)j * d, X + (size_t)idx[j] * d, sizeof(double) * (size_t)d);
        yo[j] = y[idx[j]];
    }
}

static double mse_of(const double *yv, double shift, const double *P, int v, int stride, int r)
{
    double e = 0.0;
    for (int j = 0; j < v; j++) {
        const double res = yv[j] - shift - P[(size_t)j * stride + r];
        e += res * res;
    }
    return e / v;
}

/* Buffers of the selection, shared by every bandwidth. */
typedef struct {
    int s, v, nr; /* sizes; nr: grid count */
    double *Xs, *Xv, *ys, *yv, ys_mean;
    double *Ks, *Kvs, *P, *w, *b;
    double *ridges, *mse; /* BFC_KRR_GRID_EXTEND + nr: the extension first, then the grid */
} sel_work;

/* The ridge path for one kernel: Gram of S, decomposition, grid (extended below once when
 * its lower edge wins). On return ridges/mse [*first, *first + *count) hold the path in
 * ascending ridge order and *best indexes its minimum (relative to *first). */
static int path_for_kernel(const bfc_krr_config *cfg, const bfc_kernel *k, int d, sel_work *W,
                           int *first, int *count, int *best, double *seconds_eigen)
{
    const int s = W->s, v = W->v, nr = W->nr, E = BFC_KRR_GRID_EXTEND;
    int st;
    if ((st = bfc_kernel_gram(k, W->Xs, s, d, W->Ks))) return st;
    if ((st = bfc_kernel_matrix(k, W->Xv, v, W->Xs, s, d, W->Kvs))) return st;
    double md = 0.0;
    for (int j = 0; j < s; j++) md += W->Ks[(size_t)j * s + j];
    md /= s;
    double te = 0.0;
    if ((st = eigen_in_place(W->Ks, s, W->w, &te))) return st;
    *seconds_eigen += te;
    cblas_dgemv(CblasRowMajor, CblasNoTrans, s, s, 1.0, W->Ks, s, W->ys, 1, 0.0, W->b, 1);
    double *ridges = W->ridges + E, *mse = W->mse + E;
    const double step = nr > 1 ? log(cfg->ridge_grid_max / cfg->ridge_grid_min) / (nr - 1)
                               : log(10.0) / 2.0;
    bfc_krr_ridge_grid(md, cfg->ridge_grid_min, cfg->ridge_grid_max, nr, ridges);
    if ((st = path_from_eigen(W->Ks, W->w, W->b, W->Kvs, s, v, ridges, nr, W->P))) return st;
    int b = -1;
    for (int r = 0; r < nr; r++) {
        mse[r] = mse_of(W->yv, W->ys_mean, W->P, v, nr, r);
        if (isfinite(mse[r]) && (b < 0 || mse[r] < mse[b])) b = r;
    }
    if (b < 0)
        return bfc_fail(BFC_ENUMERIC, "no ridge of the grid gave a finite validation error");
    *first = E;
    *count = nr;
    if (b == 0) { /* the lower edge won: E more values below it, same spacing */
        double *xr = W->ridges, *xm = W->mse;
        for (int r = 0; r < E; r++) xr[r] = ridges[0] * exp(-(double)(E - r) * step);
        if ((st = path_from_eigen(W->Ks, W->w, W->b, W->Kvs, s, v, xr, E, W->P))) return st;
        b = E;
        for (int r = 0; r < E; r++) xm[r] = mse_of(W->yv, W->ys_mean, W->P, v, E, r);
        /* the best below the edge, taken only when it gains more than KRR_MIN_GAIN */
        int bx = -1;
        for (int r = E - 1; r >= 0; r--)
            if (isfinite(xm[r]) && (bx < 0 || xm[r] < xm[bx])) bx = r;
        if (bx >= 0 && xm[bx] < xm[E] * (1.0 - KRR_MIN_GAIN)) b = bx;
        *first = 0;
        *count = nr + E;
    }
    *best = b;
    return BFC_OK;
}

static int uses_bandwidth(const bfc_kernel *k)
{
    return k->kind == BFC_KERNEL_RBF || k->kind == BFC_KERNEL_LAPLACE;
}

/* Choose the ridge (and the bandwidth): split, Gram of S, path, validation MSE. Fills the
 * report's path and search, and sets the model's kernel. */
static int select_ridge(const bfc_krr_config *cfg, const double *X, const double *y, int n,
                        int d, bfc_krr *mdl, double t_start)
{
    bfc_krr_report *rep = mdl->report;
    const int nr = cfg->ridge_grid_count, nrx = nr + BFC_KRR_GRID_EXTEND;
    sel_work W;
    memset(&W, 0, sizeof W);
    split_sizes(cfg, n, &W.v, &W.s);
    const int v = W.v, s = W.s;
    W.nr = nr;
    rep->n_val = v;
    rep->n_select = s;
    mdl->path = bfc_alloc_d(2 * (size_t)nrx);
    int *idx = split_permutation(cfg, n);
    W.Xs = bfc_alloc_d((size_t)s * d), W.Xv = bfc_alloc_d((size_t)v * d);
    W.ys = bfc_alloc_d((size_t)s), W.yv = bfc_alloc_d((size_t)v);
    W.ridges = bfc_alloc_d((size_t)nrx), W.mse = bfc_alloc_d((size_t)nrx);
    int st = BFC_OK;
    if (!mdl->path || !idx || !W.Xs || !W.Xv || !W.ys || !W.yv || !W.ridges || !W.mse) {
        st = bfc_fail(BFC_ENOMEM, "cannot allocate the validation split (n = %d)", n);
        goto done;
    }
    gather(X, y, idx, v, d, W.Xv, W.yv);
    gather(X, y, idx + v, s, d, W.Xs, W.ys);
    free(idx);
    idx = NULL;
    W.ys_mean = 0.0;
    if (cfg->center) {
        for (int j = 0; j < s; j++) W.ys_mean += W.ys[j];
        W.ys_mean /= s;
        for (int j = 0; j < s; j++) W.ys[j] -= W.ys_mean;
    }
    W.Ks = bfc_square_alloc(s);
    W.Kvs = bfc_alloc_d((size_t)v * (size_t)s);
    W.P = bfc_alloc_d((size_t)v * (size_t)nrx);
    W.w = bfc_alloc_d((size_t)s), W.b = bfc_alloc_d((size_t)s);
    if (!W.Ks || !W.Kvs || !W.P || !W.w || !W.b) {
        st = bfc_fail(BFC_ENOMEM, "cannot allocate the selection Gram (%d x %d, %.1f MiB)", s, s,
                      mib(8.0 * s * s));
        goto done;
    }
    /* the bandwidths: s₀·2^j, j = −2..4, then one beyond the winning end */
    const int search = cfg->bandwidth_select && uses_bandwidth(&cfg->kernel);
    const double s0 = cfg->kernel.bandwidth2;
    int nb = search ? BFC_KRR_N_BANDWIDTH : 1;
    for (int i = 0; i < nb; i++) rep->bandwidth_grid[i] = search ? s0 * ldexp(1.0, i - 2) : s0;
    double best_mse = INFINITY;
    rep->bandwidth_best = -1;
    for (int i = 0; i < nb; i++) {
        bfc_kernel k = cfg->kernel;
        k.bandwidth2 = rep->bandwidth_grid[i];
        if (cfg->verbose) {
            char msg[160];
            char bw[48] = "";
            if (uses_bandwidth(&k)) snprintf(bw, sizeof bw, " (s2 %.4g)", k.bandwidth2);
            snprintf(msg, sizeof msg, "selection Gram %d x %d%s, eigendecomposition next", s, s,
                     bw);
            progress(cfg, t_start, msg);
        }
        int first = 0, count = 0, b = 0;
        if ((st = path_for_kernel(cfg, &k, d, &W, &first, &count, &b, &rep->seconds_eigen)))
            goto done;
        const double m = W.mse[first + b];
        rep->bandwidth_val_mse[i] = m;
        if (m < best_mse) {
            best_mse = m;
            rep->bandwidth_best = i;
            mdl->kernel = k;
            memcpy(mdl->path, W.ridges + first, sizeof(double) * (size_t)count);
            memcpy(mdl->path + count, W.mse + first, sizeof(double) * (size_t)count);
            rep->n_path = count;
            rep->path_best = b;
            rep->grid_extended = count > nr ? count - nr : 0;
        }
        if (search && i == BFC_KRR_N_BANDWIDTH - 1 &&
            (rep->bandwidth_best == 0 || rep->bandwidth_best == BFC_KRR_N_BANDWIDTH - 1)) {
            const int low = rep->bandwidth_best == 0;
            rep->bandwidth_extended = low ? -1 : 1;
            rep->bandwidth_grid[nb++] = s0 * ldexp(1.0, low ? -3 : BFC_KRR_N_BANDWIDTH - 2);
        }
    }
    if (rep->bandwidth_best < 0) {
        st = bfc_fail(BFC_ENUMERIC, "no bandwidth gave a finite validation error");
        goto done;
    }
    rep->n_bandwidth = search ? nb : 0;
    if (!search) rep->bandwidth_best = -1;
    rep->path_ridge = mdl->path;
    rep->path_val_mse = mdl->path + rep->n_path;
    rep->val_mse = rep->path_val_mse[rep->path_best];
    rep->ridge = rep->path_ridge[rep->path_best];
    rep->ridge_select = rep->ridge;
    rep->val_mse_select = rep->val_mse;
done:
    free(idx);
    bfc_free(W.Xs), bfc_free(W.Xv), bfc_free(W.ys), bfc_free(W.yv);
    bfc_square_free(W.Ks, W.s), bfc_free(W.Kvs), bfc_free(W.P), bfc_free(W.w), bfc_free(W.b);
    bfc_free(W.ridges), bfc_free(W.mse);
    return st;
}

/* ------------------------------------------------------------------ the final solve */

static void centered(const double *y, int n, double mean, double *out)
{
    for (int i = 0; i < n; i++) out[i] = y[i] - mean;
}

/* bfc_dense_restore_fn: the Gram's upper triangle rebuilt from the model's inputs (a failed
 * dpotrf has overwritten it; the Gram costs a few percent of the Cholesky, and keeping no
 * copy of it keeps the fit at one n × n matrix). */
static int restore_gram(void *ctx, double *K, int n)
{
    const bfc_krr *mdl = ctx;
    return bfc_kernel_gram_upper(&mdl->kernel, mdl->X, n, mdl->d, K);
}

/* (K + λI) α = y − ȳ on the Gram K (n × n, upper triangle) by bfc_dense_solve (its fallbacks
 * recorded in the report); b (n) is scratch for the right-hand side. */
static int solve_final(bfc_krr *mdl, double *K, double *b, const double *y, double room)
{
    bfc_krr_report *rep = mdl->report;
    centered(y, mdl->n, mdl->y_mean, b);
    bfc_dense_report dr;
    const int st = bfc_dense_solve(K, mdl->n, rep->ridge, b, mdl->alpha, room, restore_gram, mdl,
                                   "krr", &dr);
    rep->seconds_cholesky = dr.seconds_cholesky;
    rep->gflops_cholesky = rep->flops_cholesky / rep->seconds_cholesky / 1e9;
    rep->fallback = dr.fallback;
    rep->jitter = dr.jitter;
    snprintf(rep->fallback_what, sizeof rep->fallback_what, "%s", dr.what);
    return st;
}

/* ------------------------------------------------------------------ the refinement */

/* Validation MSE of the fit on the training part at ridge lam: Gram (upper) into K (nt × nt),
 * Cholesky, prediction of the validation set. INFINITY when the Cholesky fails. */
static int refine_candidate(const bfc_kernel *k, const double *Xt, const double *yt, int nt,
                            const double *Xv, const double *yv, int v, int d, double mean,
                            double lam, double *K, double *a, double *pv, double *mse)
{
    int st = bfc_kernel_gram_upper(k, Xt, nt, d, K);
    if (st) return st;
    double maxd = 0.0;
    for (int i = 0; i < nt; i++) {
        maxd = fmax(maxd, K[(size_t)i * nt + i]);
        K[(size_t)i * nt + i] += lam;
    }
    centered(yt, nt, mean, a);
    char why[128];
    if (bfc_dense_cholesky(K, nt, a, maxd + lam, NULL, why, sizeof why)) {
        *mse = INFINITY;
        return BFC_OK;
    }
    for (int j = 0; j < v; j++) pv[j] = 0.0;
    if ((st = bfc_kernel_matvec(k, Xv, v, Xt, nt, d, a, pv))) return st;
    double e = 0.0;
    for (int j = 0; j < v; j++) e += (yv[j] - mean - pv[j]) * (yv[j] - mean - pv[j]);
    *mse = e / v;
    if (!isfinite(*mse)) *mse = INFINITY;
    return BFC_OK;
}

/* Refine the ridge chosen on S by fits on the whole training part (krr.h, step 2b). */
static int refine_ridge(const bfc_krr_config *cfg, const double *X, const double *y, int n, int d,
                        bfc_krr *mdl, double t_start)
{
    bfc_krr_report *rep = mdl->report;
    int v, s;
    split_sizes(cfg, n, &v, &s);
    const int nt = n - v;
    int *idx = split_permutation(cfg, n);
    double *Xt = bfc_alloc_d((size_t)nt * d), *yt = bfc_alloc_d((size_t)nt);
    double *Xv = bfc_alloc_d((size_t)v * d), *yv = bfc_alloc_d((size_t)v);
    double *a = bfc_alloc_d((size_t)nt), *pv = bfc_alloc_d((size_t)v);
    double *K = bfc_square_alloc(nt);
    int st = BFC_OK;
    if (!idx || !Xt || !yt || !Xv || !yv || !a || !pv || !K) {
        st = bfc_fail(BFC_ENOMEM, "cannot allocate the refinement (%d x %d Gram, %.1f MiB)", nt,
                      nt, mib(4.0 * nt * (nt + 1.0)));
        goto done;
    }
    gather(X, y, idx, v, d, Xv, yv);
    gather(X, y, idx + v, nt, d, Xt, yt);
    double mean = 0.0;
    if (cfg->center) {
        for (int j = 0; j < nt; j++) mean += yt[j];
        mean /= nt;
    }
    /* λ*, λ* / √10, λ* / 10, ... while it improves; λ*·√10 when the first step down does not */
    const double f = sqrt(10.0), lam0 = rep->ridge_select;
    int best = 0, m = 0, up_tried = 0;
    double lam = lam0;
    while (m < BFC_KRR_REFINE_MAX) {
        double e = INFINITY;
        if ((st = refine_candidate(&mdl->kernel, Xt, yt, nt, Xv, yv, v, d, mean, lam, K, a, pv,
                                   &e)))
            goto done;
        rep->refine_ridge[m] = lam;
        rep->refine_val_mse[m] = e;
        if (cfg->verbose) {
            char msg[160];
            snprintf(msg, sizeof msg, "refinement on %d points: ridge %.3g, validation MSE %.4g",
                     nt, lam, e);
            progress(cfg, t_start, msg);
        }
        const int improved = m == 0 || e < rep->refine_val_mse[best] * (1.0 - KRR_MIN_GAIN);
        if (m > 0 && improved) best = m;
        m++;
        if (up_tried) break;
        if (improved && lam <= lam0) {
            lam /= f; /* keep going down */
        } else if (best == 0) {
            lam = lam0 * f; /* the first step down did not help: one step up */
            up_tried = 1;
        } else {
            break;
        }
    }
    rep->n_refine = m;
    rep->refine_best = best;
    /* every Cholesky failed: keep λ* and leave the fallbacks to the final solve */
    if (isfinite(rep->refine_val_mse[best])) {
        rep->ridge = rep->refine_ridge[best];
        rep->val_mse = rep->refine_val_mse[best];
    }
done:
    free(idx);
    bfc_free(Xt), bfc_free(yt), bfc_free(Xv), bfc_free(yv), bfc_free(a), bfc_free(pv);
    bfc_square_free(K, nt);
    return st;
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
    if (cfg->ridge == 0.0 &&
        (st = bfc_krr_check_selection(n, cfg->val_fraction, cfg->select_max, cfg->ridge_grid_min,
                                      cfg->ridge_grid_max, cfg->ridge_grid_count)))
        return st;
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
                        bfc_krr_largest_n(cfg, n, 0, d, limit));
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
    rep->bandwidth_best = -1;
    rep->refine_best = -1;
    rep->val_mse = NAN;
    rep->val_mse_select = NAN;
    rep->ridge_select = NAN;
    rep->bytes_estimate = est;
    rep->mem_limit = limit == SIZE_MAX ? 0 : limit;
    rep->flops_cholesky = (double)n * (double)n * (double)n / 3.0;

    double *K = NULL, *diag = NULL;
    if (cfg->ridge == 0.0) {
        const double ts = bfc_wall_seconds();
        st = select_ridge(cfg, X, y, n, d, mdl, t0);
        rep->seconds_select = bfc_wall_seconds() - ts;
        if (st) goto fail;
        if (refines(cfg, n)) {
            const double tr = bfc_wall_seconds();
            st = refine_ridge(cfg, X, y, n, d, mdl, t0);
            rep->seconds_refine = bfc_wall_seconds() - tr;
            if (st) goto fail;
        }
        if (cfg->verbose) {
            char msg[160];
            char bw[48] = "";
            if (uses_bandwidth(&mdl->kernel))
                snprintf(bw, sizeof bw, " (s2 %.4g)", mdl->kernel.bandwidth2);
            snprintf(msg, sizeof msg, "ridge %.3g%s chosen on %d + %d points%s, validation MSE "
                     "%.4g", rep->ridge, bw, rep->n_select, rep->n_val,
                     rep->n_refine ? " and refined" : "", rep->val_mse);
            progress(cfg, t0, msg);
        }
    } else {
        rep->ridge = cfg->ridge;
    }

    mdl->X = bfc_alloc_d((size_t)n * (size_t)d);
    mdl->alpha = bfc_alloc_d((size_t)n);
    diag = bfc_alloc_d((size_t)n);
    K = bfc_square_alloc(n);
    if (!mdl->X || !mdl->alpha || !diag || !K) {
        st = bfc_fail(BFC_ENOMEM, "cannot allocate the %d x %d kernel matrix (%.1f MiB)", n, n,
                      mib(8.0 * n * (double)n));
        goto fail;
    }
    memcpy(mdl->X, X, sizeof(double) * (size_t)n * (size_t)d);
    double tb = bfc_wall_seconds();
    if ((st = bfc_kernel_gram_upper(&mdl->kernel, X, n, d, K))) goto fail;
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
    rep->bandwidth2 = mdl->kernel.bandwidth2;
    progress(cfg, t0, "Gram built, Cholesky next");
    tb = bfc_wall_seconds();
    st = solve_final(mdl, K, diag, y, (double)limit - (double)est);
    rep->seconds_solve = bfc_wall_seconds() - tb;
    if (st) goto fail;
    bfc_square_free(K, n);
    bfc_free(diag);
    rep->seconds_fit = bfc_wall_seconds() - t0;
    progress(cfg, t0, "fit done");
    *model = mdl;
    return BFC_OK;
fail:
    bfc_square_free(K, n);
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
