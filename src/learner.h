/* learner.h: the paper's learner (SPEC §2), over-parameterised, for any depth:
 *   h_l(x) = [x (j=0) | σ(x)−1 (j=1) | σ(R_j S_j(x)) (j ≥ 2), for j ∈ J_l ascending | 1],
 *   F_l(x) = W_l h_l (m_l wide output branch),  S_l(x) = K_l h_l (k_l narrow feature branch),
 *   F(x) = Σ_{l active} α_l ‖F_l(x)‖²,
 *   objective = mean (F − y)² + λ_tie Σ_{l<L} ‖K_lᵀK_l − W_lᵀW_l‖²_F + λ_wd Σ (‖W_l‖² + ‖K_l‖²),
 * with hand-written forward and backward over BLAS. Without clamping the output branch is
 * computed through Q_l = W_lᵀW_l (F_l enters only as h_lᵀ Q_l h_l), which halves its flops
 * and shares Q_l with the tie, and all active layers at once: Σ_l α_l h_lᵀQ_l h_l = h*ᵀQ*h*
 * over the union h* of their inputs (x, x² − 1, each σ(R_j S_j) and the constant once), one
 * GEMM forward and one backward instead of one per layer; with clamping (|σ input| ≤ B) F_l
 * is formed explicitly, layer by layer.
 * All parameters live in one allocation, laid out [bias | W_2 K_2 | W_3 K_3 | ... | W_L], so
 * the parameters of layers lo..top are one contiguous slice.
 *
 * Precision: double by default. In single precision (config.precision) the parameters stay
 * double (the optimiser's master copy); bfc_learner_loss_grad, _forward and _predict convert
 * the parameters of layers 2..top to float at entry, run the same forward and backward with
 * float arithmetic and single-precision BLAS, and return the outputs and the gradient as
 * double (the loss and the tie and weight-decay values are summed in double). The empirical
 * NTK rows (bfc_learner_output_grad) and the learned features (bfc_learner_features) are
 * always computed in double. */
#ifndef BFC_LEARNER_H
#define BFC_LEARNER_H

#include <stddef.h>
#include <stdint.h>

#include "target.h"

enum bfc_precision { BFC_PRECISION_DOUBLE = 0, BFC_PRECISION_SINGLE };

typedef struct {
    int p_extra;       /* p_j = k_j(k_j+1)/2 + p_extra rows of R_j (default 2) */
    double width_mult; /* m_l = round(width_mult · dim h_l) (default 2) */
    int m;             /* if > 0, m_l = m for every layer (overrides width_mult) */
    double init_scale; /* W, K entries N(0, init_scale² / fan_in) (default 0.1) */
    double lambda_tie; /* default 1 */
    double lambda_wd;  /* default 0 */
    double clamp;      /* B > 0: every σ input of the learner clamped to ±B; 0: off */
    int precision;     /* enum bfc_precision: BFC_PRECISION_DOUBLE (default) or _SINGLE */
    uint64_t seed;     /* initialisation seed (stream BFC_STREAM_INIT) */
} bfc_learner_config;

typedef struct bfc_learner bfc_learner;

void bfc_learner_defaults(bfc_learner_config *c);
/* Parse "single" or "double"; BFC_EINVAL with a message naming --precision otherwise. */
int bfc_precision_parse(const char *s, int *precision);
/* "single" or "double". */
const char *bfc_precision_name(int precision);

/* A learner for the architecture of target configuration tc (d, L, k_l, J_l, α_l, task are
 * copied), with workspace for batches of up to bmax rows. NULL with *status on failure. */
bfc_learner *bfc_learner_new(const bfc_target_config *tc, const bfc_learner_config *lc, int bmax,
                             int *status);
void bfc_learner_free(bfc_learner *lr);

/* Shapes. dim h_l, m_l, p_l (rows of R_l; 0 if S_l feeds no layer), k_l. */
int bfc_learner_dim_h(const bfc_learner *lr, int l);
int bfc_learner_width(const bfc_learner *lr, int l);
int bfc_learner_dim_p(const bfc_learner *lr, int l);
int bfc_learner_L(const bfc_learner *lr);
int bfc_learner_bmax(const bfc_learner *lr);
int bfc_learner_precision(const bfc_learner *lr); /* enum bfc_precision */

/* Parameters: one vector of n_params doubles. Views W_l (m_l × dim h_l), K_l (k_l × dim h_l,
 * NULL for l = L), bias (classification threshold, one double at offset 0), R_l (p_l × k_l,
 * fixed, not a parameter). */
size_t bfc_learner_nparams(const bfc_learner *lr);
double *bfc_learner_params(bfc_learner *lr);
double *bfc_learner_W(bfc_learner *lr, int l);
double *bfc_learner_K(bfc_learner *lr, int l);
const double *bfc_learner_R(const bfc_learner *lr, int l);
/* The slice [*off, *off + *len) holding W_l, K_l for l = lo..top. */
void bfc_learner_slice(const bfc_learner *lr, int lo, int top, size_t *off, size_t *len);
/* The block [*off, *off + *len) of W_l (which = 'W') or K_l (which = 'K', l < L) in the
 * parameter vector. Within layer l, K_l directly follows W_l. */
void bfc_learner_block(const bfc_learner *lr, int l, char which, size_t *off, size_t *len);

/* λ_tie of the objective from now on (≥ 0, finite): the training schedules change it between
 * stages (bfc_train_config.lambda_tie_last). */
double bfc_learner_lambda_tie(const bfc_learner *lr);
void bfc_learner_set_lambda_tie(bfc_learner *lr, double lambda_tie);

/* Forward on a batch X (B × d), B ≤ bmax, with layers 2..top active: out (B) = F(x).
 * For classification out is F(x) − bias. */
void bfc_learner_forward(bfc_learner *lr, const double *X, int B, int top, double *out);

/* Objective and gradient on a batch (X, y) with layers 2..top active and layers lo..top
 * trainable (lo ≤ top): returns mean loss + the tie and weight-decay terms of the trainable
 * layers; grad (n_params) receives the gradient in the slice of layers lo..top (and at the
 * bias, for classification); other entries are left untouched. If parts is non-NULL,
 * parts[0] = data loss, parts[1] = tie, parts[2] = weight decay. */
double bfc_learner_loss_grad(bfc_learner *lr, const double *X, const double *y, int B, int top,
                             int lo, double *grad, double parts[3]);

/* Per-example gradient of the output, grad (slice of layers lo..top, and the bias) =
 * ∂F(x)/∂θ for one input x (d), without the tie or weight decay: the rows of the empirical
 * neural tangent kernel. Other entries of grad are left untouched. Always in double. */
void bfc_learner_output_grad(bfc_learner *lr, const double *x, int top, int lo, double *grad);

/* Predictions for n rows (any n; evaluated in chunks of bmax). */
void bfc_learner_predict(bfc_learner *lr, const double *X, int n, int top, double *out);
/* Learned features S_l (n × k_l) for n rows, l = 2..L−1. Always in double. */
void bfc_learner_features(bfc_learner *lr, const double *X, int n, int l, double *S);

/* Floating-point operations of one training step (forward + backward) at batch B. */
double bfc_learner_step_flops(const bfc_learner *lr, int B, int top, int lo);

#endif
