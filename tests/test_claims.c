/* test_claims.c: the criteria of the claims (src/claims.c) on hand-made series whose verdict
 * is known, including the edges: NaN (not measured), censored n_ε, ties with the threshold. */
#include <criterion/criterion.h>
#include <math.h>

#include "claims.h"

Test(claims, median_sorts_nan_last_and_leaves_input_unchanged)
{
    double v[] = {3.0, NAN, 1.0, 2.0};
    cr_assert_float_eq(bfc_claim_median(v, 3), 3.0, 1e-15); /* {1, 3, NaN} */
    cr_assert_float_eq(bfc_claim_median((double[]){3, 1, 2, 4}, 4), 2.5, 1e-15);
    cr_assert(isnan(bfc_claim_median((double[]){NAN, NAN, 1}, 3)));
    cr_assert_float_eq(v[0], 3.0, 0);
    cr_assert(isnan(v[1]));
    cr_assert_float_eq(bfc_claim_min(v, 4), 1.0, 0);
    cr_assert_float_eq(bfc_claim_max(v, 4), 3.0, 0);
    cr_assert(isnan(bfc_claim_min((double[]){NAN}, 1)));
}

Test(claims, verdict_names_are_distinct_and_not_shown_covers_fail_partial_undetermined)
{
    cr_assert_str_eq(bfc_verdict_name(BFC_VERDICT_NA), "N/A");
    cr_assert_str_eq(bfc_verdict_name(BFC_VERDICT_PARTIAL), "PARTIAL");
    cr_assert(bfc_verdict_not_shown(BFC_VERDICT_FAIL));
    cr_assert(bfc_verdict_not_shown(BFC_VERDICT_PARTIAL));
    cr_assert(bfc_verdict_not_shown(BFC_VERDICT_UNDETERMINED));
    cr_assert(!bfc_verdict_not_shown(BFC_VERDICT_PASS));
    cr_assert(!bfc_verdict_not_shown(BFC_VERDICT_REPORTED));
    cr_assert(!bfc_verdict_not_shown(BFC_VERDICT_NA));
}

Test(claims, ratio_grid_passes_only_where_every_measured_n_holds)
{
    const double e2e[] = {1e-3, 1e-3, 1e-3, NAN};
    bfc_claim_ratios r;
    /* exactly 3x counts as holding; the NaN point is not judged */
    cr_assert_eq(bfc_claim_ratio_grid(e2e, (double[]){3e-3, 1e-2, 0.1, 1.0}, 4, 3.0, 1.0, &r),
                 BFC_VERDICT_PASS);
    cr_assert_eq(r.judged, 3);
    cr_assert(isnan(r.ratio[3]));
    cr_assert_float_eq(r.min_ratio, 3.0, 1e-12);
    cr_assert_eq(bfc_claim_ratio_grid(e2e, (double[]){2e-3, 1e-2, NAN, 1}, 4, 3.0, 1.0, &r),
                 BFC_VERDICT_PARTIAL);
    cr_assert_eq(r.held, 1);
    cr_assert_eq(r.judged, 2);
    cr_assert_eq(bfc_claim_ratio_grid(e2e, (double[]){1e-3, 2e-3, 2.9e-3, 1}, 4, 3.0, 1.0, &r),
                 BFC_VERDICT_FAIL);
    cr_assert_eq(bfc_claim_ratio_grid(e2e, (double[]){NAN, NAN, NAN, 1}, 4, 3.0, 1.0, &r),
                 BFC_VERDICT_NA);
    /* where e2e has not learned (its median above e2e_max) a ratio is not judged */
    const double fails_low[] = {0.3, 1e-3};
    cr_assert_eq(bfc_claim_ratio_grid(fails_low, (double[]){0.5, 1e-2}, 2, 3.0, 0.1, &r),
                 BFC_VERDICT_PASS);
    cr_assert_eq(r.unlearned, 1);
    cr_assert_eq(r.judged, 1);
    cr_assert(isnan(r.ratio[0]));
}

