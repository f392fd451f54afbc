/* test_learner.c: the learner's hand-written gradients against central differences, for
 * every parameter block, every schedule's trainable range, with and without clamping, tie,
 * weight decay, regression and classification; determinism of the forward pass. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <string.h>

#include "learner.h"
#include "rng.h"

/* Central differences with step h ~ ε^{1/3} have truncation error O(h²) and rounding
 * error O(ε/h): both ~1e-11 relative for these smooth objectives; 1e-6 is the contract. */
#define FD_STEP 1e-5
#define GRAD_TOL 1e-6

typedef struct {
    int L, d, B;
    double clamp, tie, wd;
    int task;
    unsigned J3; /* J_3 override (0 = default) */
    unsigned J4; /* J_4 override (0 = default) */
} case_t;

static void make(const case_t *cs, bfc_target_config *tc, bfc_learner **lr, double **X, double **y)
{
    bfc_target_defaults(tc);
    tc->d = cs->d;
    tc->L = cs->L;
    tc->gap = 0.3;
    tc->task = cs->task;
    if (cs->J3) tc->J[3] = cs->J3;
    if (cs->J4) tc->J[4] = cs->J4;
    bfc_target_resolve(tc);
    bfc_learner_config lc;
    bfc_learner_defaults(&lc);
    lc.clamp = cs->clamp;
    lc.lambda_tie = cs->tie;
    lc.lambda_wd = cs->wd;
    lc.init_scale = 1.0; /* large weights: every term of the gradient matters */
    lc.seed = 3;
    int st;
    *lr = bfc_learner_new(tc, &lc, cs->B, &st);
    cr_assert_not_null(*lr, "%s", bfc_last_error());
    gsl_rng *r = bfc_rng_new(11, BFC_STREAM_TRAIN);
    *X = bfc_alloc_d((size_t)cs->B * cs->d);
    *y = bfc_alloc_d((size_t)cs->B);
    bfc_rng_normal(r, *X, (size_t)cs->B * cs->d, 1.0);
    for (int b = 0; b < cs->B; b++)
        (*y)[b] = cs->task == BFC_TASK_CLASSIFICATION ? (b % 2 ? 1.0 : -1.0) : gsl_rng_uniform(r) * 3;
    gsl_rng_free(r);
    /* a nonzero bias so its gradient is exercised */
    bfc_learner_params(*lr)[0] = 0.3;
}

/* Max over parameters of |analytic − numeric| / max(|analytic|, |numeric|, floor). */
static double grad_check(const case_t *cs, int top, int lo)
{
    bfc_target_config tc;
    bfc_learner *lr;
    double *X, *y;
    make(cs, &tc, &lr, &X, &y);
    size_t np = bfc_learner_nparams(lr), off, len;
    bfc_learner_slice(lr, lo, top, &off, &len);
    double *g = bfc_alloc_d(np);
    double *theta = bfc_learner_params(lr);
    bfc_learner_loss_grad(lr, X, y, cs->B, top, lo, g, NULL);
    /* scale for the floor: the gradient's largest entry */
    double gmax = 0.0;
    for (size_t i = off; i < off + len; i++) gmax = fmax(gmax, fabs(g[i]));
    double worst = 0.0;
    double *gd = bfc_alloc_d(np);
    size_t first = cs->task == BFC_TASK_CLASSIFICATION ? 0 : off;
    for (size_t i = first; i < off + len; i = (i == 0 ? off : i + 1)) {
        double keep = theta[i];
        theta[i] = keep + FD_STEP;
        double fp = bfc_learner_loss_grad(lr, X, y, cs->B, top, lo, gd, NULL);
        theta[i] = keep - FD_STEP;
        double fm = bfc_learner_loss_grad(lr, X, y, cs->B, top, lo, gd, NULL);
        theta[i] = keep;
        double num = (fp - fm) / (2 * FD_STEP);
        double den = fmax(fmax(fabs(num), fabs(g[i])), 1e-3 * gmax);
        double rel = fabs(num - g[i]) / den;
        if (rel > worst) worst = rel;
    }
    bfc_free(gd);
    bfc_free(g);
    bfc_free(X);
    bfc_free(y);
    bfc_learner_free(lr);
    return worst;
}

Test(learner, backward_matches_finite_differences_end_to_end_L3)
{
    case_t cs = {.L = 3, .d = 5, .B = 7, .tie = 1.0};
    for (int top = 2; top <= 3; top++) {
        double w = grad_check(&cs, top, 2);
        cr_expect_leq(w, GRAD_TOL, "top %d: worst relative error %g", top, w);
    }
}

