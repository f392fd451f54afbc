/* claims.c: the criteria of the claims of SPEC §5 (see claims.h). */
#include "claims.h"

#include <math.h>
#include <string.h>

#include "bfc.h"
#include "metrics.h"

const char *bfc_verdict_name(bfc_verdict v)
{
    static const char *const names[BFC_VERDICT_COUNT] = {"PASS",         "FAIL",     "PARTIAL", "N/A",
                                                         "UNDETERMINED", "REPORTED", "SKIP"};
    return v >= 0 && v < BFC_VERDICT_COUNT ? names[v] : "?";
}

int bfc_verdict_not_shown(bfc_verdict v)
{
    return v == BFC_VERDICT_FAIL || v == BFC_VERDICT_PARTIAL || v == BFC_VERDICT_UNDETERMINED;
}

/* ---- order statistics with NaN last ---- */

/* x before y: numbers ascending, NaN after every number */
static int before(double x, double y)
{
    if (isnan(x)) return 0;
    return isnan(y) || x < y;
}

double bfc_claim_median(const double *v, int n)
{
    if (n <= 0) return NAN;
    BFC_ASSERT(n <= BFC_CLAIM_MAX_SEEDS);
    double w[BFC_CLAIM_MAX_SEEDS];
    memcpy(w, v, sizeof(double) * (size_t)n);
    return bfc_median(w, n); /* NaN last, as before() orders */
}

double bfc_claim_min(const double *v, int n)
{
    double m = NAN;
    for (int i = 0; i < n; i++)
        if (before(v[i], m)) m = v[i];
    return m;
}

double bfc_claim_max(const double *v, int n)
{
    double m = NAN;
    for (int i = 0; i < n; i++)
        if (!isnan(v[i]) && (isnan(m) || v[i] > m)) m = v[i];
    return m;
}

/* ---- C3, C4, C6 ---- */

bfc_verdict bfc_claim_ratio_grid(const double *e2e_med, const double *other_med, int ng,
                                 double need, double e2e_max, bfc_claim_ratios *r)
{
    BFC_ASSERT(ng >= 0 && ng <= BFC_CLAIM_MAX_GRID);
    memset(r, 0, sizeof *r);
    r->points = ng;
    r->min_ratio = NAN;
    for (int j = 0; j < ng; j++) {
        r->ratio[j] = NAN;
        if (!isfinite(e2e_med[j]) || !isfinite(other_med[j]) || !(e2e_med[j] > 0)) continue;
        if (e2e_med[j] > e2e_max) {
            r->unlearned++;
            continue;
        }
        r->ratio[j] = other_med[j] / e2e_med[j];
        r->judged++;
        r->held += r->ratio[j] >= need;
        if (before(r->ratio[j], r->min_ratio)) r->min_ratio = r->ratio[j];
    }
    if (!r->judged) return BFC_VERDICT_NA;
    return r->held == r->judged ? BFC_VERDICT_PASS : r->held ? BFC_VERDICT_PARTIAL : BFC_VERDICT_FAIL;
}

/* ---- C10 ---- */

bfc_verdict bfc_claim_c10(double e2e_med, const double *refit_med, int nv, bfc_claim_ratios *r)
{
    BFC_ASSERT(nv >= 0 && nv <= BFC_CLAIM_MAX_GRID);
    double e[BFC_CLAIM_MAX_GRID] = {0};
    for (int i = 0; i < nv; i++) e[i] = e2e_med;
    bfc_claim_ratio_grid(e, refit_med, nv, BFC_CLAIM_RATIO, BFC_CLAIM_LEARNED, r);
    if (nv == 0 || r->judged < nv) return BFC_VERDICT_NA;
    return r->held == nv ? BFC_VERDICT_PASS : BFC_VERDICT_FAIL;
}

