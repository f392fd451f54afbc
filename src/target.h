/* target.h: the concept class of SPEC §1, a hierarchical quadratic network
 *   S*_l = standardise(Σ_{j∈J_l} W*_{l,j} G_j(x)),  G_l = σ(S*_l) − 1,  σ(z) = z²,
 *   G*(x) = Σ_{l=2}^{L} α_l ‖S*_l(x)‖²  (+ label noise),
 * with G_0(x) = x and G_1(x) = σ(x) − 1. Layers are indexed l = 2..L as in the paper. */
#ifndef BFC_TARGET_H
#define BFC_TARGET_H

#include <gsl/gsl_rng.h>
#include <stdint.h>

#include "bfc.h"
#include "json.h"

#define BFC_MAX_L 8   /* deepest target supported (layers 2..BFC_MAX_L) */
#define BFC_MAX_K 64  /* widest layer supported */

enum bfc_input { BFC_INPUT_GAUSSIAN = 0, BFC_INPUT_SPHERE = 1 };
enum bfc_weights { BFC_WEIGHTS_GAUSSIAN = 0, BFC_WEIGHTS_ORTHONORMAL = 1 };
enum bfc_task { BFC_TASK_REGRESSION = 0, BFC_TASK_CLASSIFICATION = 1 };

typedef struct {
    int d;                        /* input dimension */
    int L;                        /* depth: layers 2..L */
    int k[BFC_MAX_L + 1];         /* k[l], width of layer l (l = 2..L) */
    unsigned J[BFC_MAX_L + 1];    /* J[l], bit j set iff j ∈ J_l (must contain l−1) */
    double alpha[BFC_MAX_L + 1];  /* α_l; filled from gap unless alpha_explicit */
    double gap;                   /* information gap g: α_l = α_{l−1}·g, α_2 = 1 */
    int alpha_explicit;           /* 1: alpha[] given by the user, gap ignored */
    double noise;                 /* label noise standard deviation τ */
    int input;                    /* enum bfc_input */
    int weights;                  /* enum bfc_weights */
    int task;                     /* enum bfc_task */
    long n_ref;                   /* reference sample size for standardisation */
    uint64_t seed;                /* seed of the target (weights, reference sample) */
} bfc_target_config;

typedef struct bfc_target bfc_target;

/* Defaults of SPEC §1: d = 20, L = 3, k = 3, J_2 = {0,1}, J_l = {l−1, 0}, gap 0.1, τ = 0,
 * Gaussian input and weights, regression, 10^5 reference draws, seed 0. */
void bfc_target_defaults(bfc_target_config *c);
/* Fill alpha[] from gap (unless alpha_explicit) and J[] defaults where J[l] == 0. */
void bfc_target_resolve(bfc_target_config *c);
/* Check a resolved configuration; BFC_EINVAL with a message naming the field. */
int bfc_target_validate(const bfc_target_config *c);

/* Draw the weights, estimate standardisation constants on the reference sample and the
 * layer shares. Returns NULL with *status set (message in bfc_last_error) on failure. */
bfc_target *bfc_target_new(const bfc_target_config *c, int *status);
void bfc_target_free(bfc_target *t);

const bfc_target_config *bfc_target_config_of(const bfc_target *t);
/* Dimension of G_j: d for j = 0, 1; k_j for j ≥ 2. */
int bfc_target_dim_g(const bfc_target *t, int j);
/* v_l = Var(α_l ‖S*_l‖²) / Var(G*), estimated on the reference sample (l = 2..L). */
double bfc_target_share(const bfc_target *t, int l);
/* Var(G*) and median of G* on the reference sample. */
double bfc_target_variance(const bfc_target *t);
double bfc_target_median(const bfc_target *t);
/* Weight view W*_{l,j} (k_l × dim G_j, row-major) and standardisation constants of layer l:
 * S*_l = (raw_l − mean_l) / scale_l. */
const double *bfc_target_weight(const bfc_target *t, int l, int j);
const double *bfc_target_mean(const bfc_target *t, int l);
const double *bfc_target_scale(const bfc_target *t, int l);

/* Evaluate on X (n × d): gstar (n) = G*(x) without noise, and if S is non-NULL, S[l]
 * (n × k_l) = S*_l(x) for each l = 2..L whose pointer is non-NULL. Never allocates more than
 * O(n·(d + Σk)) scratch; returns BFC_ENOMEM if that fails. */
int bfc_target_eval(const bfc_target *t, const double *X, int n, double *gstar, double **S);

/* Draw n inputs (n × d) from the input distribution. */
void bfc_target_sample_x(const bfc_target *t, gsl_rng *r, int n, double *X);

/* A data set: inputs, the labels a learner sees (noisy, or ±1 for classification), and the
 * clean target G*(x). Arrays are owned by the struct. */
typedef struct {
    int n, d;
    double *X; /* n × d */
    double *y; /* n: labels */
    double *g; /* n: G*(x), noiseless */
} bfc_data;

/* Draw a data set of n points from stream (BFC_STREAM_TRAIN or BFC_STREAM_TEST) of seed. */
int bfc_data_make(const bfc_target *t, int n, uint64_t seed, int stream, bfc_data *out);
void bfc_data_free(bfc_data *D);
/* Mean and variance of D->g. */
double bfc_data_g_variance(const bfc_data *D);

/* Save the target in dir: target.json (configuration, α, standardisation constants, shares)
 * and W_<l>_<j>.npy. Files are written atomically. */
int bfc_target_save(const bfc_target *t, const char *dir);
/* Load a target saved by bfc_target_save; NULL with *status and a message naming the file. */
bfc_target *bfc_target_load(const char *dir, int *status);
/* Save/load a data set as <dir>/<name>_x.npy, <name>_y.npy, <name>_g.npy. Loading checks the
 * shapes agree with each other and with d (pass d ≤ 0 to skip that check). */
int bfc_data_save(const bfc_data *D, const char *dir, const char *name);
int bfc_data_load(const char *dir, const char *name, int d, bfc_data *out);

/* Write the target's description (configuration, α, shares, variance) into the current
 * object of a JSON writer. */
void bfc_target_describe(const bfc_target *t, bfc_jw *j);

#endif
