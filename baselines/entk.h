/* entk.h: the empirical neural tangent kernel of the SPEC §2 learner at its initialisation
 * (SPEC §3 (b): the lazy regime of the same network),
 *   Θ(x, x') = <∂F(x)/∂θ, ∂F(x')/∂θ>
 * over every trainable parameter with all layers active (W_l, K_l for l = 2..L; and the
 * classification bias for that task), from the per-example gradients of
 * bfc_learner_output_grad. With G (n × P) the gradient rows, Θ(X, X) = G Gᵀ by DSYRK and
 * Θ(X, Z) = G_X G_Zᵀ by DGEMM, with the gradient rows built in blocks of at most
 * BFC_ENTK_BLOCK_BYTES (a block of Z's rows is rebuilt for every block of X's when Z's do
 * not fit whole).
 *
 * Scale: F = Σ_l α_l ‖W_l h_l‖² is quadratic in weights drawn with standard deviation
 * init_scale/√fan_in (learner default 0.1), and ∂F/∂W_l = 2α_l (W_l h_l) h_lᵀ, so the
 * output-branch part of Θ(x, x) is about 8 α_l² init_scale² ‖h_l‖⁴: not small in absolute
 * terms (mean diagonal ≈ 4e2 at the SPEC §6 configuration, ‖h_2‖² ≈ 3d). What is small is
 * everything that reaches the lower layers: ∂F/∂K_l passes through σ(R_l K_l h_l) and W of
 * the layers above, with higher powers of init_scale and a factor α_{l+1}. Measured at §6
 * (share of ‖∂F/∂θ‖²): init 0.1: W_2 0.999, K_2 5e-7, W_3 1e-3; init 1: W_2 0.37, K_2 0.62,
 * W_3 0.01. So at the default scale the kernel is essentially Σ_l 4α_l² <h_l, h_l'>
 * <W_l h_l, W_l h_l'> with h_l (l ≥ 3) nearly blind to the learned features: a kernel of
 * degree 2 in h_l (degree 4 in x at layer 2) on the architecture's base features. A relative ridge makes the
 * overall scale irrelevant; the balance between layers is not, and init_scale in the
 * learner configuration is the option to change it (default: the learner's).
 *
 * Regression with this kernel: baselines/kernel.h's kernels are functions of
 * (<x,y>, ‖x‖², ‖y‖²) and bfc_krr_fit builds its own Gram matrices, so a precomputed kernel
 * cannot go through bfc_krr_fit; bfc_entk_ridge_fit takes the Gram matrix and follows the
 * same procedure as krr.h: the same validation split (stream BFC_STREAM_VAL, val_fraction,
 * selection cap), the same relative ridge grid and centring, the ridge path of
 * bfc_krr_ridge_path from one eigendecomposition, then the solve of every kernel method on
 * all n points (bfc_dense_solve: Cholesky, then with jitter, then eigen pseudo-solve, each
 * fallback with a warning on stderr and recorded in the report). */
#ifndef BFC_ENTK_H
#define BFC_ENTK_H

#include <stddef.h>
#include <stdint.h>

#include "learner.h"
#include "target.h"

#define BFC_ENTK_BLOCK_BYTES ((size_t)512 << 20) /* largest block of gradient rows */

/* *P = number of parameters the kernel sums over (P ≥ 1). BFC_EINVAL/ENOMEM from the
 * learner. */
int bfc_entk_nparams(const bfc_target_config *tc, const bfc_learner_config *lc, size_t *P);

/* Bytes bfc_entk_gram (m > 0) or bfc_entk_gram_sym (m = 0) allocates for n (and m) rows,
 * besides the caller's K: the gradient blocks and one learner; 0 if the configuration is
 * invalid. */
size_t bfc_entk_memory_estimate(const bfc_target_config *tc, const bfc_learner_config *lc, int n,
                                int m);

/* K (n × m, row-major, caller-owned) = Θ(X_i, Z_j) for X (n × d), Z (m × d). The learner is
 * built from (tc, lc) exactly as bfc_learner_new does (same seed, same weights). BFC_OK,
 * BFC_EINVAL, BFC_ENOMEM, BFC_ENUMERIC (a non-finite gradient). */
int bfc_entk_gram(const bfc_target_config *tc, const bfc_learner_config *lc, const double *X,
                  int n, const double *Z, int m, double *K);
/* K (n × n) = Θ(X_i, X_j), both triangles filled, exactly symmetric. */
int bfc_entk_gram_sym(const bfc_target_config *tc, const bfc_learner_config *lc, const double *X,
                      int n, double *K);
