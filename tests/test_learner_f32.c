/* test_learner_f32.c: the learner in single precision: its objective and gradient agree with
 * double's on the same parameters and batch to float rounding, training reaches double's test
 * error, runs are bitwise reproducible and resume from a checkpoint bitwise, and the command
 * line rejects a bad --precision naming the flag. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "learner.h"
#include "metrics.h"
#include "rng.h"
#include "train.h"

/* Single precision against double on the same θ, as relative norms: each gradient entry is
 * a chain of a few GEMMs with inner dimensions ≤ 64 and the tie's difference K^T K − W^T W;
 * rounding gives about √n·ε_f32 ≈ 5e-7 relative per GEMM, more where the tie cancels or the
 * outputs are large (L = 4 at init scale 1: F ~ 1e5). Measured here: ≤ 2e-6 for the
 * objective, the outputs and the gradient. 1e-4 leaves a factor 50 and still catches any
 * term computed wrongly in one precision only, which shows at O(1). */
#define F32_GRAD_TOL 1e-4
#define F32_LOSS_TOL 1e-4
/* Trained in single precision, the test error may differ from double's by the accumulated
 * rounding of 600 Adam steps; it must stay within this factor of double's (measured here:
 * 2.5530e-3 against 2.5537e-3). */
#define F32_TRAIN_FACTOR 1.5

typedef struct {
    int L, d, B;
    double clamp, wd;
    int task;
} case_t;

static bfc_learner *make(const case_t *cs, int precision, bfc_target_config *tc)
{
    bfc_target_defaults(tc);
    tc->d = cs->d;
    tc->L = cs->L;
    tc->gap = 0.3;
    tc->task = cs->task;
    bfc_target_resolve(tc);
    bfc_learner_config lc;
    bfc_learner_defaults(&lc);
    lc.clamp = cs->clamp;
    lc.lambda_wd = cs->wd;
    lc.init_scale = 1.0; /* large weights: every term of the gradient matters */
    lc.seed = 3;
    lc.precision = precision;
    int st;
    bfc_learner *lr = bfc_learner_new(tc, &lc, cs->B, &st);
    cr_assert_not_null(lr, "%s", bfc_last_error());
    cr_assert_eq(bfc_learner_precision(lr), precision);
    bfc_learner_params(lr)[0] = 0.3; /* a nonzero bias */
    return lr;
}

/* Objective, gradient (slice lo..top and the bias) and outputs of both precisions on the same
 * θ and batch. */
static void compare(const case_t *cs, int top, int lo)
{
    bfc_target_config tc;
    bfc_learner *ld = make(cs, BFC_PRECISION_DOUBLE, &tc);
    bfc_learner *ls = make(cs, BFC_PRECISION_SINGLE, &tc);
    const size_t np = bfc_learner_nparams(ld);
    cr_assert_eq(memcmp(bfc_learner_params(ld), bfc_learner_params(ls), np * sizeof(double)), 0,
                 "the precision must not change the initialisation");
    double *X = bfc_alloc_d((size_t)cs->B * cs->d), *y = bfc_alloc_d((size_t)cs->B);
    gsl_rng *r = bfc_rng_new(11, BFC_STREAM_TRAIN);
    bfc_rng_normal(r, X, (size_t)cs->B * cs->d, 1.0);
    for (int b = 0; b < cs->B; b++)
        y[b] = cs->task == BFC_TASK_CLASSIFICATION ? (b % 2 ? 1.0 : -1.0) : gsl_rng_uniform(r) * 3;
    gsl_rng_free(r);
    double *gd = bfc_alloc_d(np), *gs = bfc_alloc_d(np), pd[3], ps[3];
    const double fd = bfc_learner_loss_grad(ld, X, y, cs->B, top, lo, gd, pd);
    const double fs = bfc_learner_loss_grad(ls, X, y, cs->B, top, lo, gs, ps);
    size_t off, len;
    bfc_learner_slice(ld, lo, top, &off, &len);
    const double eg = bfc_relative_diff(gs + off, gd + off, len), ef = fabs(fs - fd) / fabs(fd);
    cr_expect_leq(ef, F32_LOSS_TOL, "objective: single %.9g, double %.9g (rel %.2e)", fs, fd, ef);
    cr_expect_leq(eg, F32_GRAD_TOL, "gradient of layers %d..%d: rel %.2e", lo, top, eg);
    for (int i = 0; i < 3; i++)
        cr_expect_leq(fabs(ps[i] - pd[i]), F32_LOSS_TOL * fabs(fd), "part %d: %g vs %g", i, ps[i],
                      pd[i]);
    if (cs->task == BFC_TASK_CLASSIFICATION)
        cr_expect_leq(fabs(gs[0] - gd[0]), F32_GRAD_TOL * fabs(gd[0]) + 1e-7, "bias gradient");
    double *od = bfc_alloc_d((size_t)cs->B), *os = bfc_alloc_d((size_t)cs->B);
    bfc_learner_predict(ld, X, cs->B, top, od);
    bfc_learner_predict(ls, X, cs->B, top, os);
    cr_expect_leq(bfc_relative_diff(os, od, (size_t)cs->B), F32_LOSS_TOL, "outputs");
    bfc_free(gd), bfc_free(gs), bfc_free(od), bfc_free(os), bfc_free(X), bfc_free(y);
    bfc_learner_free(ld);
    bfc_learner_free(ls);
}

