/* train.h: the training schedules of SPEC §2 (e2e, layerwise, backward depth D, joint, and the
 * mechanism ablation refit and featonly) with
 * Adam or SGD with momentum, minibatches from a finite training set, periodic evaluation of
 * the relative test error and the per-layer feature errors (SPEC §4). */
#ifndef BFC_TRAIN_H
#define BFC_TRAIN_H

#include <signal.h>

#include "learner.h"
#include "metrics.h"
#include "optim.h"
#include "target.h"

/* Which parameter blocks train in the stage whose top layer is ℓ (stages ℓ = 2..L; joint has
 * one stage, ℓ = L, from step 0):
 *   e2e        W_j, K_j for j = 2..ℓ           layerwise  W_ℓ, K_ℓ
 *   depth=D    W_j, K_j for j = max(2, ℓ−D)..ℓ joint      every block
 *   refit      W_ℓ, K_ℓ and the lower output branches W_j, j < ℓ (the features K_j frozen)
 *   featonly   W_ℓ, K_ℓ and the lower feature branches K_j, j < ℓ (the W_j frozen)
 * The objective is the same in every schedule: the tie λ_tie‖K_jᵀK_j − W_jᵀW_j‖² of a pair
 * with one side frozen stays in it, the frozen side a constant, so its gradient flows only
 * into the trained side (refit: it pulls W_jᵀW_j towards the frozen K_jᵀK_j; featonly: K_jᵀK_j
 * towards the frozen W_jᵀW_j). lambda_tie_last switches it off (or changes it) in the last
 * stage only. */
enum bfc_schedule {
    BFC_SCHED_E2E = 0,
    BFC_SCHED_LAYERWISE,
    BFC_SCHED_DEPTH,
    BFC_SCHED_JOINT,
    BFC_SCHED_REFIT,
    BFC_SCHED_FEATONLY
};

typedef struct {
    int schedule;      /* enum bfc_schedule */
    int depth;         /* backward depth D for BFC_SCHED_DEPTH */
    int steps;         /* steps per stage (joint: steps × (L − 1) in its single stage) */
    int batch;         /* minibatch size */
    bfc_optim_config opt; /* Adam (default, lr 3e-3) or SGD with momentum (lr 1e-2); lr = 0
                             means the optimiser's default; cosine decay within each stage;
                             clipping on the stage's trainable parameters */
    double lambda_tie_last; /* ≥ 0: λ_tie in the last stage (the learner's own value in the
                               others; restored at the end); < 0 (default): the learner's own
                               value throughout */
    int eval_every;    /* evaluate on the test set every N steps (and at stage ends) */
    uint64_t seed;     /* minibatch order (stream BFC_STREAM_BATCH) */
    int progress;      /* 1: progress lines on stderr */
    volatile sig_atomic_t *stop; /* if non-NULL and set, training stops (BFC_EINTR) */
    const char *checkpoint;  /* non-NULL: path of the checkpoint file, written atomically when
                                stopped by *stop, at the end of each stage but the last and
                                every checkpoint_every steps. A checkpoint that cannot be
                                written does not stop training (res->ckpt_failed counts them).
                                After a complete run the caller saves its results, then removes
                                the file. */
    long checkpoint_every;   /* > 0: also checkpoint every N steps */
    int resume;              /* 1: continue from the checkpoint file (same configuration) */
    uint64_t config_hash;    /* identifies the configuration: a checkpoint written under
                                another one is refused */
    void (*on_checkpoint)(void *ctx); /* if non-NULL, called with the log ctx just before each
                                         checkpoint is written (to save logs, which may then
                                         run ahead of the checkpoint, never behind it) */
} bfc_train_config;

void bfc_train_defaults(bfc_train_config *c);
/* Parse "e2e", "layerwise", "joint", "depth=D", "refit", "featonly"; BFC_EINVAL with a
 * message otherwise. */
int bfc_schedule_parse(const char *s, int *schedule, int *depth);
/* "e2e", "layerwise", "joint", "depth=D", "refit" or "featonly" into buf. */
const char *bfc_schedule_name(int schedule, int depth, char *buf, size_t cap);
int bfc_train_validate(const bfc_train_config *c, int L, int n_train);

