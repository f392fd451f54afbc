/* test_optim.c: the shared optimiser: Adam and SGD steps against their formulas, clipping,
 * cosine decay, the default learning rates, the divergence rule, revert, and the batcher's
 * epochs. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <string.h>

#include "optim.h"

#define TOL (16 * DBL_EPSILON) /* a few roundings of the formulas below */

Test(optim, zero_learning_rate_resolves_to_the_default_of_the_optimiser)
{
    bfc_optim_config c;
    bfc_optim_defaults(&c);
    bfc_optim_resolve(&c);
    cr_expect_eq(c.lr, BFC_ADAM_LR);
    bfc_optim_defaults(&c);
    c.kind = BFC_OPT_SGD;
    bfc_optim_resolve(&c);
    cr_expect_eq(c.lr, BFC_SGD_LR);
    c.lr = 0.5;
    bfc_optim_resolve(&c);
    cr_expect_eq(c.lr, 0.5, "an explicit rate is kept");
}

Test(optim, validation_names_the_field_with_the_callers_prefix)
{
    bfc_optim_config c;
    bfc_optim_defaults(&c);
    c.lr = -1;
    cr_expect_eq(bfc_optim_validate(&c, "--"), BFC_EINVAL);
    cr_expect_not_null(strstr(bfc_last_error(), "--lr"), "%s", bfc_last_error());
    cr_expect_eq(bfc_optim_validate(&c, "two-layer "), BFC_EINVAL);
    cr_expect_not_null(strstr(bfc_last_error(), "two-layer lr"), "%s", bfc_last_error());
    bfc_optim_defaults(&c);
    c.lr = 1e-3;
    c.momentum = 1.0;
    cr_expect_eq(bfc_optim_validate(&c, "--"), BFC_EINVAL);
    cr_expect_not_null(strstr(bfc_last_error(), "--momentum"), "%s", bfc_last_error());
}

Test(optim, cosine_decays_from_the_peak_to_half_at_mid_period)
{
    bfc_optim_config c;
    bfc_optim_defaults(&c);
    c.lr = 0.2;
    cr_expect_eq(bfc_optim_lr(&c, 0, 100), 0.2);
    cr_expect_float_eq(bfc_optim_lr(&c, 50, 100), 0.1, TOL);
    cr_expect_lt(bfc_optim_lr(&c, 99, 100), 0.2 * 1e-3);
    c.cosine = 0;
    cr_expect_eq(bfc_optim_lr(&c, 99, 100), 0.2);
}

/* Two parameters, two parts; step t = 1 and 2 by hand. */
Test(optim, adam_and_sgd_follow_their_formulas_on_the_given_parts_only)
{
    double theta[3] = {1.0, -2.0, 5.0}, grad[3] = {0.5, -1.5, 7.0};
    const bfc_range parts[2] = {{0, 1}, {1, 1}}; /* θ[2] is not trained */
    bfc_optim_config c;
    bfc_optim_defaults(&c);
    c.lr = 0.1;
    bfc_optim o;
    cr_assert_eq(bfc_optim_init(&o, &c, 3, theta), BFC_OK);
    double m1[2] = {0}, m2[2] = {0}, ref[2] = {1.0, -2.0};
    for (long t = 1; t <= 2; t++) {
        bfc_optim_update(&o, theta, grad, parts, 2, c.lr, t);
        for (int i = 0; i < 2; i++) {
            m1[i] = 0.9 * m1[i] + 0.1 * grad[i];
            m2[i] = 0.999 * m2[i] + (1 - 0.999) * grad[i] * grad[i];
            const double mh = m1[i] / (1 - pow(0.9, (double)t)),
                         vh = m2[i] / (1 - pow(0.999, (double)t));
            ref[i] -= c.lr * mh / (sqrt(vh) + 1e-8);
            cr_expect_float_eq(theta[i], ref[i], TOL, "Adam t=%ld θ[%d] %.17g vs %.17g", t, i,
                               theta[i], ref[i]);
        }
    }
    cr_expect_eq(theta[2], 5.0, "a parameter outside the parts is not touched");
    bfc_optim_free(&o);

    double th[2] = {1.0, 1.0}, g[2] = {2.0, 0.0};
    const bfc_range all = {0, 2};
    bfc_optim_defaults(&c);
    c.kind = BFC_OPT_SGD;
    c.lr = 0.1;
    c.momentum = 0.5;
    cr_assert_eq(bfc_optim_init(&o, &c, 2, th), BFC_OK);
    bfc_optim_update(&o, th, g, &all, 1, c.lr, 1); /* v = 2,   θ = 1 − 0.2 */
    bfc_optim_update(&o, th, g, &all, 1, c.lr, 2); /* v = 3,   θ = 0.8 − 0.3 */
    cr_expect_float_eq(th[0], 0.5, TOL, "SGD with momentum: %.17g", th[0]);
    cr_expect_eq(th[1], 1.0);
    bfc_optim_reset(&o);
    cr_expect_eq(o.m1[0], 0.0, "reset zeroes the velocity");
    bfc_optim_free(&o);
}

