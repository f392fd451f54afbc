/* test_entk.c: the empirical NTK of the learner: symmetric, PSD, equal to the Gram matrix of
 * finite-difference gradients, independent of blocking; the precomputed-kernel ridge fit
 * agrees with krr.h on the same kernel; the whole baseline is exact at depth 2. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "entk.h"
#include "kernel.h"
#include "krr.h"
#include "lapack.h"
#include "metrics.h"
#include "rng.h"

/* F is a polynomial in θ: central differences with step h ~ ε^{1/3} have error O(h²)
 * ≈ 1e-10 relative; 1e-6 is the contract. */
#define FD_STEP 1e-5
#define FD_TOL 1e-6
/* the same products summed in another order (blocks, DSYRK vs DGEMM) */
#define BLOCK_TOL 1e-12
#define PSD_TOL 1e-10

static void configs(int d, int L, double init_scale, int task, bfc_target_config *tc,
                    bfc_learner_config *lc)
{
    bfc_target_defaults(tc);
    tc->d = d;
    tc->L = L;
    tc->gap = 0.3;
    tc->task = task;
    bfc_target_resolve(tc);
    bfc_learner_defaults(lc);
    lc->init_scale = init_scale;
    lc->seed = 4;
}

static double *normals(int n, uint64_t seed)
{
    double *a = bfc_alloc_d((size_t)n);
    gsl_rng *r = bfc_rng_new(seed, BFC_STREAM_TEST);
    bfc_rng_normal(r, a, (size_t)n, 1.0);
    gsl_rng_free(r);
    return a;
}

Test(entk, counts_every_weight_of_the_learner_at_the_reference_configuration)
{
    bfc_target_config tc;
    bfc_learner_config lc;
    configs(20, 3, 0.1, BFC_TASK_REGRESSION, &tc, &lc);
    size_t P = 0;
    cr_assert_eq(bfc_entk_nparams(&tc, &lc, &P), BFC_OK);
    /* W_2 82 × 41, K_2 3 × 41, W_3 58 × 29 (h_3 = [x, σ(R_2 S_2) (8), 1]) */
    cr_assert_eq(P, (size_t)(82 * 41 + 3 * 41 + 58 * 29));
    size_t bytes = bfc_entk_memory_estimate(&tc, &lc, 10000, 10000);
    cr_assert_geq(bytes, 8 * P * 20000, "both gradient matrices fit in one block each");
}

Test(entk, gram_is_symmetric_psd_and_equals_the_general_product)
{
    enum { d = 4, n = 40 };
    bfc_target_config tc;
    bfc_learner_config lc;
    configs(d, 3, 1.0, BFC_TASK_REGRESSION, &tc, &lc);
    double *X = normals(n * d, 1);
    double *K = bfc_alloc_d(n * n), *K2 = bfc_alloc_d(n * n), *w = bfc_alloc_d(n);
    cr_assert_eq(bfc_entk_gram_sym(&tc, &lc, X, n, K), BFC_OK, "%s", bfc_last_error());
    cr_assert_eq(bfc_entk_gram(&tc, &lc, X, n, X, n, K2), BFC_OK, "%s", bfc_last_error());
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) cr_assert_eq(K[i * n + j], K[j * n + i]);
    cr_assert_lt(bfc_relative_diff(K2, K, n * n), BLOCK_TOL);
    /* eigenvalues */
    double wq;
    int lwork = -1, liwork = -1, iwq, info, nn = n;
    dsyevd_("N", "L", &nn, K2, &nn, w, &wq, &lwork, &iwq, &liwork, &info);
    lwork = (int)wq;
    liwork = iwq;
    double *work = bfc_alloc_d((size_t)lwork);
    int iwork[64];
    cr_assert_leq(liwork, 64);
    dsyevd_("N", "L", &nn, K2, &nn, w, work, &lwork, iwork, &liwork, &info);
    cr_assert_eq(info, 0);
    cr_assert_gt(w[n - 1], 0.0);
    cr_assert_geq(w[0], -PSD_TOL * w[n - 1], "smallest eigenvalue %g, largest %g", w[0], w[n - 1]);
    bfc_free(work);
    bfc_free(X);
    bfc_free(K);
    bfc_free(K2);
    bfc_free(w);
}

