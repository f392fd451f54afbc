/* test_schedule.c: which parameter blocks each schedule trains (train.h's table), and the
 * mechanism ablation's guarantees: in refit the lower features K_j (and so the layer-2
 * feature error) do not change after their stage while the W_j do; in featonly the lower W_j
 * do not change while the K_j do; the tie of a pair with one side frozen is differentiated
 * with that side a constant (checked against central differences); --lambda-tie-last changes
 * the tie in the last stage only and is undone at the end. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "learner.h"
#include "metrics.h"
#include "rng.h"
#include "train.h"

/* Central differences, as in test_learner.c: truncation O(h²) and rounding O(ε/h) both about
 * 1e-11 relative for these smooth objectives at h = 1e-5; 1e-6 is the contract. */
#define FD_STEP 1e-5
#define GRAD_TOL 1e-6

static bfc_target *small_target(int L, int d, bfc_target_config *tc)
{
    bfc_target_defaults(tc);
    tc->d = d;
    tc->L = L;
    tc->gap = 0.3;
    tc->n_ref = 5000;
    tc->seed = 2;
    bfc_target_resolve(tc);
    int st;
    bfc_target *t = bfc_target_new(tc, &st);
    cr_assert_not_null(t, "%s", bfc_last_error());
    return t;
}

static bfc_learner *small_learner(const bfc_target_config *tc, double init_scale, int bmax)
{
    bfc_learner_config lc;
    bfc_learner_defaults(&lc);
    lc.init_scale = init_scale;
    lc.seed = 3;
    int st;
    bfc_learner *lr = bfc_learner_new(tc, &lc, bmax, &st);
    cr_assert_not_null(lr, "%s", bfc_last_error());
    return lr;
}

/* ---- the trained blocks ---- */

/* The trained blocks as two arrays of offsets and lengths. */
static int blocks(const bfc_learner *lr, int schedule, int depth, int top, size_t *off,
                  size_t *len, int *lo)
{
    bfc_train_config c;
    bfc_train_defaults(&c);
    c.schedule = schedule;
    c.depth = depth;
    bfc_range r[2 * BFC_MAX_L + 1];
    const int n = bfc_train_blocks(lr, &c, top, 0, r, lo);
    for (int i = 0; i < n; i++) {
        off[i] = r[i].off;
        len[i] = r[i].len;
    }
    return n;
}

Test(schedule, e2e_layerwise_and_depth_train_one_contiguous_slice_of_their_layers)
{
    bfc_target_config tc;
    bfc_target *t = small_target(4, 5, &tc);
    bfc_learner *lr = small_learner(&tc, 0.1, 8);
    size_t off[2 * BFC_MAX_L + 1], len[2 * BFC_MAX_L + 1], so, sl;
    int lo;
    for (int top = 2; top <= 4; top++) {
        const struct {
            int schedule, depth, lo;
        } want[] = {{BFC_SCHED_E2E, 0, 2},
                    {BFC_SCHED_JOINT, 0, 2},
                    {BFC_SCHED_LAYERWISE, 0, top},
                    {BFC_SCHED_DEPTH, 1, top - 1 < 2 ? 2 : top - 1}};
        for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
            int n = blocks(lr, want[i].schedule, want[i].depth, top, off, len, &lo);
            bfc_learner_slice(lr, want[i].lo, top, &so, &sl);
            cr_expect_eq(n, 1, "schedule %d top %d: %d ranges", want[i].schedule, top, n);
            cr_expect_eq(lo, want[i].lo, "schedule %d top %d: lo %d", want[i].schedule, top, lo);
            cr_expect(off[0] == so && len[0] == sl, "schedule %d top %d: not the slice",
                      want[i].schedule, top);
        }
    }
    /* classification adds the threshold as a last range */
    bfc_train_config c;
    bfc_train_defaults(&c);
    bfc_range r[2 * BFC_MAX_L + 1];
    int n = bfc_train_blocks(lr, &c, 3, 1, r, &lo);
    cr_expect(n == 2 && r[1].off == 0 && r[1].len == 1, "the threshold is the last range");
    bfc_learner_free(lr);
    bfc_target_free(t);
}