void bfc_claim_best_per_seed(const double *err, int nm, int ns, double *best, int *which)
{
    for (int s = 0; s < ns; s++) {
        best[s] = NAN;
        which[s] = -1;
        for (int m = 0; m < nm; m++) {
            const double e = err[(size_t)m * (size_t)ns + (size_t)s];
            if (isfinite(e) && !(e >= best[s])) best[s] = e, which[s] = m;
        }
    }
}

/* ---- C1, C2 ---- */

bfc_verdict bfc_claim_c1(const double *err, const double *vL, int ns, double *med_ratio)
{
    BFC_ASSERT(ns >= 1 && ns <= BFC_CLAIM_MAX_SEEDS);
    double ratio[BFC_CLAIM_MAX_SEEDS];
    for (int s = 0; s < ns; s++) ratio[s] = err[s] / (BFC_CLAIM_C1_FRACTION * vL[s]);
    *med_ratio = bfc_claim_median(ratio, ns);
    if (isnan(*med_ratio)) return BFC_VERDICT_NA;
    return *med_ratio <= 1.0 ? BFC_VERDICT_PASS : BFC_VERDICT_FAIL;
}

bfc_verdict bfc_claim_c2(const double *factor, const double *lw_change, int ns, double need,
                         bfc_claim_c2_result *r)
{
    BFC_ASSERT(ns >= 1 && ns <= BFC_CLAIM_MAX_SEEDS);
    r->all_fall = r->all_frozen = 1;
    for (int s = 0; s < ns; s++) {
        if (!(factor[s] > 1.0)) r->all_fall = 0;
        if (!(lw_change[s] <= BFC_CLAIM_C2_FROZEN_RTOL)) r->all_frozen = 0;
    }
    r->med_factor = bfc_claim_median(factor, ns);
    r->min_factor = bfc_claim_min(factor, ns);
    r->max_change = bfc_claim_max(lw_change, ns);
    return r->all_fall && r->med_factor >= need && r->all_frozen ? BFC_VERDICT_PASS
                                                                  : BFC_VERDICT_FAIL;
}

/* ---- C5 ---- */

double bfc_claim_neps(const double *n, const double *med, int m, double eps, int interp,
                      int *censor)
{
    int prev = -1; /* the last measured point before */
    for (int j = 0; j < m; j++) {
        if (isnan(med[j])) continue;
        if (med[j] <= eps) {
            if (prev < 0) {
                *censor = BFC_NEPS_BELOW;
                return n[j];
            }
            *censor = BFC_NEPS_MEASURED;
            if (!interp) return n[j];
            const double a = log(med[prev]), b = log(med[j]);
            /* the crossing of log ε on the segment; at the grid point when the segment is
             * not falling (or starts at an infinite error) */
            const double t = isfinite(a) && a > b ? (a - log(eps)) / (a - b) : 1.0;
            return exp(log(n[prev]) + t * (log(n[j]) - log(n[prev])));
        }
        prev = j;
    }
    *censor = BFC_NEPS_ABOVE;
    return prev < 0 ? NAN : n[prev];
}

void bfc_claim_neps_fit(const double *d, const double *neps, const int *censor, int m,
                        bfc_claim_fit *f)
{
    BFC_ASSERT(m >= 0 && m <= BFC_CLAIM_MAX_GRID);
    memset(f, 0, sizeof *f);
    f->points = m;
    f->b = f->c = f->b_se = NAN;
    f->b_low = -INFINITY;
    double x[BFC_CLAIM_MAX_GRID] = {0}, y[BFC_CLAIM_MAX_GRID] = {0};
    for (int i = 0; i < m; i++)
        if (censor[i] == BFC_NEPS_MEASURED && isfinite(neps[i]) && neps[i] > 0 && d[i] > 0) {
            x[f->used] = d[i];
            y[f->used++] = neps[i];
        }
    /* gsl_fit_linear on the logs; the slope's standard error from 3 points on */
    f->fitted = bfc_loglog_fit(x, y, f->used, &f->b, &f->c, &f->b_se);
    /* bounds from pairs with one censored end: the true log n_ε is above the value of a '>'
     * and below that of a '≤', so a pair (low d: measured or '≤'; high d: '>' or measured
     * with the low one '≤') bounds the slope from below */
    for (int i = 0; i < m; i++)
        for (int j = 0; j < m; j++) {
            if (!(d[j] > d[i]) || !(neps[i] > 0) || !(neps[j] > 0)) continue;
            const int lo_ok = censor[i] == BFC_NEPS_MEASURED || censor[i] == BFC_NEPS_BELOW;
            const int hi_ok = censor[j] == BFC_NEPS_MEASURED || censor[j] == BFC_NEPS_ABOVE;
            const int censored = censor[i] == BFC_NEPS_BELOW || censor[j] == BFC_NEPS_ABOVE;
            if (lo_ok && hi_ok && censored)
                f->b_low = fmax(f->b_low, log(neps[j] / neps[i]) / log(d[j] / d[i]));
        }
}

