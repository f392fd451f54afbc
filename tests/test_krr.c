/* test_krr.c: kernel ridge regression against direct dense solves, its ridge path, its
 * refusals and fallbacks, and scikit-learn's KernelRidge as an external oracle. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <cblas.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bfc.h"
#include "kernel.h"
#include "krr.h"
#include "rng.h"

/* our solve vs an independent dense Cholesky on a system of condition ~1e5: ~1e-11 */
#define DIRECT_TOL 1e-10
/* the eigen path vs Cholesky at ridges down to 1e-4 × mean diag */
#define PATH_TOL 1e-8
/* scikit-learn (LAPACK via SciPy) vs us: same maths, different summation orders */
#define ORACLE_TOL 1e-8
/* interpolation with ridge 1e-10 × diag on a well-conditioned Gram */
#define INTERP_TOL 1e-6

static double *normal_array(size_t n, uint64_t seed, int stream)
{
    double *a = bfc_alloc_d(n);
    gsl_rng *r = bfc_rng_new(seed, stream);
    bfc_rng_normal(r, a, n, 1.0);
    gsl_rng_free(r);
    return a;
}

/* y_i = smooth function of x_i (degree 3 and a sine) + 0.1·noise */
static double *labels(const double *X, int n, int d, uint64_t seed)
{
    double *y = normal_array((size_t)n, seed, BFC_STREAM_BASELINE);
    for (int i = 0; i < n; i++) {
        const double *x = X + (size_t)i * d;
        y[i] = 0.1 * y[i] + x[0] * x[1] - 0.5 * x[0] * x[0] * x[d - 1] + sin(x[d - 1]) + 2.0;
    }
    return y;
}

static double rel_diff(const double *a, const double *b, int n)
{
    double num = 0.0, den = 0.0;
    for (int i = 0; i < n; i++) num += (a[i] - b[i]) * (a[i] - b[i]), den += b[i] * b[i];
    return sqrt(num / den);
}

/* x (n) = (K + ridge I)⁻¹ b by GSL's own Cholesky on a copy of K (n × n) */
static void gsl_ridge_solve(const double *K, int n, double ridge, const double *b, double *x)
{
    gsl_matrix *A = gsl_matrix_alloc((size_t)n, (size_t)n);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) gsl_matrix_set(A, i, j, K[(size_t)i * n + j] + (i == j ? ridge : 0.0));
    cr_assert_eq(gsl_linalg_cholesky_decomp1(A), 0);
    gsl_vector_const_view bv = gsl_vector_const_view_array(b, (size_t)n);
    gsl_vector_view xv = gsl_vector_view_array(x, (size_t)n);
    cr_assert_eq(gsl_linalg_cholesky_solve(A, &bv.vector, &xv.vector), 0);
    gsl_matrix_free(A);
}

static double direct_kernel(const bfc_kernel *k, const double *x, const double *z, int d)
{
    double xz = 0.0, dist = 0.0;
    for (int i = 0; i < d; i++) xz += x[i] * z[i], dist += (x[i] - z[i]) * (x[i] - z[i]);
    if (k->kind == BFC_KERNEL_POLY) return pow(k->offset + k->scale * xz, k->degree);
    return exp(-dist / (2.0 * k->bandwidth2));
}

Test(krr, matches_a_direct_dense_solve_by_gsl_cholesky)
{
    const int n = 200, m = 50, d = 5;
    double *X = normal_array((size_t)n * d, 1, BFC_STREAM_TRAIN);
    double *Xt = normal_array((size_t)m * d, 1, BFC_STREAM_TEST);
    double *y = labels(X, n, d, 1);
    double *K = bfc_alloc_d((size_t)n * n), *Kt = bfc_alloc_d((size_t)m * n);
    double *b = bfc_alloc_d((size_t)n), *alpha = bfc_alloc_d((size_t)n);
    double *ref = bfc_alloc_d((size_t)m), *pred = bfc_alloc_d((size_t)m);
    const bfc_kernel_kind kinds[] = {BFC_KERNEL_RBF, BFC_KERNEL_POLY};
    const double ridges[] = {1e-3, 0.5};
    for (int t = 0; t < 2; t++) {
        bfc_krr_config cfg;
        bfc_krr_defaults(&cfg, d);
        cfg.kernel.kind = kinds[t];
        cfg.kernel.degree = 3;
        cfg.ridge = ridges[t];
        bfc_krr *model = NULL;
        cr_assert_eq(bfc_krr_fit(&cfg, X, y, n, d, &model), BFC_OK, "%s", bfc_last_error());
        cr_assert_eq(bfc_krr_predict(model, Xt, m, pred), BFC_OK);

        double mean = 0.0;
        for (int i = 0; i < n; i++) mean += y[i];
        mean /= n;
        for (int i = 0; i < n; i++) {
            b[i] = y[i] - mean;
            for (int j = 0; j < n; j++)
                K[(size_t)i * n + j] = direct_kernel(&cfg.kernel, X + i * d, X + j * d, d);
        }
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
                Kt[(size_t)i * n + j] = direct_kernel(&cfg.kernel, Xt + i * d, X + j * d, d);
        gsl_ridge_solve(K, n, cfg.ridge, b, alpha);
        for (int i = 0; i < m; i++) ref[i] = mean + cblas_ddot(n, Kt + (size_t)i * n, 1, alpha, 1);

        int na;
        const double *our_alpha = bfc_krr_alpha(model, &na);
        cr_expect_eq(na, n);
        cr_expect(rel_diff(our_alpha, alpha, n) <= DIRECT_TOL, "kind %d: alpha differs by %.3g",
                  (int)kinds[t], rel_diff(our_alpha, alpha, n));
        cr_expect(rel_diff(pred, ref, m) <= DIRECT_TOL, "kind %d: predictions differ by %.3g",
                  (int)kinds[t], rel_diff(pred, ref, m));
        const bfc_krr_report *rep = bfc_krr_get_report(model);
        cr_expect(rep->ridge == cfg.ridge && rep->fallback == 0 && rep->n_path == 0);
        cr_expect(fabs(rep->y_mean - mean) <= 1e-14 * fabs(mean));
        cr_expect(rep->flops_cholesky == (double)n * n * n / 3.0);
        bfc_krr_free(model);
    }
    bfc_free(X), bfc_free(Xt), bfc_free(y), bfc_free(K), bfc_free(Kt), bfc_free(b);
    bfc_free(alpha), bfc_free(ref), bfc_free(pred);
}