Test(schedule, refit_trains_the_lower_output_branches_and_featonly_the_lower_features)
{
    bfc_target_config tc;
    bfc_target *t = small_target(4, 5, &tc);
    bfc_learner *lr = small_learner(&tc, 0.1, 8);
    size_t off[2 * BFC_MAX_L + 1], len[2 * BFC_MAX_L + 1], W[BFC_MAX_L + 1][2],
        K[BFC_MAX_L + 1][2];
    for (int l = 2; l <= 4; l++) {
        bfc_learner_block(lr, l, 'W', &W[l][0], &W[l][1]);
        if (l < 4) bfc_learner_block(lr, l, 'K', &K[l][0], &K[l][1]);
    }
    int lo;
    /* stage 4, refit: W_2 | W_3 | W_4 (W_4 and nothing else of layer 4: K_4 does not exist) */
    int n = blocks(lr, BFC_SCHED_REFIT, 0, 4, off, len, &lo);
    cr_assert_eq(n, 3);
    cr_expect_eq(lo, 2);
    for (int i = 0; i < 3; i++)
        cr_expect(off[i] == W[2 + i][0] && len[i] == W[2 + i][1], "range %d is W_%d", i, 2 + i);
    /* stage 3, refit: W_2 | W_3 K_3 (layer 3, the top, trains fully) */
    n = blocks(lr, BFC_SCHED_REFIT, 0, 3, off, len, &lo);
    cr_assert_eq(n, 2);
    cr_expect(off[0] == W[2][0] && len[0] == W[2][1]);
    cr_expect(off[1] == W[3][0] && len[1] == W[3][1] + K[3][1]);
    /* stage 4, featonly: K_2 | K_3 W_4 (adjacent blocks merge) */
    n = blocks(lr, BFC_SCHED_FEATONLY, 0, 4, off, len, &lo);
    cr_assert_eq(n, 2);
    cr_expect_eq(lo, 2);
    cr_expect(off[0] == K[2][0] && len[0] == K[2][1]);
    cr_expect(off[1] == K[3][0] && len[1] == K[3][1] + W[4][1]);
    /* stage 2: every schedule trains layer 2 fully */
    for (int s = BFC_SCHED_REFIT; s <= BFC_SCHED_FEATONLY; s++) {
        n = blocks(lr, s, 0, 2, off, len, &lo);
        cr_expect(n == 1 && off[0] == W[2][0] && len[0] == W[2][1] + K[2][1]);
    }
    bfc_learner_free(lr);
    bfc_target_free(t);
}

Test(schedule, names_parse_back_and_unknown_names_are_refused_with_the_list)
{
    const char *names[] = {"e2e", "layerwise", "joint", "depth=1", "refit", "featonly"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        int s, d;
        char buf[32];
        cr_assert_eq(bfc_schedule_parse(names[i], &s, &d), BFC_OK, "%s", names[i]);
        cr_expect_str_eq(bfc_schedule_name(s, d, buf, sizeof buf), names[i]);
    }
    int s, d;
    cr_expect_eq(bfc_schedule_parse("refits", &s, &d), BFC_EINVAL);
    cr_expect(strstr(bfc_last_error(), "refit or featonly") != NULL, "%s", bfc_last_error());
}

/* ---- the masked tie against central differences ---- */

/* For every entry of the blocks that train in stage `top` of `schedule`: the analytic
 * gradient of the objective (the one the optimiser receives) against the central difference
 * of the objective in that entry alone, every other entry (the frozen side of each pair
 * included) held constant. Returns the worst relative error. With tie_only, y = F(x): the data
 * term's gradient vanishes, and the gradient is checked against central differences of the
 * tie term alone; *tie_min is
 * then the smallest RMS gradient over the trained blocks of the lower layers (0 if the tie
 * did not reach one of them). */
