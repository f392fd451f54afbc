/* test_metrics.c: relative error, its bulk version, classification error and the
 * least-squares feature error of SPEC §4. */
#include <criterion/criterion.h>
#include <math.h>

#include "bfc.h"
#include "metrics.h"
#include "rng.h"

Test(metrics, relative_error_is_mse_over_variance)
{
    double g[4] = {0, 1, 2, 3}, p[4] = {0, 1, 2, 4};
    /* Var = 1.25, MSE = 0.25 */
    cr_expect_float_eq(bfc_relative_error(p, g, 4), 0.2, 1e-15);
}

Test(metrics, bulk_error_ignores_extreme_targets_and_scores_every_method_on_the_same_points)
{
    enum { N = 2000 };
    static double g[N], p1[N], p2[N];
    gsl_rng *r = bfc_rng_new(1, BFC_STREAM_TEST);
    bfc_rng_normal(r, g, N, 1.0);
    gsl_rng_free(r);
    g[17] = 1e4; /* one extreme target */
    for (int i = 0; i < N; i++) {
        p1[i] = g[i] + 0.01 * (i % 2 ? 1 : -1);
        p2[i] = p1[i];
    }
    p1[17] = 0.0; /* a method that misses the extreme point */
    double plain = bfc_relative_error(p1, g, N), bulk = bfc_relative_error_bulk(p1, g, N, 0.999);
    cr_expect_gt(plain, 0.9, "plain %g", plain);
    cr_expect_lt(bulk, 2e-4, "bulk %g", bulk);
    /* the subset depends on g only: the method that fits the point scores the same */
    cr_expect_float_eq(bfc_relative_error_bulk(p2, g, N, 0.999), bulk, 1e-15);
}

Test(metrics, classification_error_counts_sign_mismatches)
{
    double p[4] = {0.5, -1, 2, -0.1}, y[4] = {1, 1, -1, -1};
    cr_expect_float_eq(bfc_classification_error(p, y, 4), 0.5, 1e-15);
}

Test(metrics, feature_error_is_zero_up_to_an_affine_map_and_allows_rank_deficiency)
{
    enum { N = 500 };
    static double S[N * 3], T[N * 2], Z[N * 3];
    gsl_rng *r = bfc_rng_new(2, BFC_STREAM_TEST);
    bfc_rng_normal(r, S, N * 3, 1.0);
    gsl_rng_free(r);
    for (int i = 0; i < N; i++) {
        T[i * 2] = 2 * S[i * 3] - S[i * 3 + 1] + 3;
        T[i * 2 + 1] = 0.5 * S[i * 3 + 2] - 1;
        Z[i * 3] = Z[i * 3 + 1] = Z[i * 3 + 2] = 0; /* features collapsed to 0 */
    }
    double e;
    cr_assert_eq(bfc_feature_error(S, 3, T, 2, N, &e), BFC_OK);
    cr_expect_lt(e, 1e-20, "error %g", e);
    cr_assert_eq(bfc_feature_error(Z, 3, T, 2, N, &e), BFC_OK);
    cr_expect_float_eq(e, 1.0, 1e-12, "collapsed features explain nothing: %g", e);
}

Test(metrics, relative_diff_is_the_norm_of_the_difference_over_the_reference)
{
    const double a[3] = {1.0, 2.0, 2.0}, b[3] = {1.0, 0.0, 2.0}, zero[3] = {0, 0, 0};
    cr_expect_float_eq(bfc_relative_diff(a, b, 3), 2.0 / sqrt(5.0), 1e-15);
    cr_expect_eq(bfc_relative_diff(b, b, 3), 0.0);
    cr_expect_float_eq(bfc_relative_diff(a, zero, 3), 3.0, 1e-15); /* reference 0: ‖a‖ */
}

Test(metrics, median_sorts_in_place_averages_the_middle_pair_and_puts_nan_last)
{
    double odd[5] = {5, 1, 4, 2, 3}, even[4] = {4, 1, 3, 2};
    cr_expect_eq(bfc_median(odd, 5), 3.0);
    cr_expect_eq(odd[0], 1.0);
    cr_expect_eq(odd[4], 5.0);
    cr_expect_eq(bfc_median(even, 4), 2.5);
    /* NaN orders last: with one NaN among three values the median is the larger finite one */
    double nan3[3] = {NAN, 7, 1};
    cr_expect_eq(bfc_median(nan3, 3), 7.0);
    cr_expect(isnan(nan3[2]));
    cr_expect(isnan(bfc_median(odd, 0)));
}

/* The closed form of the least-squares slope of log y on log x, written out, against which the
 * GSL fit is compared. */
static double slope_by_normal_equations(const double *x, const double *y, int m)
{
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (int i = 0; i < m; i++) {
        double lx = log(x[i]), ly = log(y[i]);
        sx += lx, sy += ly, sxx += lx * lx, sxy += lx * ly;
    }
    return (sxy - sx * sy / m) / (sxx - sx * sx / m);
}

Test(metrics, loglog_fit_recovers_a_power_law_and_gives_the_slope_of_the_normal_equations)
{
    double x[5] = {6, 8, 10, 12, 16}, y[5], b, c, se;
    for (int i = 0; i < 5; i++) y[i] = 3.0 * pow(x[i], 1.5);
    cr_assert_eq(bfc_loglog_fit(x, y, 5, &b, &c, &se), 1);
    cr_expect_float_eq(b, 1.5, 1e-12);
    cr_expect_float_eq(c, log(3.0), 1e-12);
    cr_expect(se < 1e-12, "an exact power law has no slope error (got %g)", se);
    /* scattered points: the same slope as the normal equations, and a standard error that
     * matches sqrt(RSS / (m - 2) / Sxx) */
    double yn[5] = {500, 1100, 1300, 2400, 3100};
    cr_assert_eq(bfc_loglog_fit(x, yn, 5, &b, &c, &se), 1);
    cr_expect_float_eq(b, slope_by_normal_equations(x, yn, 5), 1e-12);
    double mx = 0, sxx = 0, rss = 0;
    for (int i = 0; i < 5; i++) mx += log(x[i]) / 5;
    for (int i = 0; i < 5; i++) {
        sxx += (log(x[i]) - mx) * (log(x[i]) - mx);
        double r = log(yn[i]) - (c + b * log(x[i]));
        rss += r * r;
    }
    cr_expect_float_eq(se, sqrt(rss / 3 / sxx), 1e-12);
    /* two points fit without an error estimate; equal x or a single point do not fit */
    cr_expect_eq(bfc_loglog_fit(x, yn, 2, &b, &c, &se), 1);
    cr_expect(isnan(se));
    double same[3] = {4, 4, 4};
    cr_expect_eq(bfc_loglog_fit(same, yn, 3, &b, &c, &se), 0);
    cr_expect_eq(bfc_loglog_fit(x, yn, 1, &b, &c, &se), 0);
}