Test(krr, interpolates_training_points_when_ridge_is_tiny)
{
    /* 60 Gaussian points in d = 8 under an RBF of s² = 1: far apart relative to the
     * bandwidth, so K is close to I and well-conditioned */
    const int n = 60, d = 8;
    double *X = normal_array((size_t)n * d, 2, BFC_STREAM_TRAIN), *y = labels(X, n, d, 2);
    double *pred = bfc_alloc_d((size_t)n);
    bfc_krr_config cfg;
    bfc_krr_defaults(&cfg, d);
    cfg.kernel.kind = BFC_KERNEL_RBF;
    cfg.kernel.bandwidth2 = 1.0;
    cfg.ridge = 1e-10;
    bfc_krr *model = NULL;
    cr_assert_eq(bfc_krr_fit(&cfg, X, y, n, d, &model), BFC_OK, "%s", bfc_last_error());
    cr_assert_eq(bfc_krr_predict(model, X, n, pred), BFC_OK);
    cr_expect(rel_diff(pred, y, n) <= INTERP_TOL, "training residual %.3g", rel_diff(pred, y, n));
    cr_expect_eq(bfc_krr_get_report(model)->fallback, 0);
    bfc_krr_free(model);
    bfc_free(X), bfc_free(y), bfc_free(pred);
}

Test(krr, ridge_path_from_one_eigendecomposition_equals_separate_cholesky_solves)
{
    const int s = 150, v = 40, d = 4, nr = 3;
    double *Xs = normal_array((size_t)s * d, 3, BFC_STREAM_TRAIN);
    double *Xv = normal_array((size_t)v * d, 3, BFC_STREAM_TEST), *y = labels(Xs, s, d, 3);
    double *K = bfc_alloc_d((size_t)s * s), *Kcopy = bfc_alloc_d((size_t)s * s);
    double *Kvs = bfc_alloc_d((size_t)v * s), *P = bfc_alloc_d((size_t)v * nr);
    double *alpha = bfc_alloc_d((size_t)s), *ref = bfc_alloc_d((size_t)v), *col = bfc_alloc_d((size_t)v);
    bfc_kernel k;
    bfc_kernel_defaults(&k, d);
    k.degree = 3;
    cr_assert_eq(bfc_kernel_gram(&k, Xs, s, d, K), BFC_OK);
    cr_assert_eq(bfc_kernel_matrix(&k, Xv, v, Xs, s, d, Kvs), BFC_OK);
    memcpy(Kcopy, K, sizeof(double) * (size_t)s * s);
    double md = 0.0;
    for (int i = 0; i < s; i++) md += K[(size_t)i * s + i] / s;
    const double ridges[] = {1e-4 * md, 1e-2 * md, 1.0 * md};
    cr_assert_eq(bfc_krr_ridge_path(K, y, Kvs, s, v, ridges, nr, P, NULL), BFC_OK);
    for (int r = 0; r < nr; r++) {
        gsl_ridge_solve(Kcopy, s, ridges[r], y, alpha);
        cblas_dgemv(CblasRowMajor, CblasNoTrans, v, s, 1.0, Kvs, s, alpha, 1, 0.0, ref, 1);
        for (int j = 0; j < v; j++) col[j] = P[(size_t)j * nr + r];
        cr_expect(rel_diff(col, ref, v) <= PATH_TOL, "ridge %.3g: path differs by %.3g", ridges[r],
                  rel_diff(col, ref, v));
    }
    bfc_free(Xs), bfc_free(Xv), bfc_free(y), bfc_free(K), bfc_free(Kcopy), bfc_free(Kvs);
    bfc_free(P), bfc_free(alpha), bfc_free(ref), bfc_free(col);
}

