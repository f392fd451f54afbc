/* entk.c: empirical NTK of the learner at initialisation (gradient rows in blocks, Gram by
 * DSYRK/DGEMM) and kernel ridge regression on a precomputed Gram matrix (entk.h). */
#include "entk.h"

#include <cblas.h>
#include <float.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "krr.h"
#include "lapack.h"
#include "rng.h"

/* ---- gradients and Gram matrices ------------------------------------------------------ */

/* The learner of (tc, lc) and the geometry of the kernel's parameters. */
typedef struct {
    bfc_learner *lr;
    int d, classif;
    size_t np, off, len, P; /* all parameters; the slice of layers 2..L; P = len (+ bias) */
    double *grad;           /* np scratch */
} grad_ctx;

static void ctx_free(grad_ctx *g)
{
    bfc_learner_free(g->lr);
    bfc_free(g->grad);
}

static int ctx_new(const bfc_target_config *tc, const bfc_learner_config *lc, grad_ctx *g)
{
    memset(g, 0, sizeof *g);
    int st;
    g->lr = bfc_learner_new(tc, lc, 1, &st);
    if (!g->lr) return st;
    g->d = tc->d;
    g->classif = tc->task == BFC_TASK_CLASSIFICATION;
    g->np = bfc_learner_nparams(g->lr);
    bfc_learner_slice(g->lr, 2, bfc_learner_L(g->lr), &g->off, &g->len);
    g->P = g->len + (g->classif ? 1u : 0u);
    g->grad = bfc_alloc_d(g->np);
    if (!g->grad) {
        ctx_free(g);
        return bfc_fail(BFC_ENOMEM, "out of memory for a gradient of %zu parameters", g->np);
    }
    return BFC_OK;
}

/* G (n, P) = ∂F(x_i)/∂θ over the kernel's parameters (the bias first for classification). */
static int gradient_rows(grad_ctx *g, const double *X, int n, double *G)
{
    const int L = bfc_learner_L(g->lr);
    for (int i = 0; i < n; i++) {
        bfc_learner_output_grad(g->lr, X + (size_t)i * g->d, L, 2, g->grad);
        double *row = G + (size_t)i * g->P;
        if (g->classif) *row++ = g->grad[0];
        memcpy(row, g->grad + g->off, sizeof(double) * g->len);
        for (size_t q = 0; q < g->len; q++)
            if (!isfinite(row[q]))
                return bfc_fail(BFC_ENUMERIC, "eNTK: gradient of example %d is not finite "
                                              "(check the inputs and init_scale)", i);
    }
    return BFC_OK;
}

static int block_rows(size_t block_bytes, size_t P, int n)
{
    size_t r = block_bytes / (sizeof(double) * P);
    if (r < 1) r = 1;
    return r > (size_t)n ? n : (int)r;
}

int bfc_entk_nparams(const bfc_target_config *tc, const bfc_learner_config *lc, size_t *P)
{
    grad_ctx g;
    int st = ctx_new(tc, lc, &g);
    if (st) return st;
    *P = g.P;
    ctx_free(&g);
    return BFC_OK;
}

size_t bfc_entk_memory_estimate(const bfc_target_config *tc, const bfc_learner_config *lc, int n,
                                int m)
{
    grad_ctx g;
    if (ctx_new(tc, lc, &g)) return 0;
    int rx = block_rows(BFC_ENTK_BLOCK_BYTES, g.P, n > 0 ? n : 1);
    int rz = m > 0 ? block_rows(BFC_ENTK_BLOCK_BYTES, g.P, m) : (rx < n ? rx : 0);
    double bytes = 8.0 * (double)g.P * (rx + rz) + 8.0 * 2.0 * (double)g.np;
    ctx_free(&g);
    return (size_t)bytes;
}