Test(claims, best_kernel_is_chosen_per_seed_by_test_error_and_skips_unmeasured)
{
    /* 3 methods x 3 seeds: method 1 is best on seed 0, method 2 on seed 1, nothing on seed 2
     * but method 0 */
    const double err[] = {0.5, 0.4, 0.3, /* method 0 */
                          0.2, NAN, NAN, /* method 1 */
                          0.9, 0.1, NAN};
    double best[3];
    int which[3];
    bfc_claim_best_per_seed(err, 3, 3, best, which);
    cr_assert_float_eq(best[0], 0.2, 0);
    cr_assert_eq(which[0], 1);
    cr_assert_float_eq(best[1], 0.1, 0);
    cr_assert_eq(which[1], 2);
    cr_assert_float_eq(best[2], 0.3, 0);
    cr_assert_eq(which[2], 0);
    /* the median of per-seed bests is never above the best method's median */
    cr_assert_leq(bfc_claim_median(best, 3), 0.4);
    const double none[] = {NAN, NAN};
    bfc_claim_best_per_seed(none, 2, 1, best, which);
    cr_assert(isnan(best[0]));
    cr_assert_eq(which[0], -1);
}

Test(claims, c1_compares_each_seed_with_a_tenth_of_its_own_share)
{
    double med;
    /* ratios 0.5, 2, 0.9: median 0.9 */
    cr_assert_eq(bfc_claim_c1((double[]){0.005, 0.02, 0.0045}, (double[]){0.1, 0.1, 0.05}, 3, &med),
                 BFC_VERDICT_PASS);
    cr_assert_float_eq(med, 0.9, 1e-12);
    cr_assert_eq(bfc_claim_c1((double[]){0.02, 0.02, 0.0045}, (double[]){0.1, 0.1, 0.05}, 3, &med),
                 BFC_VERDICT_FAIL);
}

Test(claims, c2_needs_a_fall_in_every_seed_and_a_frozen_layerwise)
{
    bfc_claim_c2_result r;
    const double frozen[] = {0, 0, 0};
    cr_assert_eq(bfc_claim_c2((double[]){4, 5, 3}, frozen, 3, 3.0, &r), BFC_VERDICT_PASS);
    cr_assert_float_eq(r.med_factor, 4.0, 0);
    /* median 5 but one seed does not fall */
    cr_assert_eq(bfc_claim_c2((double[]){0.9, 5, 6}, frozen, 3, 3.0, &r), BFC_VERDICT_FAIL);
    cr_assert(!r.all_fall);
    cr_assert_eq(bfc_claim_c2((double[]){4, 5, 6}, (double[]){0, 1e-9, 0}, 3, 3.0, &r),
                 BFC_VERDICT_FAIL);
    cr_assert(!r.all_frozen);
    cr_assert_eq(bfc_claim_c2((double[]){2, 2.5, 2.9}, frozen, 3, 3.0, &r), BFC_VERDICT_FAIL);
}

