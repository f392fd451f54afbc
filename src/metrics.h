/* metrics.h: the metrics of SPEC §4: relative test error and per-layer feature error. */
#ifndef BFC_METRICS_H
#define BFC_METRICS_H

/* E(pred − g)² / Var(g) over n points (Var with denominator n). */
double bfc_relative_error(const double *pred, const double *g, int n);

/* Fraction of points where sign(pred) differs from the label y ∈ {−1, +1}. */
double bfc_classification_error(const double *pred, const double *y, int n);

/* Feature error: min_A ‖[S, 1] A − S*‖²_F / ‖S* − mean(S*)‖²_F by least squares (SVD, so a
 * rank-deficient S is allowed). S is n × k, Sstar n × ks, row-major. Returns BFC_OK and
 * *err, or BFC_ENOMEM / BFC_ENUMERIC. */
int bfc_feature_error(const double *S, int k, const double *Sstar, int ks, int n, double *err);

#endif