int bfc_entk_gram_blocked(const bfc_target_config *tc, const bfc_learner_config *lc,
                          const double *X, int n, const double *Z, int m, double *K,
                          size_t block_bytes)
{
    if (n < 1 || m < 1)
        return bfc_fail(BFC_EINVAL, "eNTK: need n >= 1 and m >= 1 rows (got %d, %d)", n, m);
    grad_ctx g;
    int st = ctx_new(tc, lc, &g);
    if (st) return st;
    const size_t P = g.P;
    const int rx = block_rows(block_bytes, P, n), rz = block_rows(block_bytes, P, m);
    const int z_whole = rz == m;
    double *GX = bfc_alloc_d((size_t)rx * P), *GZ = bfc_alloc_d((size_t)rz * P);
    if (!GX || !GZ) {
        st = bfc_fail(BFC_ENOMEM, "eNTK: out of memory for gradient blocks (%d + %d rows of %zu "
                                  "parameters, %.2f GB)",
                      rx, rz, P, 8e-9 * (double)P * (rx + rz));
        goto out;
    }
    if (z_whole && (st = gradient_rows(&g, Z, m, GZ))) goto out;
    for (int x0 = 0; x0 < n; x0 += rx) {
        const int bx = n - x0 < rx ? n - x0 : rx;
        if ((st = gradient_rows(&g, X + (size_t)x0 * g.d, bx, GX))) goto out;
        for (int z0 = 0; z0 < m; z0 += rz) {
            const int bz = m - z0 < rz ? m - z0 : rz;
            if (!z_whole && (st = gradient_rows(&g, Z + (size_t)z0 * g.d, bz, GZ))) goto out;
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, bx, bz, (int)P, 1.0, GX, (int)P,
                        GZ, (int)P, 0.0, K + (size_t)x0 * m + z0, m);
        }
    }
out:
    bfc_free(GX);
    bfc_free(GZ);
    ctx_free(&g);
    return st;
}

int bfc_entk_gram_sym_blocked(const bfc_target_config *tc, const bfc_learner_config *lc,
                              const double *X, int n, double *K, size_t block_bytes)
{
    if (n < 1) return bfc_fail(BFC_EINVAL, "eNTK: need n >= 1 rows (got %d)", n);
    grad_ctx g;
    int st = ctx_new(tc, lc, &g);
    if (st) return st;
    const size_t P = g.P;
    const int r = block_rows(block_bytes, P, n);
    double *Gi = bfc_alloc_d((size_t)r * P), *Gj = r < n ? bfc_alloc_d((size_t)r * P) : NULL;
    if (!Gi || (r < n && !Gj)) {
        st = bfc_fail(BFC_ENOMEM, "eNTK: out of memory for gradient blocks (%d rows of %zu "
                                  "parameters, %.2f GB)",
                      r, P, 8e-9 * (double)P * r * (r < n ? 2 : 1));
        goto out;
    }
    /* upper triangle block by block: DSYRK on the diagonal, DGEMM to its right */
    for (int i0 = 0; i0 < n; i0 += r) {
        const int bi = n - i0 < r ? n - i0 : r;
        if ((st = gradient_rows(&g, X + (size_t)i0 * g.d, bi, Gi))) goto out;
        double *Kii = K + (size_t)i0 * n + i0;
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, bi, (int)P, 1.0, Gi, (int)P, 0.0,
                    Kii, n);
        for (int j0 = i0 + bi; j0 < n; j0 += r) {
            const int bj = n - j0 < r ? n - j0 : r;
            if ((st = gradient_rows(&g, X + (size_t)j0 * g.d, bj, Gj))) goto out;
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, bi, bj, (int)P, 1.0, Gi, (int)P,
                        Gj, (int)P, 0.0, K + (size_t)i0 * n + j0, n);
        }
    }
    /* mirror in tiles */
    enum { TILE = 64 };
    for (int ib = 0; ib < n; ib += TILE)
        for (int jb = ib; jb < n; jb += TILE)
            for (int i = ib; i < ib + TILE && i < n; i++)
                for (int j = (jb > i + 1 ? jb : i + 1); j < jb + TILE && j < n; j++)
                    K[(size_t)j * n + i] = K[(size_t)i * n + j];
out:
    bfc_free(Gi);
    bfc_free(Gj);
    ctx_free(&g);
    return st;
}