Test(claims, neps_is_the_first_grid_n_at_or_below_eps_and_says_when_it_is_censored)
{
    const double n[] = {100, 200, 400, 800};
    int cens;
    /* crosses between 200 (0.2) and 400 (0.05): grid value 400, log-log interpolated 2^(1/2) */
    const double med[] = {0.5, 0.2, 0.05, 0.01};
    cr_assert_float_eq(bfc_claim_neps(n, med, 4, 0.1, 0, &cens), 400, 0);
    cr_assert_eq(cens, BFC_NEPS_MEASURED);
    cr_assert_float_eq(bfc_claim_neps(n, med, 4, 0.1, 1, &cens), 200 * sqrt(2.0), 1e-9);
    /* at the smallest n already: a bound, n_eps <= 100 */
    cr_assert_float_eq(bfc_claim_neps(n, med, 4, 0.9, 1, &cens), 100, 0);
    cr_assert_eq(cens, BFC_NEPS_BELOW);
    /* never: n_eps > 800 */
    cr_assert_float_eq(bfc_claim_neps(n, med, 4, 1e-3, 1, &cens), 800, 0);
    cr_assert_eq(cens, BFC_NEPS_ABOVE);
    /* unmeasured points are skipped: the first measured point is the grid's lower edge */
    const double gap[] = {NAN, 0.05, 0.2, 0.01};
    cr_assert_float_eq(bfc_claim_neps(n, gap, 4, 0.1, 0, &cens), 200, 0);
    cr_assert_eq(cens, BFC_NEPS_BELOW);
    /* a rise then a fall: the first crossing counts, interpolated from the point before */
    const double bump[] = {0.5, 0.05, 0.3, 0.01};
    cr_assert_float_eq(bfc_claim_neps(n, bump, 4, 0.1, 0, &cens), 200, 0);
}

Test(claims, neps_fit_uses_measured_points_only_with_a_standard_error_from_three)
{
    /* n = 10 d^2 exactly at three measured d; a censored fourth would pull the slope down */
    const double d[] = {4, 8, 16, 32};
    const double ne[] = {160, 640, 2560, 3000};
    const int cens[] = {BFC_NEPS_MEASURED, BFC_NEPS_MEASURED, BFC_NEPS_MEASURED, BFC_NEPS_ABOVE};
    bfc_claim_fit f;
    bfc_claim_neps_fit(d, ne, cens, 4, &f);
    cr_assert(f.fitted);
    cr_assert_eq(f.used, 3);
    cr_assert_float_eq(f.b, 2.0, 1e-12);
    cr_assert_float_eq(exp(f.c), 10.0, 1e-9);
    cr_assert_float_eq(f.b_se, 0.0, 1e-9);
    /* the censored pair (16 measured, > 3000 at 32) bounds the slope by log2(3000/2560) */
    cr_assert_float_eq(f.b_low, log(3000.0 / 160) / log(8.0), 1e-12);
    /* noisy points: a positive standard error, as gsl_fit_linear gives it */
    const double noisy[] = {100, 900, 2000, 9000};
    const int all[] = {0, 0, 0, 0};
    bfc_claim_neps_fit(d, noisy, all, 4, &f);
    cr_assert_gt(f.b_se, 0.05);
    cr_assert(isinf(f.b_low));
    /* two measured points: a slope without a standard error; one: none */
    bfc_claim_neps_fit(d, ne, (int[]){0, 0, 1, 1}, 4, &f);
    cr_assert(f.fitted);
    cr_assert(isnan(f.b_se));
    bfc_claim_neps_fit(d, ne, (int[]){-1, 0, 1, 1}, 4, &f);
    cr_assert(!f.fitted);
    cr_assert_eq(f.used, 1);
}

Test(claims, c5_judges_the_difference_of_exponents_and_is_undetermined_on_a_weak_bound)
{
    bfc_claim_fit k = {.fitted = 1, .b = 3.0, .b_low = -INFINITY}, e = {.fitted = 1, .b = 1.2};
    double diff;
    cr_assert_eq(bfc_claim_c5(&k, &e, &diff), BFC_VERDICT_PASS);
    cr_assert_float_eq(diff, 1.8, 1e-12);
    k.b = 2.0;
    cr_assert_eq(bfc_claim_c5(&k, &e, &diff), BFC_VERDICT_FAIL);
    /* no kernel fit, only a bound: enough to pass, or undetermined */
    bfc_claim_fit kb = {.fitted = 0, .b_low = 2.5};
    cr_assert_eq(bfc_claim_c5(&kb, &e, &diff), BFC_VERDICT_PASS);
    kb.b_low = 1.5;
    cr_assert_eq(bfc_claim_c5(&kb, &e, &diff), BFC_VERDICT_UNDETERMINED);
    bfc_claim_fit none = {.fitted = 0, .b_low = -INFINITY};
    cr_assert_eq(bfc_claim_c5(&none, &e, &diff), BFC_VERDICT_NA);
    cr_assert_eq(bfc_claim_c5(&k, &none, &diff), BFC_VERDICT_NA);
    cr_assert(isnan(diff));
}