Test(krr, chooses_the_ridge_of_smallest_validation_error_on_the_default_grid_then_refits_on_all_points)
{
    const int n = 300, m = 40, d = 4;
    double *X = normal_array((size_t)n * d, 4, BFC_STREAM_TRAIN), *y = labels(X, n, d, 4);
    double *Xt = normal_array((size_t)m * d, 4, BFC_STREAM_TEST);
    double *p1 = bfc_alloc_d((size_t)m), *p2 = bfc_alloc_d((size_t)m);
    bfc_krr_config cfg;
    bfc_krr_defaults(&cfg, d);
    cfg.kernel.kind = BFC_KERNEL_RBF;
    cfg.bandwidth_select = 0; /* this test is about the ridge grid at s² = d */
    cfg.seed = 9;
    bfc_krr *model = NULL;
    cr_assert_eq(bfc_krr_fit(&cfg, X, y, n, d, &model), BFC_OK, "%s", bfc_last_error());
    const bfc_krr_report *rep = bfc_krr_get_report(model);
    cr_assert_eq(rep->n_path, 21);
    cr_expect_eq(rep->n_val, 60);
    cr_expect_eq(rep->n_select, 240);
    /* grid: 1e-8 .. 1e2 × mean diag of K_S (= 1 for the RBF), two values per decade */
    cr_expect(fabs(rep->path_ridge[0] - 1e-8) <= 1e-20 && fabs(rep->path_ridge[20] - 1e2) <= 1e-12);
    for (int r = 1; r < 21; r++)
        cr_expect(fabs(rep->path_ridge[r] / rep->path_ridge[r - 1] - sqrt(10.0)) <= 1e-12);
    for (int r = 0; r < 21; r++)
        cr_expect(rep->path_val_mse[rep->path_best] <= rep->path_val_mse[r], "ridge %d beats the choice", r);
    cr_expect(rep->path_best > 0 && rep->path_best < 20, "noise 0.1 wants an interior ridge, got %d",
              rep->path_best);
    cr_expect(rep->ridge == rep->path_ridge[rep->path_best] && rep->val_mse == rep->path_val_mse[rep->path_best]);
    cr_expect_eq(rep->grid_extended, 0, "an interior ridge won: no extension");
    cr_expect_eq(rep->n_bandwidth, 0);
    cr_expect_eq(rep->bandwidth2, (double)d);
    cr_expect_eq(rep->n_refine, 0, "n - v = 240 <= select_max: no refinement");
    cr_assert_eq(bfc_krr_predict(model, Xt, m, p1), BFC_OK);

    /* the final model is the fit on all n points at the chosen ridge */
    bfc_krr_config given = cfg;
    given.ridge = rep->ridge;
    bfc_krr *m2 = NULL;
    cr_assert_eq(bfc_krr_fit(&given, X, y, n, d, &m2), BFC_OK);
    cr_assert_eq(bfc_krr_predict(m2, Xt, m, p2), BFC_OK);
    cr_expect(rel_diff(p1, p2, m) == 0.0, "refit differs by %.3g", rel_diff(p1, p2, m));
    bfc_krr_free(model);
    bfc_krr_free(m2);
    bfc_free(X), bfc_free(y), bfc_free(Xt), bfc_free(p1), bfc_free(p2);
}

Test(krr, predicts_the_same_in_small_blocks_as_in_one)
{
    const int n = 120, m = 37, d = 3;
    double *X = normal_array((size_t)n * d, 5, BFC_STREAM_TRAIN), *y = labels(X, n, d, 5);
    double *Xt = normal_array((size_t)m * d, 5, BFC_STREAM_TEST);
    double *p1 = bfc_alloc_d((size_t)m), *p2 = bfc_alloc_d((size_t)m);
    bfc_krr_config cfg;
    bfc_krr_defaults(&cfg, d);
    cfg.ridge = 1e-2;
    bfc_krr *a = NULL, *b = NULL;
    cr_assert_eq(bfc_krr_fit(&cfg, X, y, n, d, &a), BFC_OK);
    cfg.predict_block_bytes = 5 * n * sizeof(double); /* 5 rows per block */
    cr_assert_eq(bfc_krr_fit(&cfg, X, y, n, d, &b), BFC_OK);
    cr_assert_eq(bfc_krr_predict(a, Xt, m, p1), BFC_OK);
    cr_assert_eq(bfc_krr_predict(b, Xt, m, p2), BFC_OK);
    for (int i = 0; i < m; i++) cr_expect(fabs(p1[i] - p2[i]) <= 1e-13 * fabs(p1[i]), "row %d", i);
    bfc_krr_free(a), bfc_krr_free(b);
    bfc_krr_free(NULL);
    bfc_free(X), bfc_free(y), bfc_free(Xt), bfc_free(p1), bfc_free(p2);
}