static double masked_grad_check(int L, int top, int schedule, int tie_only, double *tie_min)
{
    bfc_target_config tc;
    bfc_target *t = small_target(L, 4, &tc);
    const int B = 6;
    bfc_learner *lr = small_learner(&tc, 1.0, B); /* large weights: every term matters */
    double *X = bfc_alloc_d((size_t)B * 4), *y = bfc_alloc_d(B);
    gsl_rng *r = bfc_rng_new(11, BFC_STREAM_TRAIN);
    bfc_rng_normal(r, X, (size_t)B * 4, 1.0);
    for (int b = 0; b < B; b++) y[b] = gsl_rng_uniform(r) * 3;
    gsl_rng_free(r);
    if (tie_only) bfc_learner_forward(lr, X, B, top, y);
    size_t off[2 * BFC_MAX_L + 1], len[2 * BFC_MAX_L + 1];
    int lo;
    const int nr = blocks(lr, schedule, 0, top, off, len, &lo);
    const size_t np = bfc_learner_nparams(lr);
    double *g = bfc_alloc_d(np), *gd = bfc_alloc_d(np);
    double *theta = bfc_learner_params(lr);
    bfc_learner_loss_grad(lr, X, y, B, top, lo, g, NULL);
    double gmax = 0.0;
    for (int k = 0; k < nr; k++)
        for (size_t i = off[k]; i < off[k] + len[k]; i++) gmax = fmax(gmax, fabs(g[i]));
    *tie_min = INFINITY;
    for (int l = 2; l < top; l++)
        for (int w = 0; w < 2; w++) {
            size_t o, m;
            bfc_learner_block(lr, l, w ? 'K' : 'W', &o, &m);
            int trained = 0;
            for (int k = 0; k < nr; k++) trained |= o >= off[k] && o < off[k] + len[k];
            if (!trained) continue;
            double ss = 0.0;
            for (size_t i = o; i < o + m; i++) ss += g[i] * g[i];
            *tie_min = fmin(*tie_min, sqrt(ss / (double)m));
        }
    double worst = 0.0;
    for (int k = 0; k < nr; k++)
        for (size_t i = off[k]; i < off[k] + len[k]; i++) {
            const double keep = theta[i];
            double pp[3], pm[3];
            theta[i] = keep + FD_STEP;
            double fp = bfc_learner_loss_grad(lr, X, y, B, top, lo, gd, pp);
            theta[i] = keep - FD_STEP;
            double fm = bfc_learner_loss_grad(lr, X, y, B, top, lo, gd, pm);
            theta[i] = keep;
            if (tie_only) { /* the data term is O(h²) here, but its curvature is huge at L = 4 */
                fp = pp[1];
                fm = pm[1];
            }
            const double num = (fp - fm) / (2 * FD_STEP);
            const double den = fmax(fmax(fabs(num), fabs(g[i])), 1e-3 * gmax);
            worst = fmax(worst, fabs(num - g[i]) / den);
        }
    bfc_free(g), bfc_free(gd), bfc_free(X), bfc_free(y);
    bfc_learner_free(lr);
    bfc_target_free(t);
    return worst;
}