Test(claims, c7_allows_a_rise_within_the_seed_spread_only)
{
    bfc_claim_c7_result r;
    /* D = 0, 1 over 3 seeds: log10 changes -1, -1, +0.5: median -1 <= band */
    const double fall[] = {1e-2, 1e-2, 1e-2, 1e-3, 1e-3, 10 * 1e-2 / sqrt(10.0)};
    cr_assert_eq(bfc_claim_c7(fall, 2, 3, &r), BFC_VERDICT_PASS);
    cr_assert_float_eq(r.rise[0], -1.0, 1e-12);
    cr_assert_float_eq(r.band[0], 0.75, 1e-12);
    /* every seed rises tenfold: median +1, band 0 */
    const double rise[] = {1e-3, 2e-3, 3e-3, 1e-2, 2e-2, 3e-2};
    cr_assert_eq(bfc_claim_c7(rise, 2, 3, &r), BFC_VERDICT_FAIL);
    cr_assert_float_eq(r.rise[0], 1.0, 1e-12);
}

Test(claims, monotone_n_flags_a_median_above_every_seed_at_a_smaller_n)
{
    bfc_claim_monotone r;
    /* falls, then a rise within the spread at n[1] (hi 3e-3): not a rise */
    cr_assert_eq(bfc_claim_monotone_n((double[]){1e-2, 1e-3, 2e-3}, (double[]){2e-2, 3e-3, 4e-3}, 3,
                                      &r),
                 BFC_VERDICT_PASS);
    /* L = 3 in the issue: 8.5e-5 at 1e4 (seeds up to 1.2e-4), 2.5e-4 at 2e4 */
    cr_assert_eq(bfc_claim_monotone_n((double[]){1.5e-4, 8.5e-5, 2.5e-4},
                                      (double[]){2e-4, 1.2e-4, 1.7e-3}, 3, &r),
                 BFC_VERDICT_FAIL);
    cr_assert_eq(r.rises, 2); /* 2.5e-4 above both 2e-4 and 1.2e-4 */
    cr_assert_eq(r.worst_j, 1);
    cr_assert_eq(r.worst_k, 2);
    cr_assert_float_eq(r.worst_factor, 2.5e-4 / 8.5e-5, 1e-12);
    cr_assert_eq(bfc_claim_monotone_n((double[]){NAN, 1e-3}, (double[]){NAN, 1e-3}, 2, &r),
                 BFC_VERDICT_NA);
}

Test(claims, c10_needs_every_refit_variant_three_times_behind_e2e)
{
    bfc_claim_ratios r;
    const double both[2] = {3e-3, 3.1e-3}, one_close[2] = {4e-3, 2e-3}, unmeasured[2] = {4e-3, NAN};
    cr_expect_eq(bfc_claim_c10(1e-3, both, 2, &r), BFC_VERDICT_PASS);
    cr_expect_float_eq(r.ratio[1], 3.1, 1e-12);
    cr_expect_eq(bfc_claim_c10(1e-3, one_close, 2, &r), BFC_VERDICT_FAIL,
                 "one variant within 3x of e2e is a FAIL, not PARTIAL");
    cr_expect_float_eq(r.min_ratio, 2.0, 1e-12);
    cr_expect_eq(bfc_claim_c10(1e-3, unmeasured, 2, &r), BFC_VERDICT_NA);
    cr_expect_eq(bfc_claim_c10(NAN, both, 2, &r), BFC_VERDICT_NA);
    const double far[2] = {1.0, 1.0};
    cr_expect_eq(bfc_claim_c10(0.2, far, 2, &r), BFC_VERDICT_NA, "e2e has not learned");
}