#define EXPECT_REFUSED(call, code, text)                                                      \
    do {                                                                                      \
        cr_expect_eq((call), (code), "expected %s", #code);                                   \
        cr_expect(strstr(bfc_last_error(), (text)) != NULL, "message \"%s\" lacks \"%s\"",     \
                  bfc_last_error(), (text));                                                  \
    } while (0)

Test(krr, bad_input_is_refused_with_a_message_and_no_model)
{
    const int n = 20, d = 3;
    double *X = normal_array((size_t)n * d, 6, BFC_STREAM_TRAIN), *y = labels(X, n, d, 6);
    bfc_krr_config cfg;
    bfc_krr *model = (bfc_krr *)&cfg; /* must be reset to NULL on failure */

    bfc_krr_defaults(&cfg, d);
    cfg.kernel.kind = (bfc_kernel_kind)17;
    EXPECT_REFUSED(bfc_krr_fit(&cfg, X, y, n, d, &model), BFC_EINVAL, "unknown kernel kind 17");
    cr_expect_null(model);

    bfc_krr_defaults(&cfg, d);
    cfg.ridge = -1e-3;
    EXPECT_REFUSED(bfc_krr_fit(&cfg, X, y, n, d, &model), BFC_EINVAL,
                   "ridge must be > 0, or 0 to choose it on a validation split (got -0.001)");

    bfc_krr_defaults(&cfg, d);
    cfg.kernel.kind = BFC_KERNEL_RBF;
    cfg.kernel.bandwidth2 = -1.0;
    EXPECT_REFUSED(bfc_krr_fit(&cfg, X, y, n, d, &model), BFC_EINVAL,
                   "bandwidth s^2 must be finite and > 0 (got -1)");

    bfc_krr_defaults(&cfg, d);
    cfg.kernel.degree = 0;
    EXPECT_REFUSED(bfc_krr_fit(&cfg, X, y, n, d, &model), BFC_EINVAL, "degree must be >= 1");

    bfc_krr_defaults(&cfg, d);
    y[7] = NAN;
    EXPECT_REFUSED(bfc_krr_fit(&cfg, X, y, n, d, &model), BFC_EINVAL, "y[7] is not finite");
    cr_expect_null(model);
    bfc_free(X), bfc_free(y);
}

Test(krr, refuses_a_run_beyond_the_memory_limit_and_names_the_largest_n_that_fits)
{
    const int n = 5000, d = 10;
    bfc_krr_config cfg;
    bfc_krr_defaults(&cfg, d);
    cfg.ridge = 1.0;
    cfg.mem_limit = bfc_krr_memory_estimate(&cfg, 1000, 0, d) + 1000; /* n ≈ 1000 fits */
    double *X = bfc_alloc_d((size_t)n * d), *y = bfc_alloc_d((size_t)n);
    bfc_krr *model = NULL;
    EXPECT_REFUSED(bfc_krr_fit(&cfg, X, y, n, d, &model), BFC_ENOMEM, "the largest n that fits is ");
    cr_expect_null(model);
    const char *p = strstr(bfc_last_error(), "the largest n that fits is ");
    cr_assert(p);
    const int largest = atoi(p + strlen("the largest n that fits is "));
    cr_expect(bfc_krr_memory_estimate(&cfg, largest, 0, d) <= cfg.mem_limit);
    cr_expect(bfc_krr_memory_estimate(&cfg, largest + 1, 0, d) > cfg.mem_limit);
    cr_expect(largest >= 1000 && largest < 1010, "largest n %d", largest);
    cr_expect(strstr(bfc_last_error(), "MiB"), "the message gives the estimate: %s", bfc_last_error());
    /* the estimate is dominated by the upper triangle of the n × n matrix, the only part
     * of it the fit touches (plus up to a page per row) */
    const double e1 = (double)bfc_krr_memory_estimate(&cfg, 20000, 0, d);
    const double tri = 4.0 * 20000.0 * 20001.0;
    cr_expect(e1 >= tri && e1 <= 1.02 * tri + 20000.0 * 4096.0 + 64e6, "estimate %.4g", e1);
    bfc_free(X), bfc_free(y);
}

Test(krr, falls_back_with_one_warning_on_an_exactly_singular_gram, .init = cr_redirect_stderr)
{
    /* 30 points each present twice and a degree-2 kernel in d = 3 (rank ≤ 10): K is
     * exactly singular, and the ridge is negligible */
    const int half = 30, n = 2 * half, d = 3, m = 10;
    double *X = normal_array((size_t)n * d, 7, BFC_STREAM_TRAIN);
    memcpy(X + (size_t)half * d, X, sizeof(double) * (size_t)half * d);
    double *y = labels(X, n, d, 7), *Xt = normal_array((size_t)m * d, 7, BFC_STREAM_TEST);
    for (int i = 0; i < half; i++) y[half + i] = y[i];
    double *pred = bfc_alloc_d((size_t)m);
    bfc_krr_config cfg;
    bfc_krr_defaults(&cfg, d);
    cfg.kernel.degree = 2;
    cfg.ridge = 1e-300;
    bfc_krr *model = NULL;
    cr_assert_eq(bfc_krr_fit(&cfg, X, y, n, d, &model), BFC_OK, "%s", bfc_last_error());
    const bfc_krr_report *rep = bfc_krr_get_report(model);
    cr_expect(rep->fallback == 1 || rep->fallback == 2, "fallback %d", rep->fallback);
    cr_expect(strlen(rep->fallback_what) > 0);
    cr_assert_eq(bfc_krr_predict(model, Xt, m, pred), BFC_OK);
    for (int i = 0; i < m; i++) cr_expect(isfinite(pred[i]), "prediction %d = %g", i, pred[i]);
    /* a least-squares fit in the 10-dimensional feature space: far better than the mean */
    double *ptrain = bfc_alloc_d((size_t)n);
    cr_assert_eq(bfc_krr_predict(model, X, n, ptrain), BFC_OK);
    double res = 0.0, var = 0.0;
    for (int i = 0; i < n; i++) res += pow(ptrain[i] - y[i], 2), var += pow(y[i] - rep->y_mean, 2);
    cr_expect(res < 0.5 * var, "training residual %.3g of variance %.3g", res, var);
    char expected[400];
    snprintf(expected, sizeof expected, "bfc krr: warning: %s\n", rep->fallback_what);
    fflush(stderr);
    cr_expect_stderr_eq_str(expected);
    bfc_krr_free(model);
    bfc_free(X), bfc_free(y), bfc_free(Xt), bfc_free(pred), bfc_free(ptrain);
}

/* ------------------------------------------------------------------ selection beyond the grid */

/* y = a cubic of x without noise: poly-4 at d = 3 (rank 35) represents it exactly, so the
 * smaller the ridge the better, down to rounding. */
static double *cubic_labels(const double *X, int n, int d)
{
    double *y = bfc_alloc_d((size_t)n);
    for (int i = 0; i < n; i++) {
        const double *x = X + (size_t)i * d;
        y[i] = x[0] * x[1] - 0.5 * x[0] * x[0] * x[d - 1] + 0.3 * x[1] + 2.0;
    }
    return y;
}

Test(krr, extends_the_ridge_grid_below_its_lower_edge_when_that_edge_wins)
{
    const int n = 300, d = 3;
    double *X = normal_array((size_t)n * d, 11, BFC_STREAM_TRAIN), *y = cubic_labels(X, n, d);
    bfc_krr_config cfg;
    bfc_krr_defaults(&cfg, d);
    cfg.ridge_grid_min = 1e-4; /* a grid whose lower edge wins on noise-free labels */
    cfg.ridge_grid_max = 1e1;
    cfg.ridge_grid_count = 11;
    cfg.seed = 3;
    bfc_krr *model = NULL;
    cr_assert_eq(bfc_krr_fit(&cfg, X, y, n, d, &model), BFC_OK, "%s", bfc_last_error());
    const bfc_krr_report *rep = bfc_krr_get_report(model);
    const int E = BFC_KRR_GRID_EXTEND;
    cr_assert_eq(rep->grid_extended, E);
    cr_assert_eq(rep->n_path, 11 + E);
    /* ascending, at the grid's spacing, 4 decades below its edge */
    for (int r = 1; r < rep->n_path; r++)
        cr_expect(fabs(rep->path_ridge[r] / rep->path_ridge[r - 1] - sqrt(10.0)) <= 1e-12, "r %d", r);
    cr_expect(fabs(rep->path_ridge[0] / rep->path_ridge[E] - 1e-4) <= 1e-15);
    /* the extension found a lower validation MSE than the grid's edge, and the choice is
     * the minimum of the whole path */
    cr_expect(rep->path_best < E, "best %d", rep->path_best);
    cr_expect(rep->val_mse < rep->path_val_mse[E], "%.3g vs edge %.3g", rep->val_mse,
              rep->path_val_mse[E]);
    for (int r = 0; r < rep->n_path; r++) cr_expect(rep->val_mse <= rep->path_val_mse[r]);

    /* the extended path equals the path computed on the extended grid directly */
    bfc_krr_config wide = cfg;
    wide.ridge_grid_min = 1e-8;
    wide.ridge_grid_count = 11 + E;
    bfc_krr *m2 = NULL;
    cr_assert_eq(bfc_krr_fit(&wide, X, y, n, d, &m2), BFC_OK);
    const bfc_krr_report *r2 = bfc_krr_get_report(m2);
    const int o = r2->grid_extended; /* its own edge may win too: then it is extended again */
    cr_assert_eq(r2->n_path, 11 + E + o);
    for (int r = 0; r < rep->n_path; r++) {
        cr_expect(fabs(r2->path_ridge[o + r] - rep->path_ridge[r]) <= 1e-12 * rep->path_ridge[r]);
        cr_expect(fabs(r2->path_val_mse[o + r] - rep->path_val_mse[r]) <=
                      1e-6 * rep->path_val_mse[r] + 1e-14,
                  "r %d: %.6g vs %.6g", r, r2->path_val_mse[o + r], rep->path_val_mse[r]);
    }
    bfc_krr_free(model), bfc_krr_free(m2);
    bfc_free(X), bfc_free(y);
}

static void bandwidth_case(bfc_kernel_kind kind)
{
    const int n = 300, d = 4;
    double *X = normal_array((size_t)n * d, 12, BFC_STREAM_TRAIN), *y = labels(X, n, d, 12);
    bfc_krr_config cfg;
    bfc_krr_defaults(&cfg, d);
    cfg.kernel.kind = kind;
    cfg.seed = 5;
    bfc_krr *model = NULL;
    cr_assert_eq(bfc_krr_fit(&cfg, X, y, n, d, &model), BFC_OK, "%s", bfc_last_error());
    const bfc_krr_report *rep = bfc_krr_get_report(model);
    cr_assert(rep->n_bandwidth == BFC_KRR_N_BANDWIDTH || rep->n_bandwidth == BFC_KRR_N_BANDWIDTH + 1);
    for (int i = 0; i < BFC_KRR_N_BANDWIDTH; i++)
        cr_expect_eq(rep->bandwidth_grid[i], d * ldexp(1.0, i - 2), "s2[%d]", i);
    if (rep->n_bandwidth > BFC_KRR_N_BANDWIDTH)
        cr_expect(rep->bandwidth_extended != 0 &&
                  rep->bandwidth_grid[BFC_KRR_N_BANDWIDTH] ==
                      d * (rep->bandwidth_extended < 0 ? 0.125 : 32.0));
    /* brute force: a fixed-bandwidth fit at each s² with the same split */
    int best = -1;
    double best_mse = INFINITY;
    for (int i = 0; i < rep->n_bandwidth; i++) {
        bfc_krr_config one = cfg;
        one.bandwidth_select = 0;
        one.kernel.bandwidth2 = rep->bandwidth_grid[i];
        bfc_krr *m1 = NULL;
        cr_assert_eq(bfc_krr_fit(&one, X, y, n, d, &m1), BFC_OK);
        const bfc_krr_report *r1 = bfc_krr_get_report(m1);
        cr_expect_eq(r1->n_bandwidth, 0);
        cr_expect(fabs(r1->val_mse - rep->bandwidth_val_mse[i]) <= 1e-12 * r1->val_mse,
                  "s2 %g: %.10g vs %.10g", one.kernel.bandwidth2, r1->val_mse, rep->bandwidth_val_mse[i]);
        if (r1->val_mse < best_mse) best_mse = r1->val_mse, best = i;
        bfc_krr_free(m1);
    }
    cr_expect_eq(rep->bandwidth_best, best);
    cr_expect_eq(rep->bandwidth2, rep->bandwidth_grid[best]);
    cr_expect(fabs(rep->val_mse - best_mse) <= 1e-12 * best_mse);
    /* the final model is the fit at the chosen (s², λ) */
    bfc_krr_config given = cfg;
    given.bandwidth_select = 0;
    given.kernel.bandwidth2 = rep->bandwidth2;
    given.ridge = rep->ridge;
    bfc_krr *m2 = NULL;
    cr_assert_eq(bfc_krr_fit(&given, X, y, n, d, &m2), BFC_OK);
    int na = 0, nb = 0;
    const double *a1 = bfc_krr_alpha(model, &na), *a2 = bfc_krr_alpha(m2, &nb);
    cr_assert_eq(na, nb);
    cr_expect(rel_diff(a1, a2, na) == 0.0);
    bfc_krr_free(model), bfc_krr_free(m2);
    bfc_free(X), bfc_free(y);
}

Test(krr, chooses_the_bandwidth_of_smallest_validation_error_as_fixed_bandwidth_fits_would)
{
    bandwidth_case(BFC_KERNEL_RBF);
    bandwidth_case(BFC_KERNEL_LAPLACE);
}

Test(krr, a_given_bandwidth_or_a_polynomial_kernel_is_not_searched)
{
    const int n = 200, d = 4;
    double *X = normal_array((size_t)n * d, 13, BFC_STREAM_TRAIN), *y = labels(X, n, d, 13);
    bfc_krr_config cfg;
    bfc_krr_defaults(&cfg, d);
    cfg.kernel.kind = BFC_KERNEL_RBF;
    cfg.kernel.bandwidth2 = 7.5;
    cfg.bandwidth_select = 0;
    bfc_krr *model = NULL;
    cr_assert_eq(bfc_krr_fit(&cfg, X, y, n, d, &model), BFC_OK);
    cr_expect_eq(bfc_krr_get_report(model)->n_bandwidth, 0);
    cr_expect_eq(bfc_krr_get_report(model)->bandwidth2, 7.5);
    bfc_krr_free(model);
    bfc_krr_defaults(&cfg, d); /* poly with bandwidth_select = 1: nothing to search */
    cr_assert_eq(bfc_krr_fit(&cfg, X, y, n, d, &model), BFC_OK);
    cr_expect_eq(bfc_krr_get_report(model)->n_bandwidth, 0);
    cr_expect_eq(bfc_krr_get_report(model)->bandwidth_best, -1);
    bfc_krr_free(model);
    bfc_free(X), bfc_free(y);
}

/* a fit on the first nt rows with a given ridge, scored on the rows given: the refinement's
 * measure, computed independently (dense matrices, GSL Cholesky) */
static double holdout_mse(const bfc_kernel *k, const double *X, const double *y, const int *tr,
                          int nt, const int *va, int v, int d, double ridge)
{
    double *K = bfc_alloc_d((size_t)nt * nt), *b = bfc_alloc_d((size_t)nt), *a = bfc_alloc_d((size_t)nt);
    double mean = 0.0;
    for (int i = 0; i < nt; i++) mean += y[tr[i]];
    mean /= nt;
    for (int i = 0; i < nt; i++) {
        b[i] = y[tr[i]] - mean;
        for (int j = 0; j < nt; j++)
            K[(size_t)i * nt + j] = direct_kernel(k, X + (size_t)tr[i] * d, X + (size_t)tr[j] * d, d);
    }
    gsl_ridge_solve(K, nt, ridge, b, a);
    double e = 0.0;
    for (int j = 0; j < v; j++) {
        double p = mean;
        for (int i = 0; i < nt; i++) p += a[i] * direct_kernel(k, X + (size_t)va[j] * d, X + (size_t)tr[i] * d, d);
        e += (y[va[j]] - p) * (y[va[j]] - p);
    }
    bfc_free(K), bfc_free(b), bfc_free(a);
    return e / v;
}

Test(krr, refines_the_ridge_on_the_whole_training_part_when_the_subset_is_smaller)
{
    const int n = 400, d = 4;
    double *X = normal_array((size_t)n * d, 14, BFC_STREAM_TRAIN), *y = labels(X, n, d, 14);
    bfc_krr_config cfg;
    bfc_krr_defaults(&cfg, d);
    cfg.select_max = 80; /* training part 320 > 80 */
    cfg.seed = 6;
    bfc_krr *model = NULL, *off = NULL;
    cr_assert_eq(bfc_krr_fit(&cfg, X, y, n, d, &model), BFC_OK, "%s", bfc_last_error());
    const bfc_krr_report *rep = bfc_krr_get_report(model);
    cr_assert(rep->n_refine >= 2 && rep->n_refine <= BFC_KRR_REFINE_MAX, "n_refine %d", rep->n_refine);
    cr_expect_eq(rep->refine_ridge[0], rep->ridge_select);
    cr_expect(fabs(rep->refine_ridge[1] - rep->ridge_select / sqrt(10.0)) <= 1e-14 * rep->ridge_select);
    cr_expect_eq(rep->ridge, rep->refine_ridge[rep->refine_best]);
    cr_expect_eq(rep->val_mse, rep->refine_val_mse[rep->refine_best]);
    for (int i = 0; i < rep->n_refine; i++)
        cr_expect(rep->val_mse <= rep->refine_val_mse[i], "candidate %d beats the choice", i);
    cr_expect(rep->val_mse <= rep->refine_val_mse[0], "never worse than the subset's ridge");

    /* each candidate's MSE is that of an independent fit on the training part: recover the
     * split from the path (the validation rows are those that are not training rows) */
    gsl_rng *rng = bfc_rng_new(cfg.seed, BFC_STREAM_VAL);
    int *idx = malloc(sizeof(int) * (size_t)n);
    for (int i = 0; i < n; i++) idx[i] = i;
    gsl_ran_shuffle(rng, idx, (size_t)n, sizeof(int));
    gsl_rng_free(rng);
    for (int i = 0; i < rep->n_refine; i++) {
        const double e = holdout_mse(&cfg.kernel, X, y, idx + rep->n_val, n - rep->n_val, idx,
                                     rep->n_val, d, rep->refine_ridge[i]);
        cr_expect(fabs(e - rep->refine_val_mse[i]) <= 1e-8 * e, "candidate %d: %.10g vs %.10g", i,
                  e, rep->refine_val_mse[i]);
    }
    free(idx);

    /* refine_ridge = 0: the subset's ridge as before, nothing else changes */
    bfc_krr_config c0 = cfg;
    c0.refine_ridge = 0;
    cr_assert_eq(bfc_krr_fit(&c0, X, y, n, d, &off), BFC_OK);
    const bfc_krr_report *r0 = bfc_krr_get_report(off);
    cr_expect_eq(r0->n_refine, 0);
    cr_expect_eq(r0->refine_best, -1);
    cr_expect_eq(r0->ridge, rep->ridge_select);
    cr_expect_eq(r0->val_mse, rep->val_mse_select);
    cr_expect(bfc_krr_memory_estimate(&c0, n, 0, d) <= bfc_krr_memory_estimate(&cfg, n, 0, d));
    bfc_krr_free(model), bfc_krr_free(off);

    /* training part ≤ select_max: skipped */
    cfg.select_max = 320;
    cr_assert_eq(bfc_krr_fit(&cfg, X, y, n, d, &model), BFC_OK);
    cr_expect_eq(bfc_krr_get_report(model)->n_refine, 0);
    cr_expect_eq(bfc_krr_get_report(model)->ridge, bfc_krr_get_report(model)->ridge_select);
    bfc_krr_free(model);
    bfc_free(X), bfc_free(y);
}

Test(krr, memory_estimate_covers_the_refinement_on_the_training_part)
{
    const int d = 20, n = 20000;
    bfc_krr_config cfg;
    bfc_krr_defaults(&cfg, d);
    cfg.select_max = 3000;
    /* the refinement holds the upper triangle of a 16000² matrix; the final fit the
     * 20000² one, which dominates; with a tiny cap and a big validation share the
     * refinement can dominate instead */
    const double tri16 = 4.0 * 16000.0 * 16001.0;
    cr_expect((double)bfc_krr_memory_estimate(&cfg, n, 0, d) >= tri16);
    cfg.val_fraction = 0.01;
    cfg.select_max = 10;
    bfc_krr_config c0 = cfg;
    c0.refine_ridge = 0;
    const double on = (double)bfc_krr_memory_estimate(&cfg, n, 0, d);
    const double offb = (double)bfc_krr_memory_estimate(&c0, n, 0, d);
    cr_expect(on >= offb);
    const double tri = 4.0 * 19800.0 * 19801.0;
    cr_expect(on >= tri + 8.0 * 19800.0 * (d + 3.0), "estimate %.4g", on);
}

/* ------------------------------------------------------------------ scikit-learn oracle */

/* Run the oracle script with arguments args under Debian's python3 first (a pyenv python3
 * may shadow it on PATH), then python3: 0 on success, 1 when no interpreter has
 * scikit-learn (the script exits 3, or the interpreter is missing), -1 on a failure. */
static int run_oracle(const char *args)
{
    static const char *candidates[] = {"/usr/bin/python3", "python3"};
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
        char cmd[8192];
        snprintf(cmd, sizeof cmd, "%s %s/tests/oracles/sklearn_krr.py %s 2>/dev/null",
                 candidates[i], BFC_SOURCE_DIR, args);
        const int rc = system(cmd);
        if (rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0) return 0;
        if (rc != -1 && WIFEXITED(rc) && (WEXITSTATUS(rc) == 3 || WEXITSTATUS(rc) == 127))
            continue;
        cr_log_error("oracle failed (status %d): %s", rc, cmd);
        return -1;
    }
    return 1;
}