Test(schedule, the_tie_with_one_side_frozen_matches_central_differences_in_the_trained_side)
{
    const struct {
        int L, top, schedule;
    } cases[] = {{3, 3, BFC_SCHED_REFIT},
                 {3, 3, BFC_SCHED_FEATONLY},
                 {4, 3, BFC_SCHED_REFIT},
                 {4, 3, BFC_SCHED_FEATONLY},
                 {4, 4, BFC_SCHED_REFIT},
                 {4, 4, BFC_SCHED_FEATONLY}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int tie_only = 0; tie_only < 2; tie_only++) {
            double tie_min;
            const double w = masked_grad_check(cases[i].L, cases[i].top, cases[i].schedule,
                                               tie_only, &tie_min);
            cr_expect_leq(w, GRAD_TOL, "L %d stage %d schedule %d%s: worst relative error %g",
                          cases[i].L, cases[i].top, cases[i].schedule,
                          tie_only ? " (tie alone)" : "", w);
            /* the tie reaches every trained lower block: at init scale 1 its RMS gradient is
             * O(1) there (measured: %g printed on failure); zero would mean it was dropped */
            if (tie_only)
                cr_expect_geq(tie_min, 1e-2, "L %d stage %d schedule %d: the tie's RMS gradient "
                              "in a trained lower block is %g", cases[i].L, cases[i].top,
                              cases[i].schedule, tie_min);
        }
}

/* ---- training: what stays frozen stays bitwise frozen, what trains moves ---- */

typedef struct {
    bfc_learner *lr;
    int steps;
    double *at[BFC_MAX_L + 1]; /* θ at the end of the stage whose top layer is l */
    double fe2_stage2;         /* layer-2 feature error at the end of stage 2 */
} snap_ctx;

static void snap(const bfc_train_point *pt, void *ctx)
{
    snap_ctx *s = ctx;
    if (pt->step != s->steps) return;
    memcpy(s->at[pt->stage], bfc_learner_params(s->lr),
           bfc_learner_nparams(s->lr) * sizeof(double));
    if (pt->stage == 2) s->fe2_stage2 = pt->feature_error[2];
}

static void snap_free(snap_ctx *s)
{
    for (int l = 0; l <= BFC_MAX_L; l++) bfc_free(s->at[l]);
}

typedef struct {
    bfc_target *t;
    bfc_target_config tc;
    bfc_data train, test;
} problem;

static void problem_new(problem *p, int L)
{
    p->t = small_target(L, 6, &p->tc);
    cr_assert_eq(bfc_data_make(p->t, 1024, 1, BFC_STREAM_TRAIN, &p->train), BFC_OK);
    cr_assert_eq(bfc_data_make(p->t, 512, 1, BFC_STREAM_TEST, &p->test), BFC_OK);
}

static void problem_free(problem *p)
{
    bfc_data_free(&p->train);
    bfc_data_free(&p->test);
    bfc_target_free(p->t);
}

/* Train `schedule` for 150 steps per stage (the last stage's tie tie_last, < 0: unchanged);
 * θ at each stage's end into s->at[stage], the result into res. Returns the learner. */
static bfc_learner *train_small(const problem *p, int schedule, double tie_last, snap_ctx *s,
                                bfc_train_result *res)
{
    bfc_learner *lr = small_learner(&p->tc, 0.1, 64);
    bfc_train_config c;
    bfc_train_defaults(&c);
    c.schedule = schedule;
    c.steps = 150;
    c.batch = 64;
    c.eval_every = 50;
    c.seed = 1;
    c.lambda_tie_last = tie_last;
    memset(s, 0, sizeof *s);
    s->lr = lr;
    s->steps = c.steps;
    for (int l = 2; l <= p->tc.L; l++) s->at[l] = bfc_alloc_d(bfc_learner_nparams(lr));
    int st = bfc_train(lr, p->t, &p->train, &p->test, &c, snap, s, res);
    cr_assert_eq(st, BFC_OK, "%s", bfc_last_error());
    return lr;
}

/* ‖block(l, which) at b − at a‖ / ‖at a‖. */
static double moved(const bfc_learner *lr, const double *a, const double *b, int l, char which)
{
    size_t o, m;
    bfc_learner_block(lr, l, which, &o, &m);
    return bfc_relative_diff(b + o, a + o, m);
}