Test(learner, backward_matches_finite_differences_for_every_trainable_range_L4)
{
    case_t cs = {.L = 4, .d = 4, .B = 5, .tie = 0.7, .wd = 0.01};
    for (int top = 2; top <= 4; top++)
        for (int lo = 2; lo <= top; lo++) {
            double w = grad_check(&cs, top, lo);
            cr_expect_leq(w, GRAD_TOL, "top %d lo %d: worst relative error %g", top, lo, w);
        }
}

Test(learner, backward_matches_finite_differences_with_clamped_activations)
{
    /* a clamp small enough that some σ inputs are clamped */
    case_t cs = {.L = 4, .d = 4, .B = 6, .tie = 1.0, .wd = 0.001, .clamp = 1.5};
    for (int top = 3; top <= 4; top++) {
        double w = grad_check(&cs, top, 2);
        cr_expect_leq(w, GRAD_TOL, "top %d: worst relative error %g", top, w);
    }
}

Test(learner, backward_matches_finite_differences_with_skip_connections)
{
    /* J_3 = {0, 1, 2}: layer 3 sees x, σ(x) − 1 and σ(R_2 S_2) */
    case_t cs = {.L = 3, .d = 4, .B = 5, .tie = 1.0, .J3 = 0x7u};
    double w = grad_check(&cs, 3, 2);
    cr_expect_leq(w, GRAD_TOL, "worst relative error %g", w);
}

Test(learner, backward_matches_finite_differences_when_inputs_are_shared_by_several_layers)
{
    /* J_4 = {0, 1, 2, 3}: x² − 1 feeds layers 2 and 4, σ(R_2 S_2) layers 3 and 4, so the
     * unclamped output's union of inputs holds columns of three layers at once */
    case_t cs = {.L = 4, .d = 4, .B = 5, .tie = 0.7, .wd = 0.01, .J4 = 0xFu};
    for (int top = 2; top <= 4; top++)
        for (int lo = 2; lo <= top; lo++) {
            double w = grad_check(&cs, top, lo);
            cr_expect_leq(w, GRAD_TOL, "top %d lo %d: worst relative error %g", top, lo, w);
        }
}

Test(learner, backward_matches_finite_differences_for_classification)
{
    case_t cs = {.L = 3, .d = 4, .B = 8, .tie = 1.0, .task = BFC_TASK_CLASSIFICATION};
    double w = grad_check(&cs, 3, 2);
    cr_expect_leq(w, GRAD_TOL, "worst relative error %g", w);
}

Test(learner, clamped_and_unclamped_paths_agree_when_nothing_is_clamped)
{
    case_t a = {.L = 3, .d = 5, .B = 9, .tie = 1.0, .wd = 0.01};
    case_t b = a;
    b.clamp = 1e6;
    bfc_target_config tc;
    bfc_learner *la, *lb;
    double *X, *y, *X2, *y2;
    make(&a, &tc, &la, &X, &y);
    make(&b, &tc, &lb, &X2, &y2);
    size_t np = bfc_learner_nparams(la);
    double *ga = bfc_alloc_d(np), *gb = bfc_alloc_d(np);
    double fa = bfc_learner_loss_grad(la, X, y, a.B, 3, 2, ga, NULL);
    double fb = bfc_learner_loss_grad(lb, X, y, a.B, 3, 2, gb, NULL);
    cr_expect_float_eq(fa, fb, 1e-12 * fabs(fa));
    double num = 0, den = 0;
    for (size_t i = 0; i < np; i++) {
        num += (ga[i] - gb[i]) * (ga[i] - gb[i]);
        den += ga[i] * ga[i];
    }
    cr_expect_leq(sqrt(num / den), 1e-12);
    bfc_free(ga); bfc_free(gb); bfc_free(X); bfc_free(y); bfc_free(X2); bfc_free(y2);
    bfc_learner_free(la);
    bfc_learner_free(lb);
}

