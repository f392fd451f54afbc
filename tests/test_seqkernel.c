/* test_seqkernel.c: the sequential kernel baseline: exact at depth 2, better than a constant
 * at depth 3 with its layer-2 feature error, the monomial/form identity, the alignment that
 * changes no prediction, and refusals of bad input. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "metrics.h"
#include "rng.h"
#include "seqkernel.h"

static bfc_target *make_target(int d, int L, int task)
{
    bfc_target_config c;
    bfc_target_defaults(&c);
    c.d = d;
    c.L = L;
    c.task = task;
    c.n_ref = 20000;
    c.seed = 1;
    int st;
    bfc_target *t = bfc_target_new(&c, &st);
    cr_assert_not_null(t, "%s", bfc_last_error());
    return t;
}

static void make_data(const bfc_target *t, int n, int stream, bfc_data *D)
{
    cr_assert_eq(bfc_data_make(t, n, 7, stream, D), BFC_OK, "%s", bfc_last_error());
}

Test(seqkernel, is_exact_quadratic_regression_at_depth_two)
{
    bfc_target *t = make_target(10, 2, BFC_TASK_REGRESSION);
    bfc_data tr, te;
    make_data(t, 1000, BFC_STREAM_TRAIN, &tr);
    make_data(t, 2000, BFC_STREAM_TEST, &te);
    bfc_seqk_config c;
    bfc_seqk_defaults(&c);
    bfc_seqk_model *m;
    cr_assert_eq(bfc_seqk_fit(&c, t, &tr, &m), BFC_OK, "%s", bfc_last_error());
    double *pred = bfc_alloc_d((size_t)te.n);
    cr_assert_eq(bfc_seqk_predict(m, te.X, te.n, pred), BFC_OK);
    double err = bfc_relative_error(pred, te.g, te.n);
    cr_assert_lt(err, 1e-6, "test error %g", err);
    cr_assert_eq(bfc_seqk_report_of(m)->n_monomials[2], 21 * 22 / 2);
    bfc_free(pred);
    bfc_seqk_free(m);
    bfc_data_free(&tr);
    bfc_data_free(&te);
    bfc_target_free(t);
}

Test(seqkernel, beats_a_constant_at_depth_three_and_reports_its_layer_two_feature_error)
{
    bfc_target *t = make_target(10, 3, BFC_TASK_REGRESSION);
    bfc_data tr, te;
    make_data(t, 5000, BFC_STREAM_TRAIN, &tr);
    make_data(t, 5000, BFC_STREAM_TEST, &te);
    bfc_seqk_config c;
    bfc_seqk_defaults(&c);
    bfc_seqk_model *m;
    cr_assert_eq(bfc_seqk_fit(&c, t, &tr, &m), BFC_OK, "%s", bfc_last_error());
    double *pred = bfc_alloc_d((size_t)te.n);
    cr_assert_eq(bfc_seqk_predict(m, te.X, te.n, pred), BFC_OK);
    double err = bfc_relative_error(pred, te.g, te.n);
    /* the constant predictor (the mean) has relative error 1 */
    cr_assert_lt(err, 0.5, "test error %g", err);
    double fe = NAN;
    cr_assert_eq(bfc_seqk_feature_error(m, t, te.X, te.n, 2, &fe), BFC_OK, "%s",
                 bfc_last_error());
    cr_assert(fe >= 0.0 && fe < 0.5, "layer-2 feature error %g", fe);
    const bfc_seqk_report *r = bfc_seqk_report_of(m);
    cr_log_info("L=3 d=10 n=5000: test error %.3e, layer-2 feature error %.3e, ridges %.1e %.1e",
                err, fe, r->ridge[2], r->ridge[3]);
    for (int l = 2; l <= 3; l++) cr_assert(r->ridge[l] > 0 && isfinite(r->val_error[l]));
    /* x_i·x_i = (x_i² − 1)·1 + 1·1: d exact relations among the layer-2 monomials */
    cr_assert_eq(r->n_null[2], 10);
    bfc_free(pred);
    bfc_seqk_free(m);
    bfc_data_free(&tr);
    bfc_data_free(&te);
    bfc_target_free(t);
}

Test(seqkernel, form_reproduces_the_monomial_regression)
{
    enum { H = 5, P = H * (H + 1) / 2 };
    double h[H], c[P], phi[P], M[H * H];
    gsl_rng *r = bfc_rng_new(3, BFC_STREAM_BASELINE);
    bfc_rng_normal(r, h, H, 1.0);
    bfc_rng_normal(r, c, P, 1.0);
    gsl_rng_free(r);
    bfc_seqk_monomials(phi, h, 1, H);
    bfc_seqk_form_of(M, c, H);
    double lin = 0, quad = 0, scale = 0;
    for (int q = 0; q < P; q++) {
        lin += c[q] * phi[q];
        scale += fabs(c[q] * phi[q]);
    }
    for (int a = 0; a < H; a++)
        for (int b = 0; b < H; b++) quad += h[a] * M[a * H + b] * h[b];
    cr_assert_lt(fabs(lin - quad), 1e-14 * scale);
    for (int a = 0; a < H; a++)
        for (int b = 0; b < H; b++) cr_assert_eq(M[a * H + b], M[b * H + a]);
}

