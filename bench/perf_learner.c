/* perf_learner.c: one training step of the SPEC §2 learner (forward + backward + Adam update,
 * batch 256, one thread) through the library, in double and in single precision, side by
 * side with the same network, loss and optimiser in PyTorch (peers/torch_step.py, float64
 * and float32).
 *
 * Before timing, both sides start from the same weights and batch (written as .npy files);
 * the peer compares its loss and gradient at those weights, its weights after one Adam step,
 * the loss and gradient there and the loss after PERF_K_STEPS steps with ours (float64 with
 * bfc's double, float32 with bfc's single precision), and refuses to be timed unless they
 * agree to PERF_TOL_F64 in double, PERF_TOL_F32 in single. bfc's single precision is checked
 * the same way against bfc's double. Each timed sample restarts from the same weights and a
 * fresh Adam state, so both sides follow the same trajectory; samples of ours and the
 * peer's alternate. */
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bfc.h"
#include "fsutil.h"
#include "json.h"
#include "learner.h"
#include "metrics.h"
#include "npy.h"
#include "perf.h"
#include "rng.h"
#include "target.h"
#include "train.h"

/* Agreement required before the double-precision peer is timed: the gradient is a few
 * hundred chained sums of products, so rounding gives ~1e-14 relative; 1e-10 leaves room for
 * summation order and still catches any wrong term (a wrong factor shows at O(1)). */
#define PERF_TOL_F64 1e-10
/* Single precision (ε_f32 ≈ 6e-8, same chains, and Adam's steps divide by √v, so K steps
 * carry the rounding of every earlier gradient): reported, required below this. */
#define PERF_TOL_F32 1e-3
/* Steps before the last loss compared. */
#define PERF_K_STEPS 10

#define BATCH 256
#define ADAM_LR 3e-3
#define ADAM_B1 0.9
#define ADAM_B2 0.999
#define ADAM_EPS 1e-8
#define STAGE_STEPS 3000 /* cosine period, as the default schedule */
#define MAX_REPS 64

typedef struct {
    int d, L, m; /* m = 0: the default width 2·dim h_l */
} lcase;

/* The PyTorch variants: natural float64 and float32 (F_l = W_l h_l formed explicitly), and
 * float64 through Q_l = W_lᵀW_l as bfc computes it (same algorithm, autograd backward); each
 * is compared with bfc in the precision peer_ours (0: double, 1: single). */
#define NPEER 3
static const char *const peer_tag[NPEER] = {"f64", "f32", "f64q"};
static const char *const peer_method[NPEER] = {"torch_f64", "torch_f32", "torch_f64_via_q"};
static const char *const peer_desc[NPEER] = {"torch f64", "torch f32", "torch f64 via Q"};
static const double peer_tol[NPEER] = {PERF_TOL_F64, PERF_TOL_F32, PERF_TOL_F64};
static const int peer_ours[NPEER] = {0, 1, 0};
/* bfc's two precisions */
static const char *const ours_method[2] = {"bfc_f64", "bfc_f32"};
static const char *const ours_desc[2] = {"bfc f64", "bfc f32"};

typedef struct {
    bfc_learner *lr;
    const double *X, *y;
    double *theta, *theta0, *grad;
    bfc_optim o; /* Adam at ADAM_LR etc., as bfc_train's default */
    bfc_range part;
    size_t np;
    int L;
    long s; /* Adam step counter since the last reset */
} stepper;

/* The update of bfc_train (optim.h: Adam, no clipping), cosine decay over STAGE_STEPS
 * (restarting after each STAGE_STEPS, so that long timing samples keep a stage's rates). */
static void adam_update(stepper *st)
{
    const double lrate = bfc_optim_lr(&st->o.c, st->s % STAGE_STEPS, STAGE_STEPS);
    bfc_optim_update(&st->o, st->theta, st->grad, &st->part, 1, lrate, st->s + 1);
    st->s++;
}

static double step(stepper *st)
{
    const double obj = bfc_learner_loss_grad(st->lr, st->X, st->y, BATCH, st->L, 2, st->grad, NULL);
    adam_update(st);
    return obj;
}