int bfc_entk_gram(const bfc_target_config *tc, const bfc_learner_config *lc, const double *X,
                  int n, const double *Z, int m, double *K)
{
    return bfc_entk_gram_blocked(tc, lc, X, n, Z, m, K, BFC_ENTK_BLOCK_BYTES);
}

int bfc_entk_gram_sym(const bfc_target_config *tc, const bfc_learner_config *lc, const double *X,
                      int n, double *K)
{
    return bfc_entk_gram_sym_blocked(tc, lc, X, n, K, BFC_ENTK_BLOCK_BYTES);
}

/* ---- kernel ridge regression on a precomputed Gram matrix ----------------------------- */

void bfc_entk_ridge_defaults(bfc_entk_ridge_config *c)
{
    c->ridge = 0.0;
    c->ridge_grid_min = BFC_KRR_GRID_MIN;
    c->ridge_grid_max = BFC_KRR_GRID_MAX;
    c->ridge_grid_count = BFC_KRR_GRID_COUNT;
    c->val_fraction = BFC_KRR_VAL_FRACTION;
    c->select_max = BFC_KRR_SELECT_MAX;
    c->center = 1;
    c->seed = 0;
    c->mem_limit = 0;
}

static int ridge_validate(const bfc_entk_ridge_config *c, int n)
{
    if (n < 1) return bfc_fail(BFC_EINVAL, "eNTK ridge: need n >= 1 (got %d)", n);
    if (!(c->ridge >= 0.0) || !isfinite(c->ridge))
        return bfc_fail(BFC_EINVAL, "eNTK ridge: ridge must be > 0, or 0 to choose it (got %g)",
                        c->ridge);
    if (c->ridge > 0.0) return BFC_OK;
    if (n < 2)
        return bfc_fail(BFC_EINVAL, "eNTK ridge: choosing the ridge needs n >= 2 (got %d)", n);
    if (!(c->val_fraction > 0.0 && c->val_fraction < 1.0))
        return bfc_fail(BFC_EINVAL, "eNTK ridge: val_fraction must be in (0, 1) (got %g)",
                        c->val_fraction);
    if (c->select_max < 1 || c->ridge_grid_count < 1)
        return bfc_fail(BFC_EINVAL, "eNTK ridge: select_max and ridge_grid_count must be >= 1");
    if (!(c->ridge_grid_min > 0.0) || !(c->ridge_grid_max >= c->ridge_grid_min) ||
        !isfinite(c->ridge_grid_max))
        return bfc_fail(BFC_EINVAL, "eNTK ridge: grid must satisfy 0 < min <= max (got %g .. %g)",
                        c->ridge_grid_min, c->ridge_grid_max);
    return BFC_OK;
}

/* Validation and selection sizes, as krr.c splits. */
static void split_sizes(const bfc_entk_ridge_config *c, int n, int *v, int *s)
{
    long vv = lround(c->val_fraction * n);
    if (vv < 1) vv = 1;
    if (vv > n - 1) vv = n - 1;
    long ss = n - vv;
    if (ss > c->select_max) ss = c->select_max;
    *v = (int)vv;
    *s = (int)ss;
}