Test(seqkernel, alignment_changes_no_prediction_and_brings_the_form_closer_to_rank_k)
{
    bfc_target *t = make_target(6, 3, BFC_TASK_REGRESSION);
    bfc_data tr, te;
    make_data(t, 1500, BFC_STREAM_TRAIN, &tr);
    make_data(t, 500, BFC_STREAM_TEST, &te);
    bfc_seqk_config c;
    bfc_seqk_defaults(&c);
    bfc_seqk_model *ma, *mp;
    cr_assert_eq(bfc_seqk_fit(&c, t, &tr, &ma), BFC_OK, "%s", bfc_last_error());
    c.align = 0;
    cr_assert_eq(bfc_seqk_fit(&c, t, &tr, &mp), BFC_OK, "%s", bfc_last_error());
    /* layer 2 only: layer 3 sees different features in the two models */
    const int H = bfc_seqk_dim_h(ma, 2);
    double *h = bfc_alloc_d((size_t)H);
    double worst = 0.0, scale = 0.0;
    for (int i = 0; i < te.n; i++) {
        const double *x = te.X + (size_t)i * 6;
        for (int a = 0; a < 6; a++) {
            h[a] = x[a];
            h[6 + a] = x[a] * x[a] - 1.0;
        }
        h[12] = 1.0;
        double qa = 0, qp = 0;
        for (int a = 0; a < H; a++)
            for (int b = 0; b < H; b++) {
                qa += h[a] * bfc_seqk_form(ma, 2)[a * H + b] * h[b];
                qp += h[a] * bfc_seqk_form(mp, 2)[a * H + b] * h[b];
            }
        worst = fmax(worst, fabs(qa - qp));
        scale = fmax(scale, fabs(qp));
    }
    cr_assert_lt(worst, 1e-9 * scale, "aligned form differs by %g (scale %g)", worst, scale);
    const bfc_seqk_report *ra = bfc_seqk_report_of(ma), *rp = bfc_seqk_report_of(mp);
    cr_assert_leq(ra->tail[2], rp->tail[2] + 1e-12);
    cr_log_info("rank-3 tail of M_2: plain %.3e, aligned %.3e", rp->tail[2], ra->tail[2]);
    bfc_free(h);
    bfc_seqk_free(ma);
    bfc_seqk_free(mp);
    bfc_data_free(&tr);
    bfc_data_free(&te);
    bfc_target_free(t);
}

Test(seqkernel, refuses_fewer_points_than_monomials_with_the_n_needed)
{
    bfc_target *t = make_target(10, 2, BFC_TASK_REGRESSION);
    bfc_data tr;
    make_data(t, 100, BFC_STREAM_TRAIN, &tr);
    bfc_seqk_config c;
    bfc_seqk_defaults(&c);
    bfc_seqk_model *m = (bfc_seqk_model *)&c;
    cr_assert_eq(bfc_seqk_fit(&c, t, &tr, &m), BFC_EINVAL);
    cr_assert_null(m);
    cr_assert_not_null(strstr(bfc_last_error(), "231 quadratic monomials"), "%s",
                       bfc_last_error());
    cr_assert_not_null(strstr(bfc_last_error(), "use n >= 289"), "%s", bfc_last_error());
    bfc_data_free(&tr);
    bfc_target_free(t);
}

Test(seqkernel, refuses_classification_and_bad_configurations)
{
    bfc_target *t = make_target(4, 2, BFC_TASK_CLASSIFICATION);
    bfc_data tr;
    make_data(t, 200, BFC_STREAM_TRAIN, &tr);
    bfc_seqk_config c;
    bfc_seqk_defaults(&c);
    bfc_seqk_model *m;
    cr_assert_eq(bfc_seqk_fit(&c, t, &tr, &m), BFC_EINVAL);
    cr_assert_not_null(strstr(bfc_last_error(), "regression only"));
    bfc_seqk_defaults(&c);
    c.val_frac = 1.0;
    cr_assert_eq(bfc_seqk_fit(&c, t, &tr, &m), BFC_EINVAL);
    cr_assert_not_null(strstr(bfc_last_error(), "val_frac"));
    bfc_data_free(&tr);
    bfc_target_free(t);
}