/* Θ from central differences of the forward pass over every parameter of the slice. */
static void fd_gram(int d, int L, double init_scale, int n, const double *X, double *Kfd)
{
    bfc_target_config tc;
    bfc_learner_config lc;
    configs(d, L, init_scale, BFC_TASK_REGRESSION, &tc, &lc);
    int st;
    bfc_learner *lr = bfc_learner_new(&tc, &lc, 1, &st);
    cr_assert_not_null(lr);
    size_t off, len;
    bfc_learner_slice(lr, 2, L, &off, &len);
    double *G = bfc_alloc_d((size_t)n * len), *theta = bfc_learner_params(lr);
    for (size_t q = 0; q < len; q++) {
        double keep = theta[off + q];
        for (int i = 0; i < n; i++) {
            double fp, fm;
            theta[off + q] = keep + FD_STEP;
            bfc_learner_forward(lr, X + (size_t)i * d, 1, L, &fp);
            theta[off + q] = keep - FD_STEP;
            bfc_learner_forward(lr, X + (size_t)i * d, 1, L, &fm);
            G[(size_t)i * len + q] = (fp - fm) / (2 * FD_STEP);
        }
        theta[off + q] = keep;
    }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, (int)len, 1.0, G, (int)len, G,
                (int)len, 0.0, Kfd, n);
    bfc_free(G);
    bfc_learner_free(lr);
}

Test(entk, equals_the_gram_matrix_of_finite_difference_gradients)
{
    enum { d = 3, L = 3, n = 6 };
    double *X = normals(n * d, 2);
    double K[n * n], Kfd[n * n];
    const double scales[] = {1.0, 0.1};
    for (int s = 0; s < 2; s++) {
        bfc_target_config tc;
        bfc_learner_config lc;
        configs(d, L, scales[s], BFC_TASK_REGRESSION, &tc, &lc);
        cr_assert_eq(bfc_entk_gram_sym(&tc, &lc, X, n, K), BFC_OK);
        fd_gram(d, L, scales[s], n, X, Kfd);
        double e = bfc_relative_diff(K, Kfd, n * n);
        cr_assert_leq(e, FD_TOL, "init scale %g: relative error %g", scales[s], e);
    }
    bfc_free(X);
}

Test(entk, blocking_changes_nothing)
{
    enum { d = 4, n = 23, m = 17 };
    bfc_target_config tc;
    bfc_learner_config lc;
    configs(d, 3, 0.5, BFC_TASK_REGRESSION, &tc, &lc);
    double *X = normals(n * d, 3), *Z = normals(m * d, 4);
    size_t P;
    cr_assert_eq(bfc_entk_nparams(&tc, &lc, &P), BFC_OK);
    double *A = bfc_alloc_d(n * m), *B = bfc_alloc_d(n * m);
    double *S = bfc_alloc_d(n * n), *T = bfc_alloc_d(n * n);
    cr_assert_eq(bfc_entk_gram(&tc, &lc, X, n, Z, m, A), BFC_OK);
    cr_assert_eq(bfc_entk_gram_blocked(&tc, &lc, X, n, Z, m, B, 5 * 8 * P), BFC_OK);
    cr_assert_lt(bfc_relative_diff(B, A, n * m), BLOCK_TOL);
    cr_assert_eq(bfc_entk_gram_sym(&tc, &lc, X, n, S), BFC_OK);
    cr_assert_eq(bfc_entk_gram_sym_blocked(&tc, &lc, X, n, T, 4 * 8 * P), BFC_OK);
    cr_assert_lt(bfc_relative_diff(T, S, n * n), BLOCK_TOL);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) cr_assert_eq(T[i * n + j], T[j * n + i]);
    bfc_free(X), bfc_free(Z), bfc_free(A), bfc_free(B), bfc_free(S), bfc_free(T);
}

Test(entk, classification_adds_the_bias_whose_gradient_is_minus_one)
{
    enum { d = 3, n = 7 };
    bfc_target_config tr, tk;
    bfc_learner_config lc;
    configs(d, 3, 0.5, BFC_TASK_REGRESSION, &tr, &lc);
    configs(d, 3, 0.5, BFC_TASK_CLASSIFICATION, &tk, &lc);
    size_t Pr, Pk;
    cr_assert_eq(bfc_entk_nparams(&tr, &lc, &Pr), BFC_OK);
    cr_assert_eq(bfc_entk_nparams(&tk, &lc, &Pk), BFC_OK);
    cr_assert_eq(Pk, Pr + 1);
    double *X = normals(n * d, 5), Kr[n * n], Kk[n * n];
    cr_assert_eq(bfc_entk_gram_sym(&tr, &lc, X, n, Kr), BFC_OK);
    cr_assert_eq(bfc_entk_gram_sym(&tk, &lc, X, n, Kk), BFC_OK);
    for (int i = 0; i < n * n; i++) cr_assert_lt(fabs(Kk[i] - Kr[i] - 1.0), 1e-12 * (1 + fabs(Kk[i])));
    bfc_free(X);
}

