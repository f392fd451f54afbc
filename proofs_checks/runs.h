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

#endif