/* Absolute ridge chosen on the validation split; fills the report's selection fields. */
static int select_ridge(const bfc_entk_ridge_config *c, const double *K, const double *y, int n,
                        bfc_entk_ridge_report *rep)
{
    const int nr = c->ridge_grid_count;
    int v, s;
    split_sizes(c, n, &v, &s);
    rep->n_val = v;
    rep->n_select = s;
    int *idx = malloc(sizeof(int) * (size_t)n);
    double *Ks = bfc_alloc_d((size_t)s * s), *Kvs = bfc_alloc_d((size_t)v * s);
    double *P = bfc_alloc_d((size_t)v * nr), *ys = bfc_alloc_d((size_t)s);
    double *ridges = bfc_alloc_d((size_t)nr);
    gsl_rng *rng = bfc_rng_new(c->seed, BFC_STREAM_VAL);
    int st = BFC_OK;
    if (!idx || !Ks || !Kvs || !P || !ys || !ridges || !rng) {
        st = bfc_fail(BFC_ENOMEM, "eNTK ridge: out of memory for the selection (%d x %d)", s, s);
        goto out;
    }
    for (int i = 0; i < n; i++) idx[i] = i;
    gsl_ran_shuffle(rng, idx, (size_t)n, sizeof(int));
    const int *iv = idx, *is = idx + v;
    double ys_mean = 0.0;
    for (int a = 0; a < s; a++) {
        ys[a] = y[is[a]];
        ys_mean += ys[a];
        for (int b = 0; b < s; b++) Ks[(size_t)a * s + b] = K[(size_t)is[a] * n + is[b]];
    }
    ys_mean = c->center ? ys_mean / s : 0.0;
    for (int a = 0; a < s; a++) ys[a] -= ys_mean;
    for (int j = 0; j < v; j++)
        for (int b = 0; b < s; b++) Kvs[(size_t)j * s + b] = K[(size_t)iv[j] * n + is[b]];
    double md = 0.0;
    for (int a = 0; a < s; a++) md += Ks[(size_t)a * s + a];
    md /= s;
    for (int r = 0; r < nr; r++) {
        const double t = nr > 1 ? (double)r / (nr - 1) : 0.0;
        ridges[r] = md * c->ridge_grid_min * pow(c->ridge_grid_max / c->ridge_grid_min, t);
    }
    if ((st = bfc_krr_ridge_path(Ks, ys, Kvs, s, v, ridges, nr, P, NULL))) goto out;
    int best = -1;
    double best_mse = INFINITY;
    for (int r = 0; r < nr; r++) {
        double e = 0.0;
        for (int j = 0; j < v; j++) {
            const double res = y[iv[j]] - ys_mean - P[(size_t)j * nr + r];
            e += res * res;
        }
        e /= v;
        if (isfinite(e) && (best < 0 || e < best_mse)) {
            best = r;
            best_mse = e;
        }
    }
    if (best < 0) {
        st = bfc_fail(BFC_ENUMERIC, "eNTK ridge: no ridge of the grid gave a finite validation "
                                    "error");
        goto out;
    }
    rep->ridge = ridges[best];
    rep->val_mse = best_mse;
out:
    free(idx);
    bfc_free(Ks);
    bfc_free(Kvs);
    bfc_free(P);
    bfc_free(ys);
    bfc_free(ridges);
    if (rng) gsl_rng_free(rng);
    return st;
}

/* coef = (A + λI)⁻¹ rhs by the eigendecomposition of A (n, n; destroyed), eigenvalues with
 * λ_i + λ ≤ n·ε·max|λ_i| dropped. */
static int eigen_solve(double *A, int n, double ridge, double *coef)
{
    int info = 0, lwork = -1, liwork = -1, iwq = 0;
    double wq = 0.0;
    double *w = bfc_alloc_d((size_t)n), *b = bfc_alloc_d((size_t)n);
    if (w) dsyevd_("V", "L", &n, A, &n, w, &wq, &lwork, &iwq, &liwork, &info);
    lwork = (int)wq;
    liwork = iwq;
    double *work = w ? bfc_alloc_d((size_t)lwork) : NULL;
    int *iwork = w ? malloc(sizeof(int) * (size_t)(liwork > 0 ? liwork : 1)) : NULL;
    int st = BFC_OK;
    if (!w || !b || !work || !iwork) {
        st = bfc_fail(BFC_ENOMEM, "eNTK ridge: out of memory for the eigen fallback (n = %d)", n);
        goto out;
    }
    dsyevd_("V", "L", &n, A, &n, w, work, &lwork, iwork, &liwork, &info);
    if (info != 0) {
        st = bfc_fail(BFC_ENUMERIC, "eNTK ridge: eigendecomposition failed (info %d)", info);
        goto out;
    }
    cblas_dgemv(CblasRowMajor, CblasNoTrans, n, n, 1.0, A, n, coef, 1, 0.0, b, 1);
    const double tol = (double)n * DBL_EPSILON * fmax(fabs(w[0]), fabs(w[n - 1]));
    for (int i = 0; i < n; i++) b[i] = w[i] + ridge > tol ? b[i] / (w[i] + ridge) : 0.0;
    cblas_dgemv(CblasRowMajor, CblasTrans, n, n, 1.0, A, n, b, 1, 0.0, coef, 1);
out:
    bfc_free(w);
    bfc_free(b);
    bfc_free(work);
    free(iwork);
    return st;
}

