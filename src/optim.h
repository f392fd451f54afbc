/* optim.h: the optimisers every trained model of the suite shares (the learner's schedules,
 * the two-layer baseline, the benchmarks): Adam and SGD with momentum on one flat parameter
 * vector, the global gradient-norm clip, cosine decay, the divergence rule, and the batcher
 * that draws minibatches from a finite training set. A training step reads
 *
 *     bfc_batch_next(&b, train, Xb, yb);                       next batch
 *     loss = model_loss_grad(θ, Xb, yb, grad);                 forward, zero grad, backward
 *     if (bfc_loss_diverged(loss, loss0)) bfc_optim_revert(&o, θ), stop;
 *     bfc_optim_update(&o, θ, grad, parts, n, bfc_optim_lr(&o.c, s, T), s + 1);   update
 */
#ifndef BFC_OPTIM_H
#define BFC_OPTIM_H

#include <gsl/gsl_rng.h>
#include <stddef.h>
#include <stdint.h>

#include "target.h"

enum bfc_optimizer { BFC_OPT_ADAM = 0, BFC_OPT_SGD };

/* The learner's default peak learning rates (bfc_optim_resolve fills lr = 0 with them). */
#define BFC_ADAM_LR 3e-3
#define BFC_SGD_LR 1e-2

typedef struct {
    int kind;                 /* enum bfc_optimizer */
    double lr;                /* peak learning rate; 0: the default of kind (BFC_*_LR) */
    double momentum;          /* SGD momentum (0.9) */
    double beta1, beta2, eps; /* Adam (0.9, 0.999, 1e-8) */
    int cosine;               /* 1: cosine decay to 0 over each period (bfc_optim_lr) */
    double clip;              /* > 0: clip the gradient's global norm to this value */
} bfc_optim_config;

/* Adam, lr = 0 (the default of the kind), momentum 0.9, cosine on, no clipping. */
void bfc_optim_defaults(bfc_optim_config *c);
/* lr = 0 becomes the default of c->kind; any other value is kept. Idempotent. */
void bfc_optim_resolve(bfc_optim_config *c);
/* "adam" or "sgd" into c->kind; BFC_EINVAL naming --optimizer otherwise. */
int bfc_optim_parse(const char *s, int *kind);
const char *bfc_optim_name(int kind);
/* Check a resolved configuration. Messages name each field as who + field, e.g. who "--"
 * gives "--lr must be positive", who "two-layer " gives "two-layer lr must be positive". */
int bfc_optim_validate(const bfc_optim_config *c, const char *who);

/* Learning rate at step s (0-based) of a period of T steps:
 *   lr · (1 + cos(π s / T)) / 2   with cosine,   lr   without. */
double bfc_optim_lr(const bfc_optim_config *c, long s, long T);

/* A part of the parameter vector that one update touches: [off, off + len). */
typedef struct {
    size_t off, len;
} bfc_range;

/* The optimiser's state on n parameters: the moments (Adam's m1, m2; SGD's velocity is m1)
 * and `keep`, the parameters before the latest update (for bfc_optim_revert). One
 * allocation; the arrays are plain so that a checkpoint can save and load them. */
typedef struct {
    bfc_optim_config c;
    size_t n;
    double *m1, *m2, *keep;
} bfc_optim;

/* Allocate for n parameters with zero moments; keep = theta. BFC_ENOMEM on failure. */
int bfc_optim_init(bfc_optim *o, const bfc_optim_config *c, size_t n, const double *theta);
void bfc_optim_free(bfc_optim *o);
/* Zero the moments (the start of a stage). */
void bfc_optim_reset(bfc_optim *o);

/* One update of the parts r[0..nr) of theta (n parameters) from grad, with learning rate lr
 * at step t = 1, 2, ... since the last reset (Adam's bias correction):
 *   scale = min(1, clip / ‖grad over the parts‖) if clip > 0, else 1;  g = scale · grad
 *   Adam: m1 ← β1 m1 + (1 − β1) g, m2 ← β2 m2 + (1 − β2) g², θ ← θ − lr m̂1 / (√m̂2 + ε)
 *   SGD:  m1 ← μ m1 + g,  θ ← θ − lr m1
 * All of theta is copied to keep first (the parts not updated too). */
void bfc_optim_update(bfc_optim *o, double *theta, const double *grad, const bfc_range *r,
                      int nr, double lr, long t);
/* theta (n) = the parameters before the latest update. */
void bfc_optim_revert(const bfc_optim *o, double *theta);

/* One Adam step on n parameters (the kernel of bfc_optim_update, for callers without an
 * optimiser state): g = scale·grad, then as above. One pass over the four arrays (which must
 * not overlap), vectorised. */
void bfc_adam_update(double *restrict theta, const double *restrict grad, double *restrict m1,
                     double *restrict m2, size_t n, double scale, double lr, double beta1,
                     double beta2, double eps, long t);

/* ---- divergence ---- */

/* Training has diverged when a minibatch loss is not finite or exceeds BFC_DIVERGE_FACTOR
 * times the first loss of the run. The losses of every model here start near the variance
 * of the labels (O(1)) and fall; a healthy run's minibatch loss never comes within orders of
 * magnitude of 10⁶ times its start, while a run whose steps are too large grows
 * geometrically and crosses it within a few steps of leaving any sensible range (long before
 * it overflows to inf: the learner's quartic terms reach 1e46 at --lr 1000 within 300 steps).
 * One comparison per step. */
#define BFC_DIVERGE_FACTOR 1e6
/* 1 if loss (or the first loss, loss0) is not finite, or loss > BFC_DIVERGE_FACTOR · loss0
 * (loss0 > 0; a first loss of 0 leaves only the finiteness test). */
int bfc_loss_diverged(double loss, double loss0);

/* ---- minibatches ---- */

/* Minibatches drawn without replacement from a random permutation of the n training points,
 * reshuffled each time it is used up (an epoch). The state is the permutation, the cursor and
 * the RNG (stream BFC_STREAM_BATCH of the seed), all saved by a checkpoint. */
typedef struct {
    size_t n, cursor;
    size_t *perm;
    gsl_rng *rng;
} bfc_batcher;

/* BFC_ENOMEM on failure. The first permutation is drawn here. */
int bfc_batcher_init(bfc_batcher *b, size_t n, uint64_t seed);
void bfc_batcher_free(bfc_batcher *b);
/* Xb (B, d), yb (B) = the next B rows of data->X and data->y. */
void bfc_batch_next(bfc_batcher *b, const bfc_data *data, int B, double *Xb, double *yb);

#endif