bfc_verdict bfc_claim_c5(const bfc_claim_fit *kernel, const bfc_claim_fit *e2e, double *diff)
{
    *diff = NAN;
    if (!e2e->fitted) return BFC_VERDICT_NA;
    if (kernel->fitted) {
        *diff = kernel->b - e2e->b; /* the fits over measured points */
        return *diff >= BFC_CLAIM_C5_MARGIN ? BFC_VERDICT_PASS : BFC_VERDICT_FAIL;
    }
    if (!isfinite(kernel->b_low)) return BFC_VERDICT_NA;
    *diff = kernel->b_low - e2e->b;
    return *diff >= BFC_CLAIM_C5_MARGIN ? BFC_VERDICT_PASS : BFC_VERDICT_UNDETERMINED;
}

/* ---- C7 ---- */

bfc_verdict bfc_claim_c7(const double *err, int nD, int ns, bfc_claim_c7_result *r)
{
    BFC_ASSERT(nD >= 1 && nD <= BFC_CLAIM_MAX_GRID && ns >= 1 && ns <= BFC_CLAIM_MAX_SEEDS);
    memset(r, 0, sizeof *r);
    int pass = 1;
    for (int D = 0; D + 1 < nD; D++) {
        double lr[BFC_CLAIM_MAX_SEEDS];
        int all = 1;
        for (int s = 0; s < ns; s++) {
            lr[s] = log10(err[(size_t)(D + 1) * (size_t)ns + (size_t)s]) -
                    log10(err[(size_t)D * (size_t)ns + (size_t)s]);
            all &= !isnan(lr[s]);
        }
        r->rise[D] = bfc_claim_median(lr, ns);
        r->band[D] = 0.5 * (bfc_claim_max(lr, ns) - bfc_claim_min(lr, ns));
        pass &= all && r->rise[D] <= r->band[D]; /* a seed without a value fails */
        r->steps++;
    }
    if (!r->steps) return BFC_VERDICT_NA;
    return pass ? BFC_VERDICT_PASS : BFC_VERDICT_FAIL;
}

/* ---- monotonicity in n ---- */

bfc_verdict bfc_claim_monotone_n(const double *med, const double *hi, int m,
                                 bfc_claim_monotone *r)
{
    memset(r, 0, sizeof *r);
    r->worst_j = r->worst_k = -1;
    r->worst_factor = NAN;
    for (int j = 0; j < m; j++) {
        if (isnan(med[j])) continue;
        r->judged++;
        for (int k = j + 1; k < m; k++) {
            if (isnan(med[k]) || !(med[k] > hi[j])) continue;
            r->rises++;
            const double f = med[k] / med[j];
            if (isnan(r->worst_factor) || f > r->worst_factor)
                r->worst_factor = f, r->worst_j = j, r->worst_k = k;
        }
    }
    if (r->judged < 2) return BFC_VERDICT_NA;
    return r->rises ? BFC_VERDICT_FAIL : BFC_VERDICT_PASS;
}