Test(learner_f32, objective_and_gradient_agree_with_double_to_float_rounding)
{
    case_t cs = {.L = 3, .d = 6, .B = 64};
    compare(&cs, 3, 2);
    compare(&cs, 3, 3);
    compare(&cs, 2, 2);
}

Test(learner_f32, agree_with_double_at_L4_with_clamping_weight_decay_and_layerwise_slices)
{
    case_t cs = {.L = 4, .d = 5, .B = 32, .clamp = 2.0, .wd = 0.01};
    compare(&cs, 4, 2);
    compare(&cs, 4, 3);
    case_t plain = {.L = 4, .d = 5, .B = 32, .wd = 0.01};
    compare(&plain, 4, 2);
}

Test(learner_f32, agree_with_double_for_classification)
{
    case_t cs = {.L = 3, .d = 6, .B = 40, .task = BFC_TASK_CLASSIFICATION};
    compare(&cs, 3, 2);
}

/* ---- training ---- */

typedef struct {
    bfc_target *t;
    bfc_data train, test;
} problem;

static void problem_new(problem *p)
{
    bfc_target_config tc;
    bfc_target_defaults(&tc);
    tc.d = 6;
    tc.L = 3;
    tc.n_ref = 5000;
    tc.seed = 1;
    bfc_target_resolve(&tc);
    int st;
    p->t = bfc_target_new(&tc, &st);
    cr_assert_not_null(p->t, "%s", bfc_last_error());
    cr_assert_eq(bfc_data_make(p->t, 2000, 1, BFC_STREAM_TRAIN, &p->train), BFC_OK);
    cr_assert_eq(bfc_data_make(p->t, 1000, 1, BFC_STREAM_TEST, &p->test), BFC_OK);
}

static void problem_free(problem *p)
{
    bfc_data_free(&p->train);
    bfc_data_free(&p->test);
    bfc_target_free(p->t);
}

typedef struct {
    volatile sig_atomic_t *stop;
    long at;
} stopper;

static void stop_at(const bfc_train_point *pt, void *ctx)
{
    stopper *s = ctx;
    if (s && s->at > 0 && pt->global_step >= s->at) *s->stop = 1;
}

/* Train a fresh learner of the given precision; θ after training into theta (n_params). */
static int train(const problem *p, int precision, const char *ckpt, int resume, long stop_step,
                 bfc_train_result *res, double **theta, size_t *np)
{
    bfc_learner_config lc;
    bfc_learner_defaults(&lc);
    lc.precision = precision;
    lc.seed = 1;
    int st;
    bfc_learner *lr = bfc_learner_new(bfc_target_config_of(p->t), &lc, 256, &st);
    cr_assert_not_null(lr, "%s", bfc_last_error());
    bfc_train_config tc;
    bfc_train_defaults(&tc);
    tc.steps = 300;
    tc.eval_every = 50;
    tc.seed = 1;
    tc.checkpoint = ckpt;
    tc.resume = resume;
    tc.config_hash = 42;
    volatile sig_atomic_t flag = 0;
    stopper s = {&flag, stop_step};
    tc.stop = &flag;
    st = bfc_train(lr, p->t, &p->train, &p->test, &tc, stop_at, &s, res);
    *np = bfc_learner_nparams(lr);
    *theta = bfc_alloc_d(*np);
    memcpy(*theta, bfc_learner_params(lr), *np * sizeof(double));
    bfc_learner_free(lr);
    return st;
}

