/* twolayer.h: the two-layer network baseline of SPEC §3, a wide ReLU network
 *   f(x) = Σ_i a_i relu(w_iᵀx + b_i) + c     (i = 1..m)
 * trained end to end on the same data with Adam (cosine decay to 0) on minibatches, for a
 * given number of steps, by the optimiser and batcher of optim.h, which stops it by the same
 * divergence rule as the learner. Hand-written forward and backward over BLAS; all parameters in one
 * vector laid out [W (m × d) | b (m) | a (m) | c]. Init: w_i ~ N(0, 2/d) (He), b = 0,
 * a_i ~ N(0, a_scale²/m) (small), c = 0. Labels are standardised on the training set (the
 * network fits (y − mean)/sd; predictions are mapped back), so lr means the same for any
 * target scale. Regression only. */
#ifndef BFC_TWOLAYER_H
#define BFC_TWOLAYER_H

#include <stddef.h>
#include <stdint.h>

#include "optim.h"
#include "target.h"

typedef struct {
    int width;                /* hidden units m (1024) */
    int steps;                /* Adam steps (6000 = the learner's budget at L = 3: 3000 per
                                 stage, two stages) */
    int batch;                /* minibatch size (256) */
    bfc_optim_config opt;     /* Adam (0.9, 0.999, 1e-8), peak lr 1e-3, cosine decay to 0
                                 over steps, no clipping */
    double a_scale;           /* output weights N(0, a_scale²/m) (0.1) */
    int standardize;          /* 1: fit standardised labels (default 1) */
    int eval_every;           /* progress lines every N steps (500) */
    int progress;             /* 1: progress on stderr with elapsed time and ETA */
    uint64_t seed;            /* init from BFC_STREAM_INIT, minibatches from BFC_STREAM_BATCH */
} bfc_twolayer_config;

typedef struct {
    double test_error;   /* relative test error against test->g (SPEC §4) */
    double test_error_bulk; /* the same on the central BFC_BULK_KEEP of G* */
    double train_error;  /* relative error on the training set against train->g */
    double final_loss;   /* mean minibatch loss of the last eval_every steps (fitted units) */
    long steps;          /* steps whose update the parameters hold */
    double wall_s;       /* seconds in bfc_twolayer_fit */
    double train_s;      /* seconds inside the training steps */
    double us_per_step;  /* train_s / steps, microseconds */
    double step_flops;   /* floating-point operations of one step */
    size_t n_params;
    int diverged;        /* 1: stopped by the divergence rule of optim.h */
    char message[256];   /* why training stopped early, or "" */
} bfc_twolayer_result;

void bfc_twolayer_defaults(bfc_twolayer_config *c);
/* BFC_EINVAL with a message naming the field, or BFC_OK. */
int bfc_twolayer_validate(const bfc_twolayer_config *c);

/* Train on train (train->y), evaluate on test (test->g, the clean target). Returns BFC_OK,
 * BFC_EDIVERGED (res->message says where and suggests a smaller lr; the errors are measured
 * on the parameters before the step that broke the rule),
 * BFC_EINVAL (bad configuration or data), BFC_ENOMEM. */
int bfc_twolayer_fit(const bfc_twolayer_config *c, const bfc_data *train, const bfc_data *test,
                     bfc_twolayer_result *res);

/* Pure kernels on the parameter vector theta = [W (m, d) | b (m) | a (m) | c]. */
size_t bfc_twolayer_nparams(int d, int m);
/* out (B) = relu(X Wᵀ + b) a + c for X (B, d); A (B, m) receives the activations */
void bfc_twolayer_forward(const double *theta, int d, int m, const double *X, int B, double *out,
                          double *A);
/* mean (f(x) − y)² over the batch; grad (nparams) = its gradient; work (B·(m + 1)) scratch */
double bfc_twolayer_loss_grad(const double *theta, int d, int m, const double *X, const double *y,
                              int B, double *grad, double *work);

#endif