static void reset(stepper *st)
{
    memcpy(st->theta, st->theta0, sizeof(double) * st->np);
    bfc_optim_reset(&st->o);
    st->s = 0;
}

/* Seconds per step over n steps from the initial weights. */
static double ours_sample(stepper *st, int n)
{
    reset(st);
    const double t0 = bfc_wall_seconds();
    for (int i = 0; i < n; i++) step(st);
    return (bfc_wall_seconds() - t0) / n;
}

/* A learner case ready to step: target (for the labels), learner, batch and optimiser
 * state. The id names the case in rows and tables ("d=20 L=3 m=2h"). */
typedef struct {
    char id[64];
    bfc_target_config tc; /* resolved */
    bfc_target *t;
    bfc_data batch;
    stepper st[2]; /* double, single precision (same initial weights) */
} lsetup;

static void stepper_free(stepper *st)
{
    bfc_free(st->theta0), bfc_free(st->grad);
    bfc_optim_free(&st->o);
    bfc_learner_free(st->lr);
}

static void case_free(lsetup *c)
{
    for (int q = 0; q < 2; q++) stepper_free(&c->st[q]);
    bfc_data_free(&c->batch);
    bfc_target_free(c->t);
    memset(c, 0, sizeof *c);
}

/* A learner of the given precision on the case's batch, with its optimiser state. */
static int stepper_new(lsetup *c, const lcase *lc, int precision, stepper *st)
{
    int status = 0;
    bfc_learner_config lcfg;
    bfc_learner_defaults(&lcfg);
    lcfg.m = lc->m;
    lcfg.precision = precision;
    st->lr = bfc_learner_new(&c->tc, &lcfg, BATCH, &status);
    if (!st->lr) return -1;
    st->X = c->batch.X;
    st->y = c->batch.y;
    st->L = lc->L;
    st->np = bfc_learner_nparams(st->lr);
    st->theta = bfc_learner_params(st->lr);
    bfc_learner_slice(st->lr, 2, lc->L, &st->part.off, &st->part.len);
    st->theta0 = bfc_alloc_d(st->np);
    st->grad = bfc_alloc_d(st->np);
    bfc_optim_config oc;
    bfc_optim_defaults(&oc);
    oc.lr = ADAM_LR;
    oc.beta1 = ADAM_B1;
    oc.beta2 = ADAM_B2;
    oc.eps = ADAM_EPS;
    if (!st->theta0 || !st->grad || bfc_optim_init(&st->o, &oc, st->np, st->theta)) {
        bfc_fail(BFC_ENOMEM, "out of memory");
        return -1;
    }
    memcpy(st->theta0, st->theta, sizeof(double) * st->np);
    return 0;
}

static int case_new(const lcase *lc, lsetup *c)
{
    memset(c, 0, sizeof *c);
    if (lc->m > 0) snprintf(c->id, sizeof c->id, "d=%d L=%d m=%d", lc->d, lc->L, lc->m);
    else snprintf(c->id, sizeof c->id, "d=%d L=%d m=2h", lc->d, lc->L);
    bfc_target_defaults(&c->tc);
    c->tc.d = lc->d;
    c->tc.L = lc->L;
    c->tc.n_ref = 20000; /* labels only: the standardisation needs no more */
    bfc_target_resolve(&c->tc);
    int status = 0;
    c->t = bfc_target_new(&c->tc, &status);
    if (!c->t || bfc_data_make(c->t, BATCH, 1, BFC_STREAM_TRAIN, &c->batch) ||
        stepper_new(c, lc, BFC_PRECISION_DOUBLE, &c->st[0]) ||
        stepper_new(c, lc, BFC_PRECISION_SINGLE, &c->st[1])) {
        fprintf(stderr, "perf: learner %s: %s\n", c->id, bfc_last_error());
        case_free(c);
        return -1;
    }
    return 0;
}

