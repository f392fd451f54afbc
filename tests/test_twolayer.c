/* test_twolayer.c: the two-layer ReLU baseline: gradient against central differences away
 * from the kinks, learning a low-degree target, determinism, divergence and bad input. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "rng.h"
#include "twolayer.h"

/* The loss is a polynomial of degree 4 in the parameters inside one activation pattern, so
 * central differences with step h have error O(h²) ≈ 1e-10 relative plus rounding O(ε/h);
 * 1e-6 is the contract. Points are kept KINK_MARGIN away from every kink, far beyond h·|x|. */
#define FD_STEP 1e-5
#define GRAD_TOL 1e-6
#define KINK_MARGIN 1e-2

static bfc_target *make_target(int d, int L)
{
    bfc_target_config c;
    bfc_target_defaults(&c);
    c.d = d;
    c.L = L;
    c.n_ref = 20000;
    c.seed = 2;
    int st;
    bfc_target *t = bfc_target_new(&c, &st);
    cr_assert_not_null(t, "%s", bfc_last_error());
    return t;
}

Test(twolayer, gradient_matches_central_differences_away_from_kinks)
{
    enum { d = 5, m = 7, B = 9 };
    const size_t np = bfc_twolayer_nparams(d, m);
    double *theta = bfc_alloc_d(np), *g = bfc_alloc_d(np), *gd = bfc_alloc_d(np);
    double X[B * d], y[B], work[B * (m + 1)];
    gsl_rng *r = bfc_rng_new(5, BFC_STREAM_BASELINE);
    bfc_rng_normal(r, theta, np, 0.7);
    bfc_rng_normal(r, X, B * d, 1.0);
    bfc_rng_normal(r, y, B, 1.0);
    gsl_rng_free(r);
    /* move any pre-activation within KINK_MARGIN of 0 away by shifting its bias */
    double *W = theta, *b = theta + m * d;
    for (int pass = 0; pass < 10; pass++)
        for (int i = 0; i < m; i++)
            for (int s = 0; s < B; s++) {
                double z = b[i];
                for (int a = 0; a < d; a++) z += W[i * d + a] * X[s * d + a];
                if (fabs(z) < KINK_MARGIN) b[i] += 3 * KINK_MARGIN;
            }
    int active = 0;
    for (int i = 0; i < m; i++)
        for (int s = 0; s < B; s++) {
            double z = b[i];
            for (int a = 0; a < d; a++) z += W[i * d + a] * X[s * d + a];
            cr_assert_geq(fabs(z), KINK_MARGIN);
            active += z > 0;
        }
    cr_assert(active > 0 && active < m * B, "both sides of the kink are exercised");
    bfc_twolayer_loss_grad(theta, d, m, X, y, B, g, work);
    double gmax = 0.0;
    for (size_t i = 0; i < np; i++) gmax = fmax(gmax, fabs(g[i]));
    double worst = 0.0;
    for (size_t i = 0; i < np; i++) {
        double keep = theta[i];
        theta[i] = keep + FD_STEP;
        double fp = bfc_twolayer_loss_grad(theta, d, m, X, y, B, gd, work);
        theta[i] = keep - FD_STEP;
        double fm = bfc_twolayer_loss_grad(theta, d, m, X, y, B, gd, work);
        theta[i] = keep;
        double num = (fp - fm) / (2 * FD_STEP);
        double den = fmax(fmax(fabs(num), fabs(g[i])), 1e-3 * gmax);
        worst = fmax(worst, fabs(num - g[i]) / den);
    }
    cr_assert_leq(worst, GRAD_TOL, "worst relative gradient error %g", worst);
    bfc_free(theta);
    bfc_free(g);
    bfc_free(gd);
}

Test(twolayer, forward_is_the_written_formula)
{
    enum { d = 3, m = 4, B = 2 };
    const size_t np = bfc_twolayer_nparams(d, m);
    cr_assert_eq(np, (size_t)(m * d + 2 * m + 1));
    double theta[m * d + 2 * m + 1], X[B * d], out[B], A[B * m];
    gsl_rng *r = bfc_rng_new(6, BFC_STREAM_BASELINE);
    bfc_rng_normal(r, theta, np, 1.0);
    bfc_rng_normal(r, X, B * d, 1.0);
    gsl_rng_free(r);
    bfc_twolayer_forward(theta, d, m, X, B, out, A);
    for (int s = 0; s < B; s++) {
        double f = theta[np - 1];
        for (int i = 0; i < m; i++) {
            double z = theta[m * d + i];
            for (int a = 0; a < d; a++) z += theta[i * d + a] * X[s * d + a];
            f += theta[m * d + m + i] * (z > 0 ? z : 0);
        }
        cr_assert_lt(fabs(f - out[s]), 1e-14 * (1 + fabs(f)));
    }
}