/* The same with an explicit bound on a block of gradient rows (bytes; ≥ one row). */
int bfc_entk_gram_blocked(const bfc_target_config *tc, const bfc_learner_config *lc,
                          const double *X, int n, const double *Z, int m, double *K,
                          size_t block_bytes);
int bfc_entk_gram_sym_blocked(const bfc_target_config *tc, const bfc_learner_config *lc,
                              const double *X, int n, double *K, size_t block_bytes);

/* ---- kernel ridge regression on a precomputed Gram matrix -------------------------- */

typedef struct {
    double ridge;           /* > 0: absolute ridge; 0: choose it (default) */
    double ridge_grid_min;  /* relative grid × mean diag of the selection Gram */
    double ridge_grid_max;  /*   (defaults as krr.h: 1e-8 .. 1e2, 21 values) */
    int ridge_grid_count;
    double val_fraction;    /* 0.2 */
    int select_max;         /* selection subset cap (BFC_KRR_SELECT_MAX) */
    int center;             /* 1: fit the mean of y separately (default) */
    uint64_t seed;          /* validation split: stream BFC_STREAM_VAL of this seed */
    size_t mem_limit;       /* bytes; 0 = bfc_krr_default_mem_limit() */
} bfc_entk_ridge_config;

typedef struct {
    int n, n_select, n_val;
    double ridge;           /* absolute λ of the final solve */
    double ridge_relative;  /* λ / mean diag of K */
    double mean_diag;       /* mean diagonal of the full K */
    double val_mse;         /* validation MSE at the chosen ridge (NaN if given) */
    double y_mean;          /* added back to predictions */
    int fallback;           /* 0 Cholesky, 1 with jitter, 2 eigen pseudo-solve (dense_solve.h) */
    double jitter;          /* diagonal added to λ by fallback 1 (absolute) */
    char fallback_what[320]; /* what failed and what was done ("" when fallback = 0) */
    double seconds_select, seconds_solve;
    /* filled by bfc_entk_regress */
    size_t n_params;        /* P */
    double f0_rms;          /* RMS of the network's output at init on the training set */
    double seconds_gram, seconds_gram_test, seconds_total;
} bfc_entk_ridge_report;

void bfc_entk_ridge_defaults(bfc_entk_ridge_config *c);

/* coef (n) solves (K + λI) coef = y − ȳ for the Gram matrix K (n × n, both triangles, not
 * modified), λ chosen as above; predictions are ȳ + Θ(x, X) coef. rep may be NULL.
 * BFC_EINVAL (bad configuration, non-finite labels), BFC_ENOMEM (over mem_limit: the
 * message gives the estimate), BFC_ENUMERIC. */
int bfc_entk_ridge_fit(const bfc_entk_ridge_config *c, const double *K, const double *y, int n,
                       double *coef, bfc_entk_ridge_report *rep);

/* The whole baseline: Θ on the training set, ridge fit of the residual y − f₀(x) of the
 * network at initialisation (the lazy-regime linearisation f₀ + ∇f₀·Δθ; set offset_init = 0
 * to fit y itself), Θ(test, train), pred (m) = f₀ + ȳ + Θ coef for Xt (m × d).
 * train->y are the labels. rep may be NULL. Peak memory: bfc_entk_regress_memory_estimate,
 * checked before anything large is allocated (BFC_ENOMEM naming the largest n that fits,
 * against c->mem_limit): Θ (n² doubles) + the largest of the gradient blocks
 * (2·min(n, block)·P), the selection (3s², s ≤ select_max) and the factor (the upper
 * triangle of n², dense_solve.h); at n = 10⁴, P = 5167: about 1.5 GB. The test Gram is
 * built in blocks of n rows that reuse Θ's storage. */
/* Peak bytes of bfc_entk_regress for n training and m test points (0 if the configuration
 * is invalid), and the largest n' ≤ n_max whose estimate is at most limit (0 if none). */
size_t bfc_entk_regress_memory_estimate(const bfc_target_config *tc,
                                        const bfc_learner_config *lc,
                                        const bfc_entk_ridge_config *c, int n, int m);
int bfc_entk_largest_n(const bfc_target_config *tc, const bfc_learner_config *lc,
                       const bfc_entk_ridge_config *c, int n_max, int m, size_t limit);

int bfc_entk_regress(const bfc_target_config *tc, const bfc_learner_config *lc,
                     const bfc_entk_ridge_config *c, int offset_init, const bfc_data *train,
                     const double *Xt, int m, double *pred, bfc_entk_ridge_report *rep);

#endif
