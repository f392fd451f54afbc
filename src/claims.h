/* claims.h: the criteria of the claims of SPEC §5, each in one place. Pure functions over
 * measured values (per-seed errors, medians over seeds on an n grid) that return a verdict
 * and fill in the numbers that decided it. The claim checks (proofs_checks/) and the sweep's
 * report call the same functions, so that one claim cannot be judged two ways. None of them
 * allocates, prints or draws random numbers.
 *
 * Conventions: a NaN value is "not measured" (a method not run at that n, a refused fit, a
 * failed cell) and is never judged; medians sort NaN last (more than half NaN: NaN median).
 * Arrays of per-seed values hold at most BFC_CLAIM_MAX_SEEDS values, grids at most
 * BFC_CLAIM_MAX_GRID points. */
#ifndef BFC_CLAIMS_H
#define BFC_CLAIMS_H

#define BFC_CLAIM_MAX_SEEDS 256
#define BFC_CLAIM_MAX_GRID 64

typedef enum {
    BFC_VERDICT_PASS = 0,
    BFC_VERDICT_FAIL,         /* the criterion fails (at every point of a grid) */
    BFC_VERDICT_PARTIAL,      /* the criterion holds at some points of the grid, not all */
    BFC_VERDICT_NA,           /* nothing to judge: no point where the methods were measured */
    BFC_VERDICT_UNDETERMINED, /* measured, but the data cannot decide (a censored bound on the
                                 wrong side of the criterion) */
    BFC_VERDICT_REPORTED,     /* a trend shown, not judged (C8) */
    BFC_VERDICT_SKIP,
    BFC_VERDICT_COUNT
} bfc_verdict;

/* "PASS", "FAIL", "PARTIAL", "N/A", "UNDETERMINED", "REPORTED", "SKIP". */
const char *bfc_verdict_name(bfc_verdict v);
/* 1 iff the verdict says the claim was not shown: FAIL, PARTIAL, UNDETERMINED. */
int bfc_verdict_not_shown(bfc_verdict v);

/* Median of v[0..n) (v unchanged; NaN sorts last; NaN for n ≤ 0); min and max likewise with
 * NaN only when every value is NaN. n ≤ BFC_CLAIM_MAX_SEEDS. */
double bfc_claim_median(const double *v, int n);
double bfc_claim_min(const double *v, int n);
double bfc_claim_max(const double *v, int n);

/* ---- C3, C4, C6: the other method's median error ≥ BFC_CLAIM_RATIO × e2e's ---- */
#define BFC_CLAIM_RATIO 3.0
/* A separation is judged only where e2e has learned: at an n where e2e's own median error is
 * above this (the largest ε of the default n_ε grid, about the top layer's share v_L at
 * d = 20), every method fails and a ratio of two failures says nothing about the claim. */
#define BFC_CLAIM_LEARNED 0.1

typedef struct {
    int points;                         /* grid points */
    int judged;                         /* points where both medians are finite and e2e's is
                                           at most e2e_max */
    int unlearned;                      /* points left out because e2e's median > e2e_max */
    int held;                           /* judged points with ratio ≥ need */
    double ratio[BFC_CLAIM_MAX_GRID];   /* other / e2e at each point (NaN: not judged) */
    double min_ratio;                   /* smallest judged ratio (NaN if none) */
} bfc_claim_ratios;

/* At each of the ng grid points, ratio = other_med[j] / e2e_med[j] (medians over seeds of
 * the relative test error at the same n, same data), judged where both are finite and
 * e2e_med[j] ≤ e2e_max (BFC_CLAIM_LEARNED). PASS: ratio ≥ need at every judged point;
 * PARTIAL: at some; FAIL: at none; NA: no point judged. */
bfc_verdict bfc_claim_ratio_grid(const double *e2e_med, const double *other_med, int ng,
                                 double need, double e2e_max, bfc_claim_ratios *r);

/* C4's best kernel at one n. err[m * ns + s] is kernel method m's relative test error on
 * seed s (NaN: not run or refused). best[s] = the lowest error over the nm methods on seed
 * s, which[s] its method (−1 when none was measured). The best is chosen per seed by test
 * error: this favours the kernels, so a verdict that they fall short is conservative.
 * The kernel methods of C4 are every kernel fixed before the data is seen: KRR with the
 * polynomial, RBF and Laplace kernels, the closed-form NTKs and NNGP, and the learner's
 * empirical NTK at initialisation (the lazy regime of the same network); the paper's lower
 * bound holds for any such kernel. Not the sequential kernel (it builds its features from
 * the data, layer by layer: C6) nor the two-layer network. */
void bfc_claim_best_per_seed(const double *err, int nm, int ns, double *best, int *which);

/* ---- C1: e2e learns the hierarchy ---- */
#define BFC_CLAIM_C1_FRACTION 0.1 /* the error must be below this fraction of v_L */
/* PASS iff median over seeds of err[s] / (0.1 v_L[s]) ≤ 1 (each seed against its own target's
 * share of the top layer). *med_ratio: that median. NA when it is NaN. */
bfc_verdict bfc_claim_c1(const double *err, const double *vL, int ns, double *med_ratio);

