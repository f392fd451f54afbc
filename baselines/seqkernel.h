/* seqkernel.h: the sequential kernel baseline of SPEC §3, a kernel method applied layer by
 * layer on the learner's graph. For stage l = 2..L, on the current features
 *   h_l(x) = [x (j=0) | σ(x)−1 (j=1) | σ(R_j S_j(x)) (j ≥ 2), for j ∈ J_l ascending | 1]
 * (R_j fixed random p_j × k_j, N(0, 1/k_j), p_j = k_j(k_j+1)/2 + p_extra, as the learner's):
 *   r_l = (y − Σ_{j<l} α_j h_jᵀ M_j h_j) / α_l               (residual of the frozen layers)
 *   c_l = ridge regression of r_l on the H(H+1)/2 monomials h_a h_b (a ≤ b),
 *         ridge chosen on a validation split, whole path from one eigendecomposition
 *   M_l = the symmetric form with h_lᵀ M_l h_l = Σ_{a≤b} c_ab h_a h_b
 *   K_l = diag(√λ⁺) Vᵀ from the top-k_l eigenpairs (λ, V) of M_l, negatives clipped at 0
 *   S_l(x) = K_l h_l(x), passed up to the layers that use it.
 * Prediction = Σ_l α_l h_lᵀ M_l h_l with the full fitted forms M_l; only the features passed
 * up are truncated to rank k_l. At L = 2 the method is exact quadratic regression.
 * Each layer's ridge is chosen on the validation split, then the layer is refit on all n
 * points at that ridge; the residual that a higher layer is validated on therefore comes
 * from lower layers that saw those points (its val_error is slightly optimistic). On
 * noiseless data layer 2 usually picks the smallest ridge of the grid. R_j is drawn from the
 * model's own stream, so it is not the learner's R_j (same distribution).
 *
 * The form is not identifiable from its values: the monomials of h satisfy exact relations
 * (x_i·x_i = (x_i²−1)·1 + 1·1 at layer 2; products of σ(R S) features at higher layers), and
 * ridge picks the minimum-norm representative, which is in general neither PSD nor of rank k.
 * With align = 1 (default) the null directions of the monomial Gram matrix are added to M_l
 * so that it comes closest (Frobenius) to a rank-k_l PSD form, by alternating projections,
 * before the eigenpairs are read. This changes no prediction (the relations hold for every
 * x) but makes the features passed up those of the low-rank form; align = 0 is the plain
 * read-out. Regression only. */
#ifndef BFC_SEQKERNEL_H
#define BFC_SEQKERNEL_H

#include <stddef.h>
#include <stdint.h>

#include "target.h"

typedef struct {
    double val_frac;     /* fraction of the training set held out to choose the ridge (0.2) */
    double ridge_min;    /* relative ridge grid: ρ in [ridge_min, ridge_max], log-spaced; */
    double ridge_max;    /*   objective (1/n)‖Φc − r‖² + ρ‖c‖² on monomials scaled to unit */
    int n_ridge;         /*   mean square (defaults 1e-12, 1e2, 29 points: half decades) */
    int p_extra;         /* p_j = k_j(k_j+1)/2 + p_extra (2, as the learner) */
    int align;           /* 1: align the form's null directions toward rank k_l (see above) */
    int align_iters;     /* alternating projections at most (500) */
    size_t max_bytes;    /* refuse a fit whose buffers exceed this many bytes (4 GiB) */
    uint64_t seed;       /* R_j from stream BFC_STREAM_BASELINE, split from BFC_STREAM_VAL */
} bfc_seqk_config;

typedef struct {
    int L;
    int n_fit, n_val;                        /* split sizes used to choose the ridge */
    int dim_h[BFC_MAX_L + 1];                /* H_l (with the constant) */
    int n_monomials[BFC_MAX_L + 1];          /* H_l(H_l+1)/2 */
    int n_null[BFC_MAX_L + 1];               /* exact relations among the monomials found */
    double ridge[BFC_MAX_L + 1];             /* chosen relative ridge ρ_l */
    double val_error[BFC_MAX_L + 1];         /* relative validation error of the residual fit */
    double val_error_total[BFC_MAX_L + 1];   /* relative validation error of layers 2..l on y */
    double tail[BFC_MAX_L + 1];              /* ‖M_l − rank-k PSD part‖_F / ‖M_l‖_F (l < L) */
    double tail_plain[BFC_MAX_L + 1];        /* the same before alignment */
    double wall_s[BFC_MAX_L + 1];            /* seconds spent in stage l */
    double wall_total;                       /* seconds in bfc_seqk_fit */
} bfc_seqk_report;

typedef struct bfc_seqk_model bfc_seqk_model;

void bfc_seqk_defaults(bfc_seqk_config *c);

/* Fit on train (train->y are the labels) for the architecture of t (d, L, k_l, J_l, α_l).
 * *out receives a model owned by the caller (free with bfc_seqk_free). Errors: BFC_EINVAL
 * (bad configuration, classification task, d mismatch, fewer fitting points than monomials
 * in some layer: the message names the layer and the n needed), BFC_ENOMEM (including the
 * max_bytes refusal), BFC_ENUMERIC (eigendecomposition failure, non-finite data). */
int bfc_seqk_fit(const bfc_seqk_config *c, const bfc_target *t, const bfc_data *train,
                 bfc_seqk_model **out);
void bfc_seqk_free(bfc_seqk_model *m);

/* pred (n) = Σ_l α_l h_lᵀ M_l h_l for X (n × d). BFC_OK or BFC_ENOMEM. */
int bfc_seqk_predict(const bfc_seqk_model *m, const double *X, int n, double *pred);
/* S (n × k_l) = K_l h_l(x), the feature of layer l = 2..L−1 passed up. BFC_EINVAL for a bad
 * l, BFC_ENOMEM. */
int bfc_seqk_features(const bfc_seqk_model *m, const double *X, int n, int l, double *S);
/* Feature error of layer l (SPEC §4, bfc_feature_error) against S*_l of t on X (n × d). */
int bfc_seqk_feature_error(const bfc_seqk_model *m, const bfc_target *t, const double *X, int n,
                           int l, double *err);

const bfc_seqk_report *bfc_seqk_report_of(const bfc_seqk_model *m);
/* Views owned by the model: M_l (H_l × H_l, row-major, symmetric), K_l (k_l × H_l; NULL for
 * l = L), R_l (p_l × k_l; NULL if S_l feeds no layer). */
int bfc_seqk_dim_h(const bfc_seqk_model *m, int l);
const double *bfc_seqk_form(const bfc_seqk_model *m, int l);
const double *bfc_seqk_factor(const bfc_seqk_model *m, int l);
const double *bfc_seqk_R(const bfc_seqk_model *m, int l);

/* Pure kernels. */
/* phi (n, H(H+1)/2) = upper triangle of h_i h_iᵀ, row by row (a ≤ b), for h (n, H) */
void bfc_seqk_monomials(double *phi, const double *h, int n, int H);
/* M (H, H) symmetric with hᵀ M h = Σ_{a≤b} c_ab h_a h_b, for c (H(H+1)/2) */
void bfc_seqk_form_of(double *M, const double *c, int H);

#endif