Test(twolayer, learns_a_degree_four_target_far_better_than_a_constant)
{
    bfc_target *t = make_target(5, 2);
    bfc_data tr, te;
    cr_assert_eq(bfc_data_make(t, 4000, 1, BFC_STREAM_TRAIN, &tr), BFC_OK);
    cr_assert_eq(bfc_data_make(t, 2000, 1, BFC_STREAM_TEST, &te), BFC_OK);
    bfc_twolayer_config c;
    bfc_twolayer_defaults(&c);
    c.width = 256;
    c.steps = 4000;
    c.opt.lr = 3e-3;
    bfc_twolayer_result res, res2;
    cr_assert_eq(bfc_twolayer_fit(&c, &tr, &te, &res), BFC_OK, "%s", bfc_last_error());
    cr_log_info("d=5 L=2 n=4000 m=256 4000 steps: test %.3e train %.3e, %.0f us/step",
                res.test_error, res.train_error, res.us_per_step);
    cr_assert_lt(res.test_error, 0.15, "test error %g", res.test_error);
    cr_assert_eq(res.steps, 4000);
    cr_assert(res.us_per_step > 0 && res.wall_s >= res.train_s);
    /* same seed, same result (one BLAS thread) */
    c.steps = 50;
    cr_assert_eq(bfc_twolayer_fit(&c, &tr, &te, &res), BFC_OK);
    cr_assert_eq(bfc_twolayer_fit(&c, &tr, &te, &res2), BFC_OK);
    cr_assert_eq(res.test_error, res2.test_error);
    bfc_data_free(&tr);
    bfc_data_free(&te);
    bfc_target_free(t);
}

Test(twolayer, divergence_stops_with_advice_and_keeps_the_parameters_before_it)
{
    bfc_target *t = make_target(4, 2);
    bfc_data tr;
    cr_assert_eq(bfc_data_make(t, 300, 1, BFC_STREAM_TRAIN, &tr), BFC_OK);
    bfc_twolayer_config c;
    bfc_twolayer_defaults(&c);
    c.width = 16;
    c.steps = 100;
    c.opt.lr = 1e300;
    bfc_twolayer_result res;
    cr_assert_eq(bfc_twolayer_fit(&c, &tr, &tr, &res), BFC_EDIVERGED);
    cr_assert_eq(res.diverged, 1);
    /* the first update already breaks the bound: the errors are those of the initial
     * network, measured (finite), and no step is counted */
    cr_assert(isfinite(res.test_error) && res.test_error > 0, "test error %g", res.test_error);
    cr_assert_eq(res.steps, 0);
    cr_assert_not_null(strstr(res.message, "smaller lr"), "%s", res.message);
    cr_assert_not_null(strstr(bfc_last_error(), "diverged"), "%s", bfc_last_error());
    bfc_data_free(&tr);
    bfc_target_free(t);
}

Test(twolayer, refuses_bad_configurations_and_data)
{
    bfc_target *t = make_target(4, 2);
    bfc_data tr;
    cr_assert_eq(bfc_data_make(t, 100, 1, BFC_STREAM_TRAIN, &tr), BFC_OK);
    bfc_twolayer_config c;
    bfc_twolayer_result res;
    bfc_twolayer_defaults(&c);
    c.width = 0;
    cr_assert_eq(bfc_twolayer_fit(&c, &tr, &tr, &res), BFC_EINVAL);
    cr_assert_not_null(strstr(bfc_last_error(), "width"));
    bfc_twolayer_defaults(&c);
    cr_assert_eq(bfc_twolayer_fit(&c, &tr, &tr, &res), BFC_EINVAL); /* n = 100 < batch 256 */
    cr_assert_not_null(strstr(bfc_last_error(), "batch"));
    bfc_twolayer_defaults(&c);
    c.opt.lr = -1;
    cr_assert_eq(bfc_twolayer_fit(&c, &tr, &tr, &res), BFC_EINVAL);
    bfc_data_free(&tr);
    bfc_target_free(t);
}