/* The blocks of lr's parameter vector that train in the stage whose top layer is top, as
 * ranges r[i] = [off, off + len) in ascending order, adjacent blocks merged (so e2e's,
 * layerwise's and depth=D's are the one slice of their layers), then the classification
 * threshold [0, 1) for a classification learner. *lo: the lowest layer with a trained block
 * (the gradient is needed from there up). Returns the number of ranges (at most
 * 2·BFC_MAX_L + 1). */
int bfc_train_blocks(const bfc_learner *lr, const bfc_train_config *c, int top, int classification,
                     bfc_range *r, int *lo);

/* One evaluation point, passed to the log callback. */
typedef struct {
    int stage;             /* stage (the top active layer; L for joint) */
    int step;              /* step within the stage */
    long global_step;      /* steps since the start */
    double lr;             /* learning rate at this step */
    double loss;           /* mean training objective since the previous point */
    double test_error;     /* relative test error */
    double feature_error[BFC_MAX_L + 1]; /* layers 2..L−1 */
    double wall_s;         /* seconds since the start */
} bfc_train_point;

typedef void (*bfc_train_log_fn)(const bfc_train_point *pt, void *ctx);

#define BFC_MAX_STAGES BFC_MAX_L

typedef struct {
    double test_error;                    /* relative test error at the end */
    double test_error_bulk;               /* the same on the central 99.9% of G* */
    double class_error;                   /* classification: 0-1 test error; else NaN */
    double feature_error[BFC_MAX_L + 1];  /* at the end, layers 2..L−1 */
    int n_stages;
    int stage_top[BFC_MAX_STAGES];        /* top layer of each stage */
    int stages_done;                      /* stages finished: only the first stages_done
                                             entries of the two arrays below were measured */
    double fe_end_of_stage[BFC_MAX_STAGES][BFC_MAX_L + 1];
    double test_error_end_of_stage[BFC_MAX_STAGES];
    long steps;                           /* training steps whose update the learner holds */
    double loss_start;                    /* minibatch objective of the run's first step */
    double wall_s, cpu_s, train_s;        /* total, CPU, and time inside training steps */
    double us_per_step;                   /* train_s / steps, in microseconds */
    double step_flops;                    /* flops of one step of the last stage */
    int diverged;                         /* 1: stopped by the divergence rule (optim.h) */
    int ckpt_failed;                      /* checkpoints that could not be written */
    char ckpt_error[256];                 /* why the latest of them failed */
    char message[512];                    /* why training stopped early, or "" */
} bfc_train_result;

/* Checkpoint file format: "BFCCKPT1", configuration hash, sizes, the loop position, the
 * results so far, parameters, optimiser moments, the parameters before the latest update, the
 * minibatch permutation and the RNG state, then an FNV-1a checksum of everything before it. Resuming
 * from it gives bitwise the same parameters and results as an uninterrupted run (one BLAS
 * thread), except for the timings. */

/* The number of training steps done when the checkpoint at path was written. */
int bfc_train_checkpoint_steps(const char *path, long *steps);

/* Train lr on train, evaluating on test (test->g is the clean target). log (may be NULL)
 * receives every evaluation point. Returns BFC_OK, BFC_EDIVERGED (a minibatch loss broke the
 * divergence rule of optim.h: the learner holds the parameters before that step, res holds
 * results measured on them and res->message says where and what to change), BFC_EINTR
 * (stopped by cfg->stop; res holds the results so far and the checkpoint, if any, is
 * written), or an error code (a checkpoint that cannot be read or belongs to another
 * configuration: BFC_EFORMAT with a message naming the file). Stages not finished have no
 * end-of-stage values (res->stages_done). */
int bfc_train(bfc_learner *lr, const bfc_target *t, const bfc_data *train, const bfc_data *test,
              const bfc_train_config *cfg, bfc_train_log_fn log, void *ctx,
              bfc_train_result *res);

#endif