/* ---- C2: backward feature correction ---- */
#define BFC_CLAIM_C2_FACTOR 3.0       /* median correction on the SPEC §6 configuration */
#define BFC_CLAIM_C2_FROZEN_RTOL 1e-12 /* "unchanged" for layerwise's frozen layer 2 */
typedef struct {
    double med_factor, min_factor; /* e2e: fe_2 after stage 2 / fe_2 at the end */
    int all_fall;                  /* factor > 1 in every seed */
    double max_change;             /* layerwise: largest |relative change| of its fe_2 */
    int all_frozen;                /* max_change ≤ BFC_CLAIM_C2_FROZEN_RTOL */
} bfc_claim_c2_result;
/* PASS iff factor[s] > 1 for every seed, the median factor ≥ need, and every lw_change[s]
 * (|fe_2 end − fe_2 after stage 2| / fe_2 after stage 2 of layerwise) ≤ 1e-12. */
bfc_verdict bfc_claim_c2(const double *factor, const double *lw_change, int ns, double need,
                         bfc_claim_c2_result *r);

/* ---- C5: n_ε and its growth with d ---- */
enum { BFC_NEPS_BELOW = -1, BFC_NEPS_MEASURED = 0, BFC_NEPS_ABOVE = 1 };

/* n_ε of one curve: n[0..m) an increasing grid, med[j] the median error over seeds there
 * (NaN: not measured, skipped). n_ε is the smallest grid n whose median is ≤ eps (SPEC §4);
 * with interp = 1 it is refined by log-log interpolation between that n and the measured
 * point below. *censor says what the value is: BFC_NEPS_MEASURED; BFC_NEPS_BELOW, reached
 * already at the smallest measured n (returned), so the true n_ε may be lower; BFC_NEPS_ABOVE,
 * never reached (the largest measured n is returned: n_ε > it). NaN when nothing was
 * measured. */
double bfc_claim_neps(const double *n, const double *med, int m, double eps, int interp,
                      int *censor);

typedef struct {
    int points;     /* d values given */
    int used;       /* measured n_ε values fitted (censored ones are never fitted) */
    int fitted;     /* used ≥ 2 and the d differ */
    double b, c;    /* log n_ε = c + b log d over the measured points */
    double b_se;    /* standard error of b (gsl_fit_linear; NaN unless used ≥ 3) */
    double b_low;   /* largest lower bound on b from a pair (measured at d_i, > n at d_j > d_i)
                       or (≤ n at d_i, measured at d_j > d_i); −inf when there is none */
} bfc_claim_fit;

/* Fit n_ε ∝ d^b over the measured points only (censor[i] == BFC_NEPS_MEASURED). */
void bfc_claim_neps_fit(const double *d, const double *neps, const int *censor, int m,
                        bfc_claim_fit *f);

#define BFC_CLAIM_C5_MARGIN 1.0 /* the kernel's exponent must exceed e2e's by this */
/* C5: PASS iff b_kernel − b_e2e ≥ 1, each b fitted on measured points only (a bound never
 * mixes with a fit). Without a fitted kernel exponent its lower bound b_low stands in (a valid bound for this direction): PASS
 * if it already clears the margin, else UNDETERMINED. NA without a fitted e2e exponent or
 * without any kernel exponent or bound. *diff: the difference used (NaN for NA). */
bfc_verdict bfc_claim_c5(const bfc_claim_fit *kernel, const bfc_claim_fit *e2e, double *diff);

/* ---- C7: error non-increasing in backward depth D within seed noise ---- */
typedef struct {
    int steps;                            /* consecutive pairs D → D+1 judged */
    double rise[BFC_CLAIM_MAX_GRID];      /* median_s log10 err_s(D+1)/err_s(D) */
    double band[BFC_CLAIM_MAX_GRID];      /* half the range over seeds of that log ratio */
} bfc_claim_c7_result;
/* err[D * ns + s]: relative test error at backward depth D (0..nD−1) on seed s (same target,
 * data and initialisation for every D). PASS iff rise(D) ≤ band(D) for every D; a NaN (a seed
 * without a value at some D) fails. */
bfc_verdict bfc_claim_c7(const double *err, int nD, int ns, bfc_claim_c7_result *r);

/* ---- C10: the advantage needs the features to move ---- */
/* e2e_med: median over seeds of e2e's relative test error; refit_med[0..nv): the same for each
 * variant of refit (lower output branches trained, lower features frozen; the check runs it
 * with the tie on and with the tie off in the last stage), on the same targets, data and
 * steps. r->ratio[i] = refit_med[i] / e2e_med. PASS iff every ratio ≥ BFC_CLAIM_RATIO (no way
 * of re-fitting the output branches alone comes within 3× of e2e); FAIL if any is below; NA if
 * any median is not measured (NaN), if e2e has not learned (e2e_med > BFC_CLAIM_LEARNED, as
 * for C3) or nv = 0. */
bfc_verdict bfc_claim_c10(double e2e_med, const double *refit_med, int nv, bfc_claim_ratios *r);

/* ---- e2e's error vs n: monotone within the spread over seeds ---- */
typedef struct {
    int judged;          /* measured grid points */
    int rises;           /* pairs j < k where med[k] > hi[j] */
    int worst_j, worst_k;/* the pair with the largest med[k] / med[j] among the rises (−1) */
    double worst_factor; /* that ratio (NaN without a rise) */
} bfc_claim_monotone;
/* On an increasing n grid with med[j] and hi[j] the median and the largest error over seeds
 * at n[j] (NaN: not measured): a rise is a pair j < k whose median at the larger n exceeds
 * the largest seed's error at the smaller n (so a rise within the seed spread is none).
 * PASS without a rise, FAIL with one, NA with fewer than 2 measured points. */
bfc_verdict bfc_claim_monotone_n(const double *med, const double *hi, int m,
                                 bfc_claim_monotone *r);

#endif