Test(optim, clipping_scales_the_gradient_over_all_parts_to_the_bound)
{
    /* SGD without momentum: θ moves by lr·g·scale, so the step shows the scale */
    double th[4] = {0}, g[4] = {3.0, 100.0, 4.0, 0.0};
    const bfc_range parts[2] = {{0, 1}, {2, 1}}; /* ‖(3, 4)‖ = 5; g[1] is outside */
    bfc_optim_config c;
    bfc_optim_defaults(&c);
    c.kind = BFC_OPT_SGD;
    c.momentum = 0.0;
    c.lr = 1.0;
    c.clip = 1.0;
    bfc_optim o;
    cr_assert_eq(bfc_optim_init(&o, &c, 4, th), BFC_OK);
    bfc_optim_update(&o, th, g, parts, 2, c.lr, 1);
    cr_expect_float_eq(th[0], -0.6, TOL, "%.17g", th[0]);
    cr_expect_float_eq(th[2], -0.8, TOL, "%.17g", th[2]);
    cr_expect_eq(th[1], 0.0);
    /* a norm under the bound is left alone */
    c.clip = 10.0;
    o.c = c;
    bfc_optim_update(&o, th, g, parts, 2, c.lr, 2);
    cr_expect_float_eq(th[0], -3.6, TOL, "%.17g", th[0]);
    bfc_optim_free(&o);
}

Test(optim, revert_restores_the_parameters_before_the_latest_update)
{
    double th[3] = {1, 2, 3}, g[3] = {1, 1, 1};
    const bfc_range all = {0, 3};
    bfc_optim_config c;
    bfc_optim_defaults(&c);
    c.lr = 0.1;
    bfc_optim o;
    cr_assert_eq(bfc_optim_init(&o, &c, 3, th), BFC_OK);
    bfc_optim_update(&o, th, g, &all, 1, c.lr, 1);
    double after1[3];
    memcpy(after1, th, sizeof th);
    bfc_optim_update(&o, th, g, &all, 1, c.lr, 2);
    cr_expect_neq(th[0], after1[0]);
    bfc_optim_revert(&o, th);
    cr_expect_arr_eq(th, after1, sizeof th);
    bfc_optim_free(&o);
}

/* A stage that trains part B after one that trained part A (layerwise, refit, featonly):
 * revert after a divergence in the second stage restores B and leaves A as it is now, not as
 * it was before A's own last update. */
Test(optim, revert_leaves_a_part_frozen_since_an_earlier_update_as_it_is)
{
    double th[4] = {1, 2, 3, 4}, g[4] = {1, 1, 1, 1};
    const bfc_range a = {0, 2}, b = {2, 2};
    bfc_optim_config c;
    bfc_optim_defaults(&c);
    c.lr = 0.1;
    bfc_optim o;
    cr_assert_eq(bfc_optim_init(&o, &c, 4, th), BFC_OK);
    bfc_optim_update(&o, th, g, &a, 1, c.lr, 1); /* stage 1 trains A */
    bfc_optim_reset(&o);
    double before[4];
    memcpy(before, th, sizeof th);
    bfc_optim_update(&o, th, g, &b, 1, c.lr, 1); /* stage 2 trains B, A frozen */
    cr_expect_neq(th[2], before[2]);
    bfc_optim_revert(&o, th);
    cr_expect_arr_eq(th, before, sizeof th, "A went back to before its stage-1 update");
    bfc_optim_free(&o);
}

Test(optim, divergence_is_a_loss_not_finite_or_above_the_factor_times_the_first)
{
    cr_expect(!bfc_loss_diverged(1.0, 1.0));
    cr_expect(!bfc_loss_diverged(0.9e6, 1.0));
    cr_expect(!bfc_loss_diverged(BFC_DIVERGE_FACTOR * 2.0, 2.0), "the bound itself is allowed");
    cr_expect(bfc_loss_diverged(BFC_DIVERGE_FACTOR * 2.0 * 1.0001, 2.0));
    cr_expect(bfc_loss_diverged(NAN, 1.0));
    cr_expect(bfc_loss_diverged(INFINITY, 1.0));
    cr_expect(bfc_loss_diverged(1.0, NAN), "a first loss that is not finite is divergence");
    cr_expect(bfc_loss_diverged(NAN, NAN));
}

Test(optim, every_epoch_of_the_batcher_visits_each_point_once)
{
    enum { N = 10, B = 5, D = 2 };
    double X[N * D], y[N], Xb[B * D], yb[B];
    for (int i = 0; i < N; i++) {
        y[i] = i;
        X[i * D] = 10.0 * i;
        X[i * D + 1] = -i;
    }
    bfc_data data = {N, D, X, y, y};
    bfc_batcher b;
    cr_assert_eq(bfc_batcher_init(&b, N, 7), BFC_OK);
    int first[N];
    for (int epoch = 0; epoch < 3; epoch++) {
        int seen[N] = {0};
        for (int k = 0; k < N / B; k++) {
            bfc_batch_next(&b, &data, B, Xb, yb);
            for (int r = 0; r < B; r++) {
                int i = (int)yb[r];
                cr_assert(i >= 0 && i < N);
                cr_expect_eq(Xb[r * D], 10.0 * i, "rows and labels travel together");
                seen[i]++;
                if (epoch == 0) first[k * B + r] = i;
            }
        }
        for (int i = 0; i < N; i++) cr_expect_eq(seen[i], 1, "epoch %d: point %d", epoch, i);
    }
    /* the same seed gives the same order */
    bfc_batcher b2;
    cr_assert_eq(bfc_batcher_init(&b2, N, 7), BFC_OK);
    bfc_batch_next(&b2, &data, B, Xb, yb);
    for (int r = 0; r < B; r++) cr_expect_eq((int)yb[r], first[r]);
    bfc_batcher_free(&b);
    bfc_batcher_free(&b2);
}