static int save1(const char *dir, const char *name, const double *a, size_t n0, size_t n1)
{
    char path[4096];
    if (bfc_path_join(path, sizeof path, dir, name)) return BFC_EINVAL;
    size_t shape[2] = {n0, n1};
    return bfc_npy_save(path, a, n1 ? 2 : 1, shape);
}

/* bfc's reference values from θ0 in one precision: objective and gradient, weights after
 * one Adam step, objective and gradient there, objective after PERF_K_STEPS steps. */
typedef struct {
    double loss0, loss1, lossk;
    double *grad0, *theta1, *grad1; /* n_params each */
} reference;

static void reference_free(reference *ref)
{
    bfc_free(ref->grad0), bfc_free(ref->theta1), bfc_free(ref->grad1);
}

static int reference_compute(stepper *st, reference *ref)
{
    ref->grad0 = bfc_alloc_d(st->np);
    ref->theta1 = bfc_alloc_d(st->np);
    ref->grad1 = bfc_alloc_d(st->np);
    if (!ref->grad0 || !ref->theta1 || !ref->grad1) return BFC_ENOMEM;
    reset(st);
    ref->loss0 = step(st);
    memcpy(ref->grad0, st->grad, sizeof(double) * st->np);
    memcpy(ref->theta1, st->theta, sizeof(double) * st->np);
    ref->loss1 = bfc_learner_loss_grad(st->lr, st->X, st->y, BATCH, st->L, 2, st->grad, NULL);
    memcpy(ref->grad1, st->grad, sizeof(double) * st->np);
    reset(st);
    for (int k = 0; k < PERF_K_STEPS; k++) step(st);
    ref->lossk = bfc_learner_loss_grad(st->lr, st->X, st->y, BATCH, st->L, 2, st->grad, NULL);
    reset(st); /* the files carry θ0 */
    return BFC_OK;
}

/* The largest relative difference of a to b over the values of reference. */
static double reference_diff(const reference *a, const reference *b, size_t np)
{
    const double v[6] = {bfc_relative_diff(&a->loss0, &b->loss0, 1),
                         bfc_relative_diff(a->grad0, b->grad0, np),
                         bfc_relative_diff(a->theta1, b->theta1, np),
                         bfc_relative_diff(&a->loss1, &b->loss1, 1),
                         bfc_relative_diff(a->grad1, b->grad1, np),
                         bfc_relative_diff(&a->lossk, &b->lossk, 1)};
    double worst = 0.0;
    for (int i = 0; i < 6; i++) worst = isnan(v[i]) || v[i] > worst ? v[i] : worst;
    return worst;
}

/* Files for the peer: weights, fixed maps, batch, our reference values in both precisions
 * (grad0.npy, ...: double; grad0_f32.npy, ...: single), config.json. */