static void write_matrix(const char *path, const double *A, int rows, int cols)
{
    FILE *f = fopen(path, "w");
    cr_assert(f, "cannot write %s", path);
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++)
            fprintf(f, "%.17g%c", A[(size_t)i * cols + j], j + 1 < cols ? ' ' : '\n');
    fclose(f);
}

static void oracle_case(const char *dir, bfc_kernel_kind kind)
{
    const int n = 150, m = 30, d = 6;
    double *X = normal_array((size_t)n * d, 8, BFC_STREAM_TRAIN), *y = labels(X, n, d, 8);
    double *Xt = normal_array((size_t)m * d, 8, BFC_STREAM_TEST);
    double *pred = bfc_alloc_d((size_t)m), *ref = bfc_alloc_d((size_t)m), *yc = bfc_alloc_d((size_t)n);
    bfc_krr_config cfg;
    bfc_krr_defaults(&cfg, d);
    cfg.kernel.kind = kind;
    cfg.ridge = 1e-2;
    bfc_krr *model = NULL;
    cr_assert_eq(bfc_krr_fit(&cfg, X, y, n, d, &model), BFC_OK, "%s", bfc_last_error());
    cr_assert_eq(bfc_krr_predict(model, Xt, m, pred), BFC_OK);
    /* scikit-learn does not centre: give it y − ȳ and add ȳ back */
    const double ym = bfc_krr_get_report(model)->y_mean;
    for (int i = 0; i < n; i++) yc[i] = y[i] - ym;
    char px[512], py[512], pt[512], po[512], cmd[4096];
    snprintf(px, sizeof px, "%s/X.txt", dir);
    snprintf(py, sizeof py, "%s/y.txt", dir);
    snprintf(pt, sizeof pt, "%s/Xt.txt", dir);
    snprintf(po, sizeof po, "%s/out.txt", dir);
    write_matrix(px, X, n, d);
    write_matrix(py, yc, n, 1);
    write_matrix(pt, Xt, m, d);
    if (kind == BFC_KERNEL_POLY)
        snprintf(cmd, sizeof cmd,
                 "--kernel poly --degree %d --gamma %.17g --coef0 %.17g --alpha %.17g %s %s %s %s",
                 cfg.kernel.degree, cfg.kernel.scale, cfg.kernel.offset, cfg.ridge, px, py, pt, po);
    else
        snprintf(cmd, sizeof cmd, "--kernel rbf --gamma %.17g --alpha %.17g %s %s %s %s",
                 1.0 / (2.0 * cfg.kernel.bandwidth2), cfg.ridge, px, py, pt, po);
    const int rc = run_oracle(cmd);
    remove(px), remove(py), remove(pt);
    if (rc == 1) {
        rmdir(dir);
        cr_skip_test("scikit-learn not installed: oracle comparison skipped");
    }
    cr_assert_eq(rc, 0, "the scikit-learn oracle failed");
    FILE *f = fopen(po, "r");
    cr_assert(f);
    for (int i = 0; i < m; i++) {
        cr_assert_eq(fscanf(f, "%lf", &ref[i]), 1);
        ref[i] += ym;
    }
    fclose(f);
    cr_expect(rel_diff(pred, ref, m) <= ORACLE_TOL, "kind %d: scikit-learn differs by %.3g",
              (int)kind, rel_diff(pred, ref, m));
    remove(po);
    bfc_krr_free(model);
    bfc_free(X), bfc_free(y), bfc_free(Xt), bfc_free(pred), bfc_free(ref), bfc_free(yc);
}

Test(krr, agrees_with_scikit_learn_kernel_ridge_for_poly_and_rbf)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/oracle_krr_XXXXXX", BFC_BINARY_DIR);
    cr_assert(mkdtemp(dir), "cannot create a temporary directory under %s", BFC_BINARY_DIR);
    oracle_case(dir, BFC_KERNEL_POLY);
    oracle_case(dir, BFC_KERNEL_RBF);
    rmdir(dir);
}