Test(entk, ridge_fit_on_a_precomputed_gram_matches_krr_on_the_same_kernel)
{
    enum { d = 5, n = 300, m = 100 };
    double *X = normals(n * d, 6), *Xt = normals(m * d, 7), *y = bfc_alloc_d(n);
    for (int i = 0; i < n; i++) {
        const double *x = X + i * d;
        y[i] = x[0] * x[1] + 0.5 * x[2] * x[2] * x[3] + 0.1 * sin(3 * x[4]);
    }
    bfc_krr_config kc;
    bfc_krr_defaults(&kc, d);
    kc.kernel.degree = 3;
    bfc_krr *model;
    cr_assert_eq(bfc_krr_fit(&kc, X, y, n, d, &model), BFC_OK, "%s", bfc_last_error());
    double *pk = bfc_alloc_d(m), *pe = bfc_alloc_d(m), *coef = bfc_alloc_d(n);
    cr_assert_eq(bfc_krr_predict(model, Xt, m, pk), BFC_OK);

    double *K = bfc_alloc_d(n * n), *Kt = bfc_alloc_d(m * n);
    cr_assert_eq(bfc_kernel_gram(&kc.kernel, X, n, d, K), BFC_OK);
    cr_assert_eq(bfc_kernel_matrix(&kc.kernel, Xt, m, X, n, d, Kt), BFC_OK);
    bfc_entk_ridge_config rc;
    bfc_entk_ridge_defaults(&rc);
    bfc_entk_ridge_report rep;
    cr_assert_eq(bfc_entk_ridge_fit(&rc, K, y, n, coef, &rep), BFC_OK, "%s", bfc_last_error());
    for (int i = 0; i < m; i++) pe[i] = rep.y_mean;
    cblas_dgemv(CblasRowMajor, CblasNoTrans, m, n, 1.0, Kt, n, coef, 1, 1.0, pe, 1);

    const bfc_krr_report *kr = bfc_krr_get_report(model);
    cr_assert_lt(fabs(rep.ridge - kr->ridge), 1e-12 * kr->ridge, "ridges %g vs %g", rep.ridge,
                 kr->ridge);
    cr_assert_lt(fabs(rep.val_mse - kr->val_mse), 1e-9 * kr->val_mse);
    cr_assert_lt(bfc_relative_diff(pe, pk, m), 1e-8);
    bfc_krr_free(model);
    bfc_free(X), bfc_free(Xt), bfc_free(y), bfc_free(pk), bfc_free(pe), bfc_free(coef);
    bfc_free(K), bfc_free(Kt);
}

Test(entk, regression_is_exact_at_depth_two_where_gradients_span_every_quadratic_form)
{
    bfc_target_config tc;
    bfc_target_defaults(&tc);
    tc.d = 5;
    tc.L = 2;
    tc.n_ref = 20000;
    int st;
    bfc_target *t = bfc_target_new(&tc, &st);
    cr_assert_not_null(t);
    bfc_data tr, te;
    cr_assert_eq(bfc_data_make(t, 400, 1, BFC_STREAM_TRAIN, &tr), BFC_OK);
    cr_assert_eq(bfc_data_make(t, 300, 1, BFC_STREAM_TEST, &te), BFC_OK);
    bfc_learner_config lc;
    bfc_learner_defaults(&lc);
    bfc_entk_ridge_config rc;
    bfc_entk_ridge_defaults(&rc);
    double *pred = bfc_alloc_d(te.n);
    bfc_entk_ridge_report rep;
    cr_assert_eq(bfc_entk_regress(bfc_target_config_of(t), &lc, &rc, 1, &tr, te.X, te.n, pred,
                                  &rep),
                 BFC_OK, "%s", bfc_last_error());
    double err = bfc_relative_error(pred, te.g, te.n);
    cr_log_info("eNTK d=5 L=2 n=400: test error %.3e, relative ridge %.1e, P = %zu", err,
                rep.ridge_relative, rep.n_params);
    cr_assert_lt(err, 1e-3, "test error %g", err);
    cr_assert_eq(rep.fallback, 0);
    bfc_free(pred);
    bfc_data_free(&tr);
    bfc_data_free(&te);
    bfc_target_free(t);
}

Test(entk, refuses_empty_inputs_and_bad_ridge_configurations)
{
    bfc_target_config tc;
    bfc_learner_config lc;
    configs(3, 3, 0.1, BFC_TASK_REGRESSION, &tc, &lc);
    double x[3] = {0}, K[1];
    cr_assert_eq(bfc_entk_gram(&tc, &lc, x, 0, x, 1, K), BFC_EINVAL);
    tc.L = 1;
    cr_assert_eq(bfc_entk_gram_sym(&tc, &lc, x, 1, K), BFC_EINVAL);
    bfc_entk_ridge_config rc;
    bfc_entk_ridge_defaults(&rc);
    rc.val_fraction = 0;
    double K2[4] = {1, 0, 0, 1}, y[2] = {1, 2}, coef[2];
    cr_assert_eq(bfc_entk_ridge_fit(&rc, K2, y, 2, coef, NULL), BFC_EINVAL);
    cr_assert_not_null(strstr(bfc_last_error(), "validation fraction must be in (0, 1)"));
}