static int write_case(const char *dir, const bfc_target_config *tc, bfc_learner *lr,
                      const double *X, const double *y, const reference ref[2], size_t np)
{
    int st = bfc_mkdir_p(dir);
    const int L = tc->L;
    char name[64];
    for (int l = 2; l <= L && !st; l++) {
        const size_t H = (size_t)bfc_learner_dim_h(lr, l), m = (size_t)bfc_learner_width(lr, l);
        snprintf(name, sizeof name, "W_%d.npy", l);
        st = save1(dir, name, bfc_learner_W(lr, l), m, H);
        if (!st && l < L) {
            snprintf(name, sizeof name, "K_%d.npy", l);
            st = save1(dir, name, bfc_learner_K(lr, l), (size_t)tc->k[l], H);
        }
        if (!st && bfc_learner_dim_p(lr, l) > 0) {
            snprintf(name, sizeof name, "R_%d.npy", l);
            st = save1(dir, name, bfc_learner_R(lr, l), (size_t)bfc_learner_dim_p(lr, l),
                       (size_t)tc->k[l]);
        }
    }
    if (!st) st = save1(dir, "X.npy", X, BATCH, (size_t)tc->d);
    if (!st) st = save1(dir, "y.npy", y, BATCH, 0);
    static const char *const sfx[2] = {"", "_f32"};
    for (int q = 0; q < 2 && !st; q++) {
        snprintf(name, sizeof name, "grad0%s.npy", sfx[q]);
        st = save1(dir, name, ref[q].grad0, np, 0);
        snprintf(name, sizeof name, "theta1%s.npy", sfx[q]);
        if (!st) st = save1(dir, name, ref[q].theta1, np, 0);
        snprintf(name, sizeof name, "grad1%s.npy", sfx[q]);
        if (!st) st = save1(dir, name, ref[q].grad1, np, 0);
    }
    if (st) return st;

    bfc_jw j;
    bfc_jw_init(&j);
    j.pretty = 1;
    bfc_jw_obj_begin(&j);
    bfc_jw_kv_int(&j, "d", tc->d);
    bfc_jw_kv_int(&j, "L", L);
    bfc_jw_kv_int(&j, "batch", BATCH);
    bfc_jw_kv_int(&j, "n_params", (long long)np);
    bfc_jw_key(&j, "layers");
    bfc_jw_arr_begin(&j);
    for (int l = 2; l <= L; l++) {
        bfc_jw_obj_begin(&j);
        bfc_jw_kv_int(&j, "l", l);
        bfc_jw_kv_int(&j, "H", bfc_learner_dim_h(lr, l));
        bfc_jw_kv_int(&j, "m", bfc_learner_width(lr, l));
        bfc_jw_kv_int(&j, "k", tc->k[l]);
        bfc_jw_kv_int(&j, "p", bfc_learner_dim_p(lr, l));
        bfc_jw_kv_num(&j, "alpha", tc->alpha[l]);
        bfc_jw_key(&j, "J");
        bfc_jw_arr_begin(&j);
        for (int q = 0; q < l; q++)
            if (tc->J[l] & (1u << q)) bfc_jw_int(&j, q);
        bfc_jw_arr_end(&j);
        bfc_jw_obj_end(&j);
    }
    bfc_jw_arr_end(&j);
    bfc_jw_kv_num(&j, "lambda_tie", 1.0);
    bfc_jw_kv_num(&j, "lr", ADAM_LR);
    bfc_jw_kv_num(&j, "beta1", ADAM_B1);
    bfc_jw_kv_num(&j, "beta2", ADAM_B2);
    bfc_jw_kv_num(&j, "eps", ADAM_EPS);
    bfc_jw_kv_int(&j, "stage_steps", STAGE_STEPS);
    bfc_jw_kv_int(&j, "k_steps", PERF_K_STEPS);
    for (int q = 0; q < 2; q++) {
        snprintf(name, sizeof name, "loss0%s", sfx[q]);
        bfc_jw_kv_num(&j, name, ref[q].loss0);
        snprintf(name, sizeof name, "loss1%s", sfx[q]);
        bfc_jw_kv_num(&j, name, ref[q].loss1);
        snprintf(name, sizeof name, "lossk%s", sfx[q]);
        bfc_jw_kv_num(&j, name, ref[q].lossk);
    }
    bfc_jw_kv_num(&j, "tol_f64", PERF_TOL_F64);
    bfc_jw_kv_num(&j, "tol_f32", PERF_TOL_F32);
    bfc_jw_obj_end(&j);
    char path[4096];
    st = bfc_path_join(path, sizeof path, dir, "config.json");
    if (!st) st = bfc_jw_write_file(&j, path);
    bfc_jw_free(&j);
    return st;
}

static double json_num(const bfc_json *o, const char *key)
{
    double v = NAN;
    if (bfc_json_number(bfc_json_get(o, key), &v)) return NAN;
    return v;
}

/* A reply {"key": number} of the peer, NaN if absent or malformed. */
static double reply_num(const char *line, const char *key)
{
    if (!line) return NAN;
    bfc_json *o = bfc_json_parse(line, NULL, 0);
    const double v = json_num(o, key);
    bfc_json_free(o);
    return v;
}

static int steps_for(double per_step, double target_s)
{
    if (!(per_step > 0)) return 10;
    const double n = ceil(target_s / per_step);
    return n < 3 ? 3 : (n > 100000 ? 100000 : (int)n);
}