int bfc_entk_ridge_fit(const bfc_entk_ridge_config *c, const double *K, const double *y, int n,
                       double *coef, bfc_entk_ridge_report *rep_out)
{
    bfc_entk_ridge_report local, *rep = rep_out ? rep_out : &local;
    memset(rep, 0, sizeof *rep);
    rep->val_mse = NAN;
    rep->n = n;
    int st = ridge_validate(c, n);
    if (st) return st;
    for (int i = 0; i < n; i++)
        if (!isfinite(y[i]) || !isfinite(K[(size_t)i * n + i]))
            return bfc_fail(BFC_EINVAL, "eNTK ridge: label or kernel diagonal %d is not finite", i);

    /* memory: the selection (s² + dsyevd's 2s² + v·s) or the final copy of K (n²) */
    size_t limit = c->mem_limit ? c->mem_limit : bfc_krr_default_mem_limit();
    int v = 0, s = 0;
    if (c->ridge == 0.0) split_sizes(c, n, &v, &s);
    double sel = 8.0 * (3.0 * s * (double)s + (double)v * s + (double)v * c->ridge_grid_count);
    double fin = 8.0 * ((double)n * n + 3.0 * n);
    double est = sel > fin ? sel : fin;
    if (limit && est > (double)limit)
        return bfc_fail(BFC_ENOMEM, "eNTK ridge on n = %d needs about %.1f MiB, above the limit "
                                    "of %.1f MiB: subsample or raise mem_limit",
                        n, est / 1048576.0, (double)limit / 1048576.0);

    double t0 = bfc_wall_seconds();
    if (c->ridge == 0.0) {
        if ((st = select_ridge(c, K, y, n, rep))) return st;
    } else {
        rep->ridge = c->ridge;
    }
    rep->seconds_select = bfc_wall_seconds() - t0;

    t0 = bfc_wall_seconds();
    double md = 0.0, maxd = 0.0, ym = 0.0;
    for (int i = 0; i < n; i++) {
        md += K[(size_t)i * n + i];
        maxd = fmax(maxd, K[(size_t)i * n + i]);
        ym += y[i];
    }
    rep->mean_diag = md / n;
    rep->ridge_relative = rep->mean_diag > 0 ? rep->ridge / rep->mean_diag : NAN;
    rep->y_mean = c->center ? ym / n : 0.0;
    double *A = bfc_alloc_d((size_t)n * n);
    if (!A) return bfc_fail(BFC_ENOMEM, "eNTK ridge: out of memory for the %d x %d solve", n, n);
    memcpy(A, K, sizeof(double) * (size_t)n * n);
    for (int i = 0; i < n; i++) {
        A[(size_t)i * n + i] += rep->ridge;
        coef[i] = y[i] - rep->y_mean;
    }
    int info = 0, one = 1, ok = 1;
    dpotrf_("L", &n, A, &n, &info);
    ok = info == 0;
    for (int i = 0; ok && i < n; i++) {
        const double p = A[(size_t)i * n + i];
        ok = p * p > DBL_EPSILON * (maxd + rep->ridge);
    }
    if (ok) {
        dpotrs_("L", &n, &one, A, &n, coef, &n, &info);
        for (int i = 0; ok && i < n; i++) ok = info == 0 && isfinite(coef[i]);
    }
    if (!ok) {
        fprintf(stderr, "bfc entk: warning: Cholesky of K + %.3g I failed (info %d or a pivot "
                        "below rounding); solving by eigen pseudo-inverse\n",
                rep->ridge, info);
        rep->fallback = 1;
        memcpy(A, K, sizeof(double) * (size_t)n * n);
        for (int i = 0; i < n; i++) coef[i] = y[i] - rep->y_mean;
        st = eigen_solve(A, n, rep->ridge, coef);
        for (int i = 0; !st && i < n; i++)
            if (!isfinite(coef[i]))
                st = bfc_fail(BFC_ENUMERIC, "eNTK ridge: coefficients are not finite");
    }
    bfc_free(A);
    rep->seconds_solve = bfc_wall_seconds() - t0;
    return st;
}