Test(learner_f32, training_in_single_precision_reaches_the_test_error_of_double, .timeout = 120)
{
    problem p;
    problem_new(&p);
    bfc_train_result rd, rs;
    double *td, *ts;
    size_t np;
    cr_assert_eq(train(&p, BFC_PRECISION_DOUBLE, NULL, 0, 0, &rd, &td, &np), BFC_OK, "%s",
                 bfc_last_error());
    cr_assert_eq(train(&p, BFC_PRECISION_SINGLE, NULL, 0, 0, &rs, &ts, &np), BFC_OK, "%s",
                 bfc_last_error());
    cr_expect_lt(rd.test_error, 0.2, "double must learn something (test error %g)", rd.test_error);
    cr_expect_leq(rs.test_error, F32_TRAIN_FACTOR * rd.test_error,
                  "single %g vs double %g", rs.test_error, rd.test_error);
    cr_expect_geq(rs.test_error, rd.test_error / F32_TRAIN_FACTOR,
                  "single %g vs double %g", rs.test_error, rd.test_error);
    bfc_free(td), bfc_free(ts);
    problem_free(&p);
}

Test(learner_f32, same_seed_gives_bitwise_identical_single_precision_training, .timeout = 120)
{
    problem p;
    problem_new(&p);
    bfc_train_result a, b;
    double *ta, *tb;
    size_t np;
    cr_assert_eq(train(&p, BFC_PRECISION_SINGLE, NULL, 0, 0, &a, &ta, &np), BFC_OK);
    cr_assert_eq(train(&p, BFC_PRECISION_SINGLE, NULL, 0, 0, &b, &tb, &np), BFC_OK);
    cr_expect_eq(memcmp(ta, tb, np * sizeof(double)), 0, "parameters differ");
    cr_expect_eq(memcmp(&a.test_error, &b.test_error, sizeof(double)), 0);
    cr_expect_eq(memcmp(a.feature_error, b.feature_error, sizeof a.feature_error), 0);
    bfc_free(ta), bfc_free(tb);
    problem_free(&p);
}

Test(learner_f32, single_precision_run_stopped_and_resumed_equals_an_uninterrupted_one,
     .timeout = 120)
{
    problem p;
    problem_new(&p);
    char ckpt[64];
    snprintf(ckpt, sizeof ckpt, "/tmp/bfc-f32-ckpt.%d", (int)getpid());
    bfc_train_result full, part, rest;
    double *tf, *tp, *tr;
    size_t np;
    cr_assert_eq(train(&p, BFC_PRECISION_SINGLE, NULL, 0, 0, &full, &tf, &np), BFC_OK);
    /* stopped at an evaluation in stage 2 (step 350 of 600), then resumed */
    cr_assert_eq(train(&p, BFC_PRECISION_SINGLE, ckpt, 0, 350, &part, &tp, &np), BFC_EINTR);
    cr_assert_eq(train(&p, BFC_PRECISION_SINGLE, ckpt, 1, 0, &rest, &tr, &np), BFC_OK, "%s",
                 bfc_last_error());
    cr_expect_eq(rest.steps, full.steps);
    cr_expect_eq(memcmp(tf, tr, np * sizeof(double)), 0, "resumed parameters differ");
    cr_expect_eq(memcmp(&full.test_error, &rest.test_error, sizeof(double)), 0,
                 "test error %.17g vs %.17g", full.test_error, rest.test_error);
    remove(ckpt);
    bfc_free(tf), bfc_free(tp), bfc_free(tr);
    problem_free(&p);
}

/* ---- command line ---- */

static int run_bfc(const char *args, char *err, size_t cap)
{
    char cmd[1024], path[64];
    snprintf(path, sizeof path, "/tmp/bfc-f32-err.%d", (int)getpid());
    snprintf(cmd, sizeof cmd, "BFC_BLAS_AUTOFIX=0 OPENBLAS_NUM_THREADS=1 %s/bfc %s >/dev/null 2>%s",
             BFC_BINARY_DIR, args, path);
    const int rc = system(cmd);
    FILE *f = fopen(path, "r");
    const size_t n = f ? fread(err, 1, cap - 1, f) : 0;
    err[n] = '\0';
    if (f) fclose(f);
    remove(path);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

Test(learner_f32, train_rejects_a_bad_precision_naming_the_flag_and_lists_it_in_help)
{
    char err[4096];
    cr_expect_eq(run_bfc("train --precision bogus --d 6 --n 512 --quiet", err, sizeof err), 2);
    cr_expect_not_null(strstr(err, "--precision must be single or double (got 'bogus')"), "%s",
                       err);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s/bfc train --help | grep -q -- '--precision P .*double (default)'",
             BFC_BINARY_DIR);
    cr_expect_eq(system(cmd), 0, "--help does not list --precision with its default");
}