static void fmt_us(char *buf, size_t cap, double seconds)
{
    snprintf(buf, cap, "%.1f us", seconds * 1e6);
}

static void one_case(perf_run *r, const lcase *lc)
{
    lsetup c;
    if (case_new(lc, &c)) return;
    stepper st[2] = {c.st[0], c.st[1]}; /* copies of the pointers: c owns them */
    bfc_learner *lr = st[0].lr;
    const size_t np = st[0].np;
    const char *caseid = c.id;
    perf_progress(r, "learner %s: set-up", caseid);

    /* our references in both precisions; single precision checked against double */
    perf_threads(1);
    reference ref[2];
    memset(ref, 0, sizeof ref);
    if (reference_compute(&st[0], &ref[0]) || reference_compute(&st[1], &ref[1])) {
        fprintf(stderr, "perf: learner %s: out of memory\n", caseid);
        goto done;
    }
    int have_ours[2] = {1, 0};
    {
        const double worst = reference_diff(&ref[1], &ref[0], np);
        have_ours[1] = worst <= PERF_TOL_F32;
        perf_row(r, 1, "learner", caseid, ours_method[1], "check_rel_diff", worst, "", 1);
        printf("check %s bfc f32 vs bfc f64: loss, gradient, weights after one Adam step, "
               "gradient there and loss after %d steps agree to %.2e (required <= %.0e): %s\n",
               caseid, PERF_K_STEPS, worst, PERF_TOL_F32,
               have_ours[1] ? "ok" : "FAILED, not timed");
    }
    char dir[4096], sub[96];
    snprintf(sub, sizeof sub, "learner-%s-d%d-L%d-m%d", r->label, lc->d, lc->L, lc->m);
    bfc_path_join(dir, sizeof dir, r->out_dir, sub);
    if (write_case(dir, &c.tc, lr, st[0].X, st[0].y, ref, np)) {
        fprintf(stderr, "perf: learner %s: %s\n", caseid, bfc_last_error());
        goto done;
    }

    /* the peer */
    perf_peer peer;
    memset(&peer, 0, sizeof peer);
    int have_peer[NPEER] = {0, 0, 0};
    char peer_core[64] = "?";
    if (r->peers) {
        const char *args[] = {"--dir", dir, NULL};
        char why[512];
        if (perf_peer_start(&peer, r, "torch_step.py", args, 1, why, sizeof why)) {
            perf_note(r, "peer skipped: PyTorch step (%s): %s", caseid, why);
        } else {
            bfc_json *ready = bfc_json_parse(peer.line, NULL, 0);
            const char *status_s = bfc_json_string(bfc_json_get(ready, "status"));
            const char *reason = bfc_json_string(bfc_json_get(ready, "reason"));
            const char *core = bfc_json_string(bfc_json_get(bfc_json_get(ready, "blas"), "core"));
            if (core) snprintf(peer_core, sizeof peer_core, "%s", core);
            if (!status_s || strcmp(status_s, "ok") != 0) {
                perf_note(r, "peer skipped: PyTorch step (%s): %s", caseid,
                          reason ? reason : peer.line);
            } else {
                for (int q = 0; q < NPEER; q++) {
                    const bfc_json *chk =
                        bfc_json_get(bfc_json_get(ready, "check"), peer_tag[q]);
                    int ok = 0;
                    bfc_json_bool(bfc_json_get(chk, "ok"), &ok);
                    const double worst = json_num(chk, "worst");
                    perf_row(r, 1, "learner", caseid, peer_method[q], "check_rel_diff", worst,
                             "", 1);
                    printf("check %s %s vs %s: loss, gradient, weights after one Adam step, "
                           "gradient there and loss after %d steps agree to %.2e (required <= "
                           "%.0e): %s\n",
                           caseid, peer_desc[q], ours_desc[peer_ours[q]], PERF_K_STEPS, worst,
                           peer_tol[q], ok ? "ok" : "FAILED, not timed");
                    have_peer[q] = ok;
                }
                const char *tv = bfc_json_string(bfc_json_get(ready, "torch"));
                const bfc_json *blas = bfc_json_get(ready, "blas");
                const char *bn = bfc_json_string(bfc_json_get(blas, "name"));
                const char *bv = bfc_json_string(bfc_json_get(blas, "version"));
                const char *bf = bfc_json_string(bfc_json_get(blas, "file"));
                const char *nv = bfc_json_string(bfc_json_get(ready, "numpy"));
                snprintf(r->peer_torch, sizeof r->peer_torch,
                         "torch %s (numpy %s), torch threads %g; BLAS %s %s (%s), core %s, "
                         "%g threads",
                         tv ? tv : "?", nv ? nv : "?", json_num(ready, "threads"),
                         bn ? bn : "?", bv ? bv : "?", bf ? bf : "?", peer_core,
                         json_num(blas, "threads"));
                fprintf(stderr, "perf: peer %s\n", r->peer_torch);
            }
            bfc_json_free(ready);
        }
    }

    /* warm-up and sample sizes */
    perf_threads(1);
    int n_ours[2] = {0, 0};
    for (int q = 0; q < 2; q++)
        if (have_ours[q]) {
            n_ours[q] = steps_for(ours_sample(&st[q], 20), 0.05);
            n_ours[q] = steps_for(ours_sample(&st[q], n_ours[q]), r->sample_s);
        }
    int n_peer[NPEER] = {0, 0, 0};
    for (int q = 0; q < NPEER; q++)
        if (have_peer[q]) {
            const double w = reply_num(perf_peer_ask(&peer, "warm %s %g", peer_tag[q],
                                                     r->sample_s),
                                       "per_step");
            if (!(w > 0)) have_peer[q] = 0;
            n_peer[q] = steps_for(w, r->sample_s);
        }

    /* timed samples, alternating */
    const int reps = r->reps < MAX_REPS ? r->reps : MAX_REPS;
    perf_progress(r, "learner %s: %d timed samples (DGEMM, bfc f64 and f32%s alternating)",
                  caseid, reps, have_peer[0] || have_peer[1] || have_peer[2] ? ", PyTorch" : "");
    double tours[2][MAX_REPS], tpeer[NPEER][MAX_REPS], dg[MAX_REPS];
    int got[NPEER] = {0, 0, 0};
    for (int s = 0; s < reps; s++) {
        dg[s] = perf_dgemm_sample(r, 1); /* the reference rate, under the same load */
        for (int q = 0; q < 2; q++)
            if (have_ours[q]) tours[q][s] = ours_sample(&st[q], n_ours[q]);
        for (int q = 0; q < NPEER; q++) {
            if (!have_peer[q]) continue;
            const double sec = reply_num(
                perf_peer_ask(&peer, "time %s %d", peer_tag[q], n_peer[q]), "seconds");
            if (sec > 0) tpeer[q][got[q]++] = sec / n_peer[q];
        }
    }
    perf_peer_stop(&peer);
    const double flops = bfc_learner_step_flops(lr, BATCH, lc->L, 2);
    double ours[2] = {NAN, NAN}, gflops[2] = {NAN, NAN};
    for (int q = 0; q < 2; q++) {
        if (!have_ours[q]) continue;
        ours[q] = bfc_median(tours[q], reps);
        gflops[q] = flops / ours[q] / 1e9;
        perf_row(r, 1, "learner", caseid, ours_method[q], "seconds_per_step", ours[q], "s", reps);
        perf_row(r, 1, "learner", caseid, ours_method[q], "flops_per_step", flops, "flop", 1);
        perf_row(r, 1, "learner", caseid, ours_method[q], "gflops", gflops[q], "GFLOP/s", reps);
        perf_row(r, 1, "learner", caseid, ours_method[q], "steps_per_sample", n_ours[q], "", 1);
    }
    char comparison[192], o[32], p[48], ratio[32];
    if (have_ours[1]) {
        perf_row(r, 1, "learner", caseid, "bfc_f32", "ratio_f64_over_f32", ours[0] / ours[1], "x",
                 reps);
        snprintf(comparison, sizeof comparison, "learner step %s: bfc f32 vs bfc f64", caseid);
        fmt_us(o, sizeof o, ours[1]);
        fmt_us(p, sizeof p, ours[0]);
        snprintf(ratio, sizeof ratio, "%.2fx", ours[0] / ours[1]);
        perf_table(r, comparison, o, p, ratio, r->core, 1);
    }
    double peer_med[NPEER] = {NAN, NAN, NAN};
    for (int q = 0; q < NPEER; q++) {
        const int me = peer_ours[q];
        snprintf(comparison, sizeof comparison, "learner step %s: %s vs %s", caseid,
                 ours_desc[me], peer_desc[q]);
        fmt_us(o, sizeof o, ours[me]);
        if (!got[q] || !have_ours[me]) {
            perf_table(r, comparison, have_ours[me] ? o : "skipped", got[q] ? NULL : "skipped",
                       NULL, r->core, 1);
            if (!got[q]) continue;
        }
        peer_med[q] = bfc_median(tpeer[q], got[q]);
        const char *method = peer_method[q];
        perf_row(r, 1, "learner", caseid, method, "seconds_per_step", peer_med[q], "s", got[q]);
        perf_row(r, 1, "learner", caseid, method, "steps_per_sample", n_peer[q], "", 1);
        if (!have_ours[me]) continue;
        perf_row(r, 1, "learner", caseid, method, "ratio_peer_over_bfc", peer_med[q] / ours[me],
                 "x", got[q]);
        fmt_us(p, sizeof p, peer_med[q]);
        snprintf(ratio, sizeof ratio, "%.1fx", peer_med[q] / ours[me]);
        char core[160];
        snprintf(core, sizeof core, "%s%s%s", r->core, strcmp(peer_core, r->core) ? "/" : "",
                 strcmp(peer_core, r->core) ? peer_core : "");
        perf_table(r, comparison, o, p, ratio, core, 1);
    }
    const double dgemm = bfc_median(dg, reps);
    perf_row(r, 1, "learner", caseid, "openblas", "dgemm_gflops_interleaved", dgemm, "GFLOP/s",
             reps);
    perf_row(r, 1, "learner", caseid, "bfc_f64", "fraction_of_dgemm", gflops[0] / dgemm, "", reps);
    snprintf(comparison, sizeof comparison, "learner step %s: GFLOP/s vs DGEMM", caseid);
    snprintf(o, sizeof o, "%.1f", gflops[0]);
    snprintf(p, sizeof p, "%.1f (DGEMM)", dgemm);
    snprintf(ratio, sizeof ratio, "%.0f%%", 100.0 * gflops[0] / dgemm);
    perf_table(r, comparison, o, p, ratio, r->core, 1);
    perf_progress(r, "learner %s: bfc f64 %.1f us/step (%.1f GFLOP/s), f32 %.1f us; torch f64 "
                     "%.1f us, f32 %.1f us, f64 via Q %.1f us",
                  caseid, ours[0] * 1e6, gflops[0], ours[1] * 1e6, peer_med[0] * 1e6,
                  peer_med[1] * 1e6, peer_med[2] * 1e6);

    /* goals of the issue */
    if (lc->d == 20 && lc->L == 3 && lc->m == 0 && got[0])
        perf_goal(r, "learner step vs torch f64, SPEC 6 size", peer_med[0] / ours[0], 10.0, "x");
    if (lc->d == 100 && lc->L == 3 && lc->m == 512) {
        if (got[0])
            perf_goal(r, "learner step vs torch f64, d=100 m=512", peer_med[0] / ours[0], 3.0, "x");
        perf_goal(r, "learner step GFLOP/s / DGEMM 1 thread, d=100 m=512",
                  100.0 * gflops[0] / dgemm, 40.0, "%");
    }
done:
    reference_free(&ref[0]), reference_free(&ref[1]);
    case_free(&c);
}