int bfc_entk_regress(const bfc_target_config *tc, const bfc_learner_config *lc,
                     const bfc_entk_ridge_config *c, int offset_init, const bfc_data *train,
                     const double *Xt, int m, double *pred, bfc_entk_ridge_report *rep_out)
{
    bfc_entk_ridge_report local, *rep = rep_out ? rep_out : &local;
    const double t0 = bfc_wall_seconds();
    const int n = train->n;
    if (train->d != tc->d)
        return bfc_fail(BFC_EINVAL, "eNTK: data dimension %d does not match d = %d", train->d,
                        tc->d);
    if (m < 1) return bfc_fail(BFC_EINVAL, "eNTK: need at least one test point (got %d)", m);
    int st;
    size_t P = 0;
    if ((st = bfc_entk_nparams(tc, lc, &P))) return st;
    double *K = bfc_alloc_d((size_t)n * n), *r = bfc_alloc_d((size_t)n);
    double *coef = bfc_alloc_d((size_t)n), *f0 = bfc_alloc_d((size_t)(n > m ? n : m));
    bfc_learner *lr = NULL;
    if (!K || !r || !coef || !f0) {
        st = bfc_fail(BFC_ENOMEM, "eNTK: out of memory for the %d x %d Gram matrix (%.2f GB)", n,
                      n, 8e-9 * (double)n * n);
        goto out;
    }
    double tg = bfc_wall_seconds();
    if ((st = bfc_entk_gram_sym(tc, lc, train->X, n, K))) goto out;
    double sec_gram = bfc_wall_seconds() - tg;
    if (offset_init) {
        if (!(lr = bfc_learner_new(tc, lc, 256, &st))) goto out;
        bfc_learner_predict(lr, train->X, n, tc->L, f0);
    }
    double f0_ss = 0.0;
    for (int i = 0; i < n; i++) {
        double f = offset_init ? f0[i] : 0.0;
        r[i] = train->y[i] - f;
        f0_ss += f * f;
    }
    if ((st = bfc_entk_ridge_fit(c, K, r, n, coef, rep))) goto out;
    rep->n_params = P;
    rep->f0_rms = sqrt(f0_ss / n);
    rep->seconds_gram = sec_gram;
    /* predictions: Θ(test, train) in row blocks that reuse K's storage */
    tg = bfc_wall_seconds();
    int rows = n, nb;
    for (int i0 = 0; i0 < m; i0 += nb) {
        nb = m - i0 < rows ? m - i0 : rows;
        if ((st = bfc_entk_gram(tc, lc, Xt + (size_t)i0 * tc->d, nb, train->X, n, K))) goto out;
        for (int i = 0; i < nb; i++) pred[i0 + i] = rep->y_mean;
        cblas_dgemv(CblasRowMajor, CblasNoTrans, nb, n, 1.0, K, n, coef, 1, 1.0, pred + i0, 1);
    }
    if (offset_init) {
        bfc_learner_predict(lr, Xt, m, tc->L, f0);
        for (int i = 0; i < m; i++) pred[i] += f0[i];
    }
    rep->seconds_gram_test = bfc_wall_seconds() - tg;
    for (int i = 0; i < m && !st; i++)
        if (!isfinite(pred[i])) st = bfc_fail(BFC_ENUMERIC, "eNTK: prediction %d is not finite", i);
    rep->seconds_total = bfc_wall_seconds() - t0;
out:
    bfc_learner_free(lr);
    bfc_free(K);
    bfc_free(r);
    bfc_free(coef);
    bfc_free(f0);
    return st;
}
