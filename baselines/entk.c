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

#include "dense_solve.h"
#include "krr.h"
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

/* The selection's defaults are krr's (bfc_krr_defaults). */
void bfc_entk_ridge_defaults(bfc_entk_ridge_config *c)
{
    bfc_krr_config k;
    bfc_krr_defaults(&k, 1);
    c->ridge = k.ridge;
    c->ridge_grid_min = k.ridge_grid_min;
    c->ridge_grid_max = k.ridge_grid_max;
    c->ridge_grid_count = k.ridge_grid_count;
    c->val_fraction = k.val_fraction;
    c->select_max = k.select_max;
    c->center = k.center;
    c->seed = k.seed;
    c->mem_limit = k.mem_limit;
}

static int ridge_validate(const bfc_entk_ridge_config *c, int n)
{
    if (n < 1) return bfc_fail(BFC_EINVAL, "eNTK ridge: need n >= 1 (got %d)", n);
    if (!(c->ridge >= 0.0) || !isfinite(c->ridge))
        return bfc_fail(BFC_EINVAL, "eNTK ridge: ridge must be > 0, or 0 to choose it (got %g)",
                        c->ridge);
    if (c->ridge > 0.0) return BFC_OK;
    return bfc_krr_check_selection(n, c->val_fraction, c->select_max, c->ridge_grid_min,
                                   c->ridge_grid_max, c->ridge_grid_count);
}

static void split_sizes(const bfc_entk_ridge_config *c, int n, int *v, int *s)
{
    bfc_krr_split_sizes(c->val_fraction, c->select_max, n, v, s);
}

/* Peak bytes of bfc_entk_ridge_fit besides the caller's K: the selection (its submatrices,
 * dsyevd's workspace, the path) or the solve (the upper triangle of the copy of K, the
 * right-hand side, the solve's diagonal). */
static double ridge_fit_bytes(const bfc_entk_ridge_config *c, int n)
{
    int v = 0, s = 0;
    if (c->ridge == 0.0 && n >= 2) split_sizes(c, n, &v, &s);
    const double nr = c->ridge_grid_count, sd = s, vd = v;
    const double sel = 8.0 * (sd * sd + (double)bfc_eigen_work_doubles(s) + vd * sd + vd * nr +
                              3.0 * sd + 2.0 * sd * nr + nr) +
                       4.0 * ((double)n + (double)bfc_eigen_iwork_ints(s));
    const double fin = bfc_square_upper_bytes(n) + 8.0 * 2.0 * n;
    return sel > fin ? sel : fin;
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
    bfc_krr_ridge_grid(md, c->ridge_grid_min, c->ridge_grid_max, nr, ridges);
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

/* bfc_dense_restore_fn: the upper triangle of the caller's Gram copied back */
static int restore_copy(void *ctx, double *A, int n)
{
    const double *K = ctx;
    for (int i = 0; i < n; i++)
        memcpy(A + (size_t)i * n + i, K + (size_t)i * n + i, sizeof(double) * (size_t)(n - i));
    return BFC_OK;
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

    size_t limit = c->mem_limit ? c->mem_limit : bfc_krr_default_mem_limit();
    const double est = ridge_fit_bytes(c, n);
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
    double md = 0.0, ym = 0.0;
    for (int i = 0; i < n; i++) {
        md += K[(size_t)i * n + i];
        ym += y[i];
    }
    rep->mean_diag = md / n;
    rep->ridge_relative = rep->mean_diag > 0 ? rep->ridge / rep->mean_diag : NAN;
    rep->y_mean = c->center ? ym / n : 0.0;
    double *A = bfc_square_alloc(n), *b = bfc_alloc_d((size_t)n);
    if (!A || !b) {
        bfc_square_free(A, n);
        bfc_free(b);
        return bfc_fail(BFC_ENOMEM, "eNTK ridge: out of memory for the %d x %d solve", n, n);
    }
    restore_copy((void *)K, A, n);
    for (int i = 0; i < n; i++) b[i] = y[i] - rep->y_mean;
    bfc_dense_report dr;
    const double room = limit ? (double)limit - est : INFINITY;
    st = bfc_dense_solve(A, n, rep->ridge, b, coef, room, restore_copy, (void *)K, "entk", &dr);
    rep->fallback = dr.fallback;
    rep->jitter = dr.jitter;
    snprintf(rep->fallback_what, sizeof rep->fallback_what, "%s", dr.what);
    bfc_square_free(A, n);
    bfc_free(b);
    rep->seconds_solve = bfc_wall_seconds() - t0;
    return st;
}

size_t bfc_entk_regress_memory_estimate(const bfc_target_config *tc,
                                        const bfc_learner_config *lc,
                                        const bfc_entk_ridge_config *c, int n, int m)
{
    grad_ctx g;
    if (n < 1 || ctx_new(tc, lc, &g)) return 0;
    const double np = (double)g.np;
    ctx_free(&g);
    const int rows = m < n ? m : n; /* a block of the test Gram reuses Θ's storage */
    /* Θ (both triangles), residual, coefficients, f₀; the learner at initialisation
     * (parameters and its work for 256 rows, about 4 copies of θ); then the largest phase */
    double b = 8.0 * (double)n * n + 8.0 * (2.0 * n + (n > m ? n : m)) + 8.0 * 4.0 * np;
    double phase = (double)bfc_entk_memory_estimate(tc, lc, n, 0);
    phase = fmax(phase, ridge_fit_bytes(c, n));
    phase = fmax(phase, (double)bfc_entk_memory_estimate(tc, lc, rows, n));
    return bfc_dense_process_bytes(b + phase, n);
}

typedef struct {
    const bfc_target_config *tc;
    const bfc_learner_config *lc;
    const bfc_entk_ridge_config *c;
    int m;
} largest_ctx;

static size_t estimate_at(const void *ctx, int n)
{
    const largest_ctx *x = ctx;
    return bfc_entk_regress_memory_estimate(x->tc, x->lc, x->c, n, x->m);
}

int bfc_entk_largest_n(const bfc_target_config *tc, const bfc_learner_config *lc,
                       const bfc_entk_ridge_config *c, int n_max, int m, size_t limit)
{
    const largest_ctx x = {tc, lc, c, m};
    return bfc_largest_n(estimate_at, &x, n_max, limit);
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
    size_t limit = c->mem_limit ? c->mem_limit : bfc_krr_default_mem_limit();
    const size_t est = bfc_entk_regress_memory_estimate(tc, lc, c, n, m);
    if (limit && est > limit)
        return bfc_fail(BFC_ENOMEM, "eNTK on n = %d points needs about %.1f MiB (the n x n Gram "
                                    "matrix alone is %.1f MiB) but the memory limit is %.1f MiB; "
                                    "the largest n that fits is %d: subsample or raise mem_limit",
                        n, (double)est / 1048576.0, 8.0 * n * (double)n / 1048576.0,
                        (double)limit / 1048576.0, bfc_entk_largest_n(tc, lc, c, n, m, limit));
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