void perf_learner(perf_run *r)
{
    static const lcase full[] = {{20, 3, 0}, {20, 4, 0}, {100, 3, 512}, {100, 4, 512}};
    static const lcase quick[] = {{20, 3, 0}, {100, 3, 512}};
    const lcase *cases = r->quick ? quick : full;
    const int n = r->quick ? 2 : 4;
    const double t0 = bfc_wall_seconds();
    for (int i = 0; i < n; i++) {
        one_case(r, &cases[i]);
        if (i + 1 < n) { /* the cases cost about the same: set-up and samples of fixed length */
            char eta[32];
            const double per = (bfc_wall_seconds() - t0) / (i + 1);
            bfc_format_duration(per * (n - i - 1), eta, sizeof eta);
            perf_progress(r, "learner: %d of %d cases done; ETA of the learner part %s", i + 1, n,
                          eta);
        }
    }
}

/* ---- memory: does a training step allocate? ------------------------------------------
 * In double and in single precision: heap calls counted by the interposer of perf_alloc.c
 * around 1000 steps (loss, gradient and Adam update), after a warm-up, and glibc's mallinfo2
 * bytes in use before and after. */
#define ALLOC_STEPS 1000

static void alloc_case(perf_run *r, const lcase *lc, int q)
{
    lsetup c;
    if (case_new(lc, &c)) return;
    stepper st = c.st[q];
    char caseid[80];
    snprintf(caseid, sizeof caseid, "%s%s", c.id, q ? " f32" : "");
    perf_threads(1);
    reset(&st);
    for (int i = 0; i < 10; i++) step(&st); /* warm-up */
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
    const struct mallinfo2 a = mallinfo2();
    const unsigned long c0 = perf_alloc_calls();
    perf_alloc_trace(1);
    for (int i = 0; i < ALLOC_STEPS; i++) step(&st);
    perf_alloc_trace(0);
    const unsigned long c1 = perf_alloc_calls();
    const struct mallinfo2 b = mallinfo2();
    char where[1024];
    const double blas = (double)perf_alloc_sites(where, sizeof where, "libopenblas");
    if (c1 > c0) printf("heap calls in %d steps, %s, by site: %s\n", ALLOC_STEPS, caseid, where);
    const double calls = (double)(c1 - c0), ours = calls - blas;
    const double heap = (double)b.uordblks - (double)a.uordblks + (double)b.hblkhd -
                        (double)a.hblkhd;
    perf_row(r, 1, "memory", caseid, ours_method[q], "heap_calls_per_1000_steps", calls, "calls",
             1);
    perf_row(r, 1, "memory", caseid, ours_method[q], "heap_calls_outside_openblas_per_1000_steps",
             ours, "calls", 1);
    perf_row(r, 1, "memory", caseid, ours_method[q], "heap_bytes_change_1000_steps", heap, "B", 1);
    char comparison[192], o[48], p[48];
    snprintf(comparison, sizeof comparison, "learner %s: heap calls in %d steps", caseid,
             ALLOC_STEPS);
    snprintf(o, sizeof o, "%.0f (%+.0f B)", ours, heap);
    snprintf(p, sizeof p, "%.0f in OpenBLAS", blas);
    perf_table(r, comparison, o, p, NULL, r->core, 1);
    char goal[192];
    snprintf(goal, sizeof goal, "heap calls by bfc in %d learner steps, %s", ALLOC_STEPS, caseid);
    perf_goal_within(r, goal, ours, 0.0, 0.0, "");
    snprintf(goal, sizeof goal, "heap bytes in use after %d steps - before, %s", ALLOC_STEPS,
             caseid);
    perf_goal_within(r, goal, heap, 0.0, 0.0, " B");
    perf_progress(r, "memory %s: %.0f heap calls by bfc in %d steps (%.0f in OpenBLAS)", caseid,
                  ours, ALLOC_STEPS, blas);
#else
    printf("memory check skipped: needs glibc >= 2.33 (mallinfo2 and the malloc interposer)\n");
#endif
    case_free(&c);
}

void perf_memory(perf_run *r)
{
    static const lcase cases[] = {{20, 3, 0}, {100, 3, 512}};
    for (int i = 0; i < 2; i++)
        for (int q = 0; q < 2; q++) alloc_case(r, &cases[i], q);
}
