/* runs.h: one training run of the learner on a fresh target, as the claim checks need it:
 * target seed = run seed (as `bfc train --seed s` does), training and test data from that
 * seed's streams, initialisation and minibatch order from the same seed. Results are kept
 * for the life of the process, so checks that share a configuration (C1, C2, C3 all use
 * the e2e runs of SPEC §6) train it once when run together. */
#ifndef BFC_CHECK_RUNS_H
#define BFC_CHECK_RUNS_H

#include <stdint.h>

#include "train.h"

typedef struct {
    int d, L, k;      /* input dimension, depth, width of every layer */
    double gap;       /* information gap g */
    int n, n_test;    /* training and test set sizes */
    int steps;        /* steps per stage */
    int schedule;     /* enum bfc_schedule */
    int depth;        /* backward depth D for BFC_SCHED_DEPTH */
    double clamp;     /* learner σ-input clamp B (0: off) */
    double clip;      /* gradient-norm clip (0: off) */
    uint64_t seed;    /* run seed = target seed */
    int batch;        /* minibatch size; 0: the training default (256). Must be ≤ n */
    int tie_off_last; /* 1: λ_tie = 0 in the last stage (bfc_train_config.lambda_tie_last) */
} bfc_check_run_spec;

typedef struct {
    int status;       /* BFC_OK, BFC_EDIVERGED (values are those of the last finite state) */
    double test_error;                    /* relative test error at the end */
    double share[BFC_MAX_L + 1];          /* v_l of the target (its reference sample) */
    double share_test[BFC_MAX_L + 1];     /* v_l estimated on the test set instead: from
                                             L = 4 on the shares are heavy-tailed and the two
                                             estimates can differ several-fold */
    bfc_train_result res;                 /* stage-end errors, timing */
} bfc_check_run_result;

/* The SPEC §6 configuration: d = 20, L = 3, k = 3, g = 0.1, n = 20000, 10^4 test points,
 * 3000 steps per stage, e2e, no clamp or clip, seed 0. */
void bfc_check_run_defaults(bfc_check_run_spec *s);

/* 1 iff s is exactly the SPEC §6 configuration apart from schedule and seed. */
int bfc_check_run_is_spec6(const bfc_check_run_spec *s);

/* Train (or fetch from the cache) the run s. *out points into the cache and stays valid
 * until the process ends. Returns BFC_OK also for a diverged run ((*out)->status says so);
 * any other status is an error with a message. tag names the caller in progress lines. */
int bfc_check_run(const bfc_check_run_spec *s, const char *tag, const bfc_check_run_result **out);

/* Feature error of layer l at the end of the stage whose top layer is `top`. */
double bfc_check_fe_after_stage(const bfc_check_run_result *r, int top, int l);

/* Short description "d=20 L=3 k=3 g=0.1 n=20000 steps=3000[ clamp=6 clip=1]" into buf. */
const char *bfc_check_run_describe(const bfc_check_run_spec *s, char *buf, size_t cap);

/* The configurations the e2e-versus-layerwise claims (C1, C2, C3) are checked on, by size
 * (enum bfc_check_size): fast, the SPEC §6 configuration (L = 3); full, the same and L = 4
 * with the learner's σ inputs clamped to ±6 and gradient-norm clipping at 1 (SPEC §6).
 * Fills up to 4 specs (schedule e2e, seed 0) and their names ("L3", "L4"); returns the count. */
int bfc_check_main_configs(int size, bfc_check_run_spec specs[4], const char *names[4]);

/* ---- baselines on the same target and data (C4, C5, C6) ---- */

/* The baselines of SPEC §3 the kernel claims compare with e2e. Every one chooses its ridge
 * on a validation split of the training set (stream BFC_STREAM_VAL of the run seed) as
 * krr.h / entk.h / seqkernel.h do by default. */
enum bfc_check_method {
    BFC_CHECK_POLY4 = 0, /* KRR, (1 + <x,y>/d)^4 */
    BFC_CHECK_POLY8,     /* KRR, (1 + <x,y>/d)^8 */
    BFC_CHECK_RBF,       /* KRR, exp(−‖x−y‖²/(2d)) */
    /* closed-form NTKs (ntk.h) with bias variance σ_b² = 1: without a bias the ReLU NTK
     * represents only positively 1-homogeneous functions and the quadratic one only
     * homogeneous forms, and both fail for that reason alone (d = 8, n = 1000, seed 0:
     * relative error 0.80 and 0.64 without, 0.39 and 0.039 with) */
    BFC_CHECK_NTK_RELU,  /* ReLU, 2 hidden layers (ntk.h's default depth) */
    BFC_CHECK_NTK_QUAD,  /* σ(z) = z², 2 hidden layers: degree 4 */
    BFC_CHECK_NTK_QUAD_L,/* σ(z) = z², L hidden layers: degree 2^L, the target's */
    BFC_CHECK_NNGP_RELU, /* the compositional (NNGP) kernel of the ReLU network of 2 hidden
                            layers, bias variance 1 */
    BFC_CHECK_ENTK,      /* empirical NTK of the learner at its initialisation (seed = run seed),
                            fitting y − f₀ (the lazy-regime linearisation) */
    BFC_CHECK_SEQK,      /* sequential kernel (seqkernel.h defaults) */
    BFC_CHECK_NMETHODS
};

/* Short name: "poly-4", "poly-8", "rbf", "ntk-relu-2", "ntk-quad-2", "ntk-quad-L",
 * "nngp-relu-2", "entk", "seqkernel". */
const char *bfc_check_method_name(int method);

typedef struct {
    int status;            /* BFC_OK; BFC_ENOMEM: refused (would not fit in memory); or
                              BFC_EINVAL: the sequential kernel refused (fewer fitting points
                              than monomials). test_error is NaN when refused */
    double test_error;     /* relative test error on the run's test set */
    double ridge_relative; /* chosen ridge / mean diagonal (seqkernel: layer L's ρ) */
    double wall_s;         /* seconds for fit and prediction */
} bfc_check_base_result;

/* Fit baseline `method` on the training set of run s (same target, training and test data as
 * bfc_check_run(s); schedule, steps, clamp, clip, batch are ignored) and evaluate it, or fetch
 * it from the cache. Returns BFC_OK also for a fit that was refused (too large for memory or
 * too few points: (*out)->status says so and the message is printed); any other status is an
 * error with a message. */
int bfc_check_baseline(const bfc_check_run_spec *s, int method, const char *tag,
                       const bfc_check_base_result **out);

#endif
