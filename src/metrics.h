/* metrics.h: the metrics of SPEC §4: relative test error and per-layer feature error. */
#ifndef BFC_METRICS_H
#define BFC_METRICS_H

#include <stddef.h>

/* E(pred − g)² / Var(g) over n points (Var with denominator n). */
double bfc_relative_error(const double *pred, const double *g, int n);

/* ‖a − b‖ / ‖b‖ over n entries (‖a − b‖ when b = 0): how far a is from the reference b. */
double bfc_relative_diff(const double *a, const double *b, size_t n);

/* The same on the bulk of the distribution: only the points whose |g − mean(g)| is below its
 * keep-quantile (e.g. keep = 0.999 drops the 0.1% most extreme targets; the subset depends on
 * g alone, so every method is scored on the same points), with Var(g) over that subset.
 * Degree-2^L targets are heavy-tailed: at L ≥ 4 a handful of extreme points can dominate
 * the plain relative error. Returns NaN if fewer than 2 points remain or on allocation
 * failure. */
double bfc_relative_error_bulk(const double *pred, const double *g, int n, double keep);
#define BFC_BULK_KEEP 0.999 /* share of test points kept by the bulk error */

/* Median of v[0..n): v is sorted in place (ascending, NaN last) and the median taken by
 * gsl_stats_median_from_sorted_data; NaN when n ≤ 0. */
double bfc_median(double *v, int n);

/* Least-squares fit log y = c + b log x over m points (gsl_fit_linear) with the standard error
 * of the slope b (NaN unless m ≥ 3). Returns 1, or 0 without a fit (m < 2, m > 256, or every x
 * equal). */
int bfc_loglog_fit(const double *x, const double *y, int m, double *b, double *c, double *b_se);

/* Fraction of points where sign(pred) differs from the label y ∈ {−1, +1}. */
double bfc_classification_error(const double *pred, const double *y, int n);

/* Feature error: min_A ‖[S, 1] A − S*‖²_F / ‖S* − mean(S*)‖²_F by least squares (SVD, so a
 * rank-deficient S is allowed). S is n × k, Sstar n × ks, row-major. Returns BFC_OK and
 * *err, or BFC_ENOMEM / BFC_ENUMERIC. */
int bfc_feature_error(const double *S, int k, const double *Sstar, int ks, int n, double *err);

#endif