Test(learner, output_is_the_weighted_sum_of_squared_wide_branches)
{
    /* F(x) = Σ α_l ‖W_l h_l‖², checked directly for layer 2 alone: h_2 = [x, x²−1, 1] */
    case_t cs = {.L = 3, .d = 3, .B = 4, .tie = 1.0};
    bfc_target_config tc;
    bfc_learner *lr;
    double *X, *y;
    make(&cs, &tc, &lr, &X, &y);
    double out[4];
    bfc_learner_forward(lr, X, 4, 2, out);
    int H = bfc_learner_dim_h(lr, 2), m = bfc_learner_width(lr, 2);
    cr_assert_eq(H, 2 * 3 + 1);
    const double *W = bfc_learner_W(lr, 2);
    for (int b = 0; b < 4; b++) {
        double h[7], s = 0;
        for (int i = 0; i < 3; i++) {
            h[i] = X[b * 3 + i];
            h[3 + i] = X[b * 3 + i] * X[b * 3 + i] - 1;
        }
        h[6] = 1;
        for (int r = 0; r < m; r++) {
            double f = 0;
            for (int i = 0; i < H; i++) f += W[r * H + i] * h[i];
            s += f * f;
        }
        cr_expect_float_eq(out[b], tc.alpha[2] * s, 1e-12 * s);
    }
    bfc_free(X); bfc_free(y);
    bfc_learner_free(lr);
}

Test(learner, same_seed_gives_bitwise_identical_parameters_and_outputs)
{
    case_t cs = {.L = 4, .d = 6, .B = 16, .tie = 1.0};
    bfc_target_config tc;
    bfc_learner *a, *b;
    double *X, *y, *X2, *y2;
    make(&cs, &tc, &a, &X, &y);
    make(&cs, &tc, &b, &X2, &y2);
    size_t np = bfc_learner_nparams(a);
    cr_assert_eq(memcmp(bfc_learner_params(a), bfc_learner_params(b), np * sizeof(double)), 0);
    double oa[16], ob[16];
    bfc_learner_forward(a, X, 16, 4, oa);
    bfc_learner_forward(b, X, 16, 4, ob);
    cr_assert_eq(memcmp(oa, ob, sizeof oa), 0);
    bfc_free(X); bfc_free(y); bfc_free(X2); bfc_free(y2);
    bfc_learner_free(a);
    bfc_learner_free(b);
}

Test(learner, rejects_bad_configuration_with_a_message)
{
    bfc_target_config tc;
    bfc_target_defaults(&tc);
    bfc_target_resolve(&tc);
    bfc_learner_config lc;
    bfc_learner_defaults(&lc);
    int st;
    lc.init_scale = -1;
    cr_assert_null(bfc_learner_new(&tc, &lc, 16, &st));
    cr_expect_eq(st, BFC_EINVAL);
    cr_expect_not_null(strstr(bfc_last_error(), "--init-scale"));
    bfc_learner_defaults(&lc);
    cr_assert_null(bfc_learner_new(&tc, &lc, 0, &st));
    cr_expect_not_null(strstr(bfc_last_error(), "batch"));
    tc.J[3] = 0x1u; /* J_3 = {0}: misses layer 2 */
    bfc_learner_defaults(&lc);
    cr_assert_null(bfc_learner_new(&tc, &lc, 16, &st));
    cr_expect_not_null(strstr(bfc_last_error(), "J_3 must contain 2"));
}

Test(learner, per_example_output_gradient_matches_finite_differences)
{
    case_t cs = {.L = 3, .d = 4, .B = 1, .tie = 1.0, .wd = 0.1};
    bfc_target_config tc;
    bfc_learner *lr;
    double *X, *y;
    make(&cs, &tc, &lr, &X, &y);
    size_t np = bfc_learner_nparams(lr), off, len;
    bfc_learner_slice(lr, 2, 3, &off, &len);
    double *g = bfc_alloc_d(np), *theta = bfc_learner_params(lr), worst = 0, gmax = 0;
    bfc_learner_output_grad(lr, X, 3, 2, g);
    for (size_t i = off; i < off + len; i++) gmax = fmax(gmax, fabs(g[i]));
    for (size_t i = off; i < off + len; i++) {
        double keep = theta[i], fp, fm;
        theta[i] = keep + FD_STEP;
        bfc_learner_forward(lr, X, 1, 3, &fp);
        theta[i] = keep - FD_STEP;
        bfc_learner_forward(lr, X, 1, 3, &fm);
        theta[i] = keep;
        double num = (fp - fm) / (2 * FD_STEP);
        worst = fmax(worst, fabs(num - g[i]) / fmax(fmax(fabs(num), fabs(g[i])), 1e-3 * gmax));
    }
    cr_expect_leq(worst, GRAD_TOL, "worst relative error %g", worst);
    bfc_free(g);
    bfc_free(X);
    bfc_free(y);
    bfc_learner_free(lr);
}