Test(schedule, refit_keeps_the_lower_features_bitwise_and_moves_the_output_branches, .timeout = 60)
{
    problem p;
    problem_new(&p, 4);
    snap_ctx s;
    bfc_train_result r;
    bfc_learner *lr = train_small(&p, BFC_SCHED_REFIT, -1.0, &s, &r);
    const double *end = bfc_learner_params(lr);
    /* K_2 after stage 2 and K_3 after stage 3: bitwise the same at the end, and so are the
     * feature errors */
    cr_expect_eq(moved(lr, s.at[2], end, 2, 'K'), 0.0, "K_2 moved after stage 2");
    cr_expect_eq(moved(lr, s.at[3], end, 3, 'K'), 0.0, "K_3 moved after stage 3");
    cr_expect_eq(r.feature_error[2], s.fe2_stage2, "layer-2 feature error %.17g after stage 2, "
                 "%.17g at the end", s.fe2_stage2, r.feature_error[2]);
    cr_expect_eq(r.fe_end_of_stage[1][3], r.feature_error[3],
                 "layer-3 feature error changed during stage 4");
    /* the output branches below the top trained (the tie did not freeze them) */
    cr_expect_gt(moved(lr, s.at[2], s.at[3], 2, 'W'), 1e-3, "W_2 did not move in stage 3");
    cr_expect_gt(moved(lr, s.at[3], end, 2, 'W'), 1e-3, "W_2 did not move in stage 4");
    cr_expect_gt(moved(lr, s.at[3], end, 3, 'W'), 1e-3, "W_3 did not move in stage 4");
    snap_free(&s);
    bfc_learner_free(lr);
    problem_free(&p);
}

Test(schedule, featonly_keeps_the_lower_output_branches_bitwise_and_moves_the_features,
     .timeout = 60)
{
    problem p;
    problem_new(&p, 4);
    snap_ctx s;
    bfc_train_result r;
    bfc_learner *lr = train_small(&p, BFC_SCHED_FEATONLY, -1.0, &s, &r);
    const double *end = bfc_learner_params(lr);
    cr_expect_eq(moved(lr, s.at[2], end, 2, 'W'), 0.0, "W_2 moved after stage 2");
    cr_expect_eq(moved(lr, s.at[3], end, 3, 'W'), 0.0, "W_3 moved after stage 3");
    /* the features below the top trained (the tie did not freeze them) */
    cr_expect_gt(moved(lr, s.at[2], s.at[3], 2, 'K'), 1e-3, "K_2 did not move in stage 3");
    cr_expect_gt(moved(lr, s.at[3], end, 3, 'K'), 1e-3, "K_3 did not move in stage 4");
    cr_expect_neq(r.feature_error[2], s.fe2_stage2, "the layer-2 feature error did not change");
    snap_free(&s);
    bfc_learner_free(lr);
    problem_free(&p);
}

Test(schedule, lambda_tie_last_changes_the_last_stage_only_and_is_restored, .timeout = 60)
{
    problem p;
    problem_new(&p, 3);
    snap_ctx s1, s2;
    bfc_train_result r1, r2;
    bfc_learner *a = train_small(&p, BFC_SCHED_E2E, -1.0, &s1, &r1);
    bfc_learner *b = train_small(&p, BFC_SCHED_E2E, 0.0, &s2, &r2);
    const size_t np = bfc_learner_nparams(a);
    cr_expect_eq(memcmp(s1.at[2], s2.at[2], np * sizeof(double)), 0,
                 "stage 2 differs with the tie off in the last stage only");
    cr_expect_gt(bfc_relative_diff(bfc_learner_params(a), bfc_learner_params(b), np), 1e-6,
                 "the last stage did not change");
    cr_expect_eq(bfc_learner_lambda_tie(b), 1.0, "lambda_tie not restored: %g",
                 bfc_learner_lambda_tie(b));
    snap_free(&s1);
    snap_free(&s2);
    bfc_learner_free(a);
    bfc_learner_free(b);
    problem_free(&p);
}
