/* train.c: stage schedules, optimisers, minibatching, evaluation and divergence handling. */
#include "train.h"

#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "metrics.h"
#include "rng.h"

void bfc_train_defaults(bfc_train_config *c)
{
    memset(c, 0, sizeof *c);
    c->schedule = BFC_SCHED_E2E;
    c->depth = 0;
    c->steps = 3000;
    c->batch = 256;
    bfc_optim_defaults(&c->opt);
    c->lambda_tie_last = -1.0;
    c->eval_every = 100;
    c->seed = 0;
    c->progress = 0;
    c->stop = NULL;
}

int bfc_schedule_parse(const char *s, int *schedule, int *depth)
{
    *depth = 0;
    if (strcmp(s, "e2e") == 0) *schedule = BFC_SCHED_E2E;
    else if (strcmp(s, "layerwise") == 0) *schedule = BFC_SCHED_LAYERWISE;
    else if (strcmp(s, "joint") == 0) *schedule = BFC_SCHED_JOINT;
    else if (strcmp(s, "refit") == 0) *schedule = BFC_SCHED_REFIT;
    else if (strcmp(s, "featonly") == 0) *schedule = BFC_SCHED_FEATONLY;
    else if (strncmp(s, "depth=", 6) == 0) {
        char *end;
        long v = strtol(s + 6, &end, 10);
        if (end == s + 6 || *end || v < 0 || v > BFC_MAX_L)
            return bfc_fail(BFC_EINVAL, "--schedule depth=D needs an integer D in 0..%d (got '%s')",
                            BFC_MAX_L, s + 6);
        *schedule = BFC_SCHED_DEPTH;
        *depth = (int)v;
    } else
        return bfc_fail(BFC_EINVAL, "--schedule must be e2e, layerwise, joint, depth=D, refit or "
                                    "featonly (got '%s')", s);
    return BFC_OK;
}

const char *bfc_schedule_name(int schedule, int depth, char *buf, size_t cap)
{
    switch (schedule) {
    case BFC_SCHED_E2E: snprintf(buf, cap, "e2e"); break;
    case BFC_SCHED_LAYERWISE: snprintf(buf, cap, "layerwise"); break;
    case BFC_SCHED_JOINT: snprintf(buf, cap, "joint"); break;
    case BFC_SCHED_REFIT: snprintf(buf, cap, "refit"); break;
    case BFC_SCHED_FEATONLY: snprintf(buf, cap, "featonly"); break;
    default: snprintf(buf, cap, "depth=%d", depth); break;
    }
    return buf;
}

int bfc_train_validate(const bfc_train_config *c, int L, int n_train)
{
    if (c->steps < 1 || c->steps > 100000000)
        return bfc_fail(BFC_EINVAL, "--steps must be between 1 and 1e8 (got %d)", c->steps);
    if (c->batch < 1 || c->batch > 65536)
        return bfc_fail(BFC_EINVAL, "--batch must be between 1 and 65536 (got %d)", c->batch);
    if (n_train < c->batch)
        return bfc_fail(BFC_EINVAL, "--n (%d) must be at least the batch size --batch (%d)",
                        n_train, c->batch);
    bfc_optim_config o = c->opt;
    bfc_optim_resolve(&o);
    int st = bfc_optim_validate(&o, "--");
    if (st) return st;
    if (!(c->lambda_tie_last < 0 || isfinite(c->lambda_tie_last)))
        return bfc_fail(BFC_EINVAL, "--lambda-tie-last must be >= 0 and finite (got %g)",
                        c->lambda_tie_last);
    if (c->schedule < BFC_SCHED_E2E || c->schedule > BFC_SCHED_FEATONLY)
        return bfc_fail(BFC_EINVAL, "unknown schedule %d", c->schedule);
    if (c->eval_every < 1)
        return bfc_fail(BFC_EINVAL, "--eval-every must be >= 1 (got %d)", c->eval_every);
    if (c->schedule == BFC_SCHED_DEPTH && (c->depth < 0 || c->depth > L))
        return bfc_fail(BFC_EINVAL, "--schedule depth=D needs 0 <= D <= %d", L);
    return BFC_OK;
}

/* Does block `which` ('W' or 'K') of layer l ≤ top train in the stage whose top layer is top?
 * (train.h: the table of schedules.) */
static int block_trains(const bfc_train_config *c, int top, int l, char which)
{
    if (l == top) return 1;
    switch (c->schedule) {
    case BFC_SCHED_LAYERWISE: return 0;
    case BFC_SCHED_DEPTH: return l >= top - c->depth;
    case BFC_SCHED_REFIT: return which == 'W';
    case BFC_SCHED_FEATONLY: return which == 'K';
    default: return 1; /* e2e, joint */
    }
}

int bfc_train_blocks(const bfc_learner *lr, const bfc_train_config *c, int top, int classification,
                     bfc_range *r, int *lo)
{
    const int L = bfc_learner_L(lr);
    int n = 0;
    *lo = top;
    for (int l = 2; l <= top; l++)
        for (int w = 0; w < (l < L ? 2 : 1); w++) {
            const char which = w ? 'K' : 'W';
            if (!block_trains(c, top, l, which)) continue;
            size_t o, m;
            bfc_learner_block(lr, l, which, &o, &m);
            if (l < *lo) *lo = l;
            if (n > 0 && r[n - 1].off + r[n - 1].len == o) r[n - 1].len += m; /* adjacent */
            else r[n++] = (bfc_range){o, m};
        }
    if (classification) r[n++] = (bfc_range){0, 1};
    return n;
}

typedef struct {
    const bfc_target *t;
    const bfc_data *test;
    double *pred;                    /* n_test */
    double *Sstar[BFC_MAX_L + 1];    /* target features on the test set */
    double *S;                       /* n_test × kmax */
} evaluator;

static void evaluator_free(evaluator *ev)
{
    bfc_free(ev->pred);
    bfc_free(ev->S);
    for (int l = 0; l <= BFC_MAX_L; l++) bfc_free(ev->Sstar[l]);
}

static int evaluator_init(evaluator *ev, const bfc_target *t, const bfc_data *test)
{
    memset(ev, 0, sizeof *ev);
    const bfc_target_config *c = bfc_target_config_of(t);
    ev->t = t;
    ev->test = test;
    int n = test->n, kmax = 1;
    ev->pred = bfc_alloc_d((size_t)n);
    int ok = ev->pred != NULL;
    for (int l = 2; l < c->L && ok; l++) {
        ev->Sstar[l] = bfc_alloc_d((size_t)n * c->k[l]);
        ok = ev->Sstar[l] != NULL;
        if (c->k[l] > kmax) kmax = c->k[l];
    }
    ev->S = ok ? bfc_alloc_d((size_t)n * kmax) : NULL;
    if (!ok || !ev->S) {
        evaluator_free(ev);
        return bfc_fail(BFC_ENOMEM, "out of memory for the test set evaluation");
    }
    return bfc_target_eval(t, test->X, n, NULL, ev->Sstar);
}

/* Relative test error with layers 2..top active, and feature errors of layers 2..L−1. */
static int evaluate(evaluator *ev, bfc_learner *lr, int top, double *test_error, double *fe,
                    double *class_error)
{
    const bfc_target_config *c = bfc_target_config_of(ev->t);
    int n = ev->test->n;
    bfc_learner_predict(lr, ev->test->X, n, top, ev->pred);
    *test_error = bfc_relative_error(ev->pred, ev->test->g, n);
    if (class_error)
        *class_error = c->task == BFC_TASK_CLASSIFICATION
                           ? bfc_classification_error(ev->pred, ev->test->y, n)
                           : NAN;
    for (int l = 2; l < c->L; l++) {
        bfc_learner_features(lr, ev->test->X, n, l, ev->S);
        int st = bfc_feature_error(ev->S, c->k[l], ev->Sstar[l], c->k[l], n, &fe[l]);
        if (st) return st;
    }
    return BFC_OK;
}

/* ---- checkpoints ---------------------------------------------------------------------- */

#define CKPT_MAGIC "BFCCKPT1"

/* Position of the training loop: the next step to run is step s of stage si. */
typedef struct {
    int si;
    int pad_;
    long s, gstep;
    size_t cursor;
    double train_s, loss_acc, last_note;
    int loss_cnt;
    int pad2_;
} loop_pos;

/* Everything the checkpoint holds, as (pointer, bytes) pairs in file order. */
typedef struct {
    void *p;
    size_t n;
} part;

/* The training state a checkpoint saves and restores. */
typedef struct {
    double *theta;
    bfc_optim *o;
    bfc_batcher *b;
} train_state;

static int ckpt_parts(part *pt, uint64_t *hdr, loop_pos *pos, bfc_train_result *res,
                      const train_state *ts)
{
    const size_t np = ts->o->n;
    int k = 0;
    pt[k++] = (part){hdr, 5 * sizeof(uint64_t)};
    pt[k++] = (part){pos, sizeof *pos};
    pt[k++] = (part){res, sizeof *res};
    pt[k++] = (part){ts->theta, np * sizeof(double)};
    pt[k++] = (part){ts->o->m1, np * sizeof(double)};
    pt[k++] = (part){ts->o->m2, np * sizeof(double)};
    pt[k++] = (part){ts->o->keep, np * sizeof(double)};
    pt[k++] = (part){ts->b->perm, ts->b->n * sizeof(size_t)};
    pt[k++] = (part){gsl_rng_state(ts->b->rng), gsl_rng_size(ts->b->rng)};
    return k;
}

static int ckpt_save(const char *path, const bfc_train_config *cfg, loop_pos *pos,
                     bfc_train_result *res, const train_state *ts)
{
    uint64_t hdr[5] = {cfg->config_hash, ts->o->n, ts->b->n, gsl_rng_size(ts->b->rng),
                       sizeof *res};
    part pt[9];
    int k = ckpt_parts(pt, hdr, pos, res, ts);
    bfc_afile *af = bfc_afile_open(path);
    if (!af) return BFC_EIO;
    FILE *f = bfc_afile_fp(af);
    uint64_t h = BFC_FNV1A64_INIT;
    fwrite(CKPT_MAGIC, 1, 8, f);
    h = bfc_fnv1a64(h, CKPT_MAGIC, 8);
    for (int i = 0; i < k; i++) {
        fwrite(pt[i].p, 1, pt[i].n, f);
        h = bfc_fnv1a64(h, pt[i].p, pt[i].n);
    }
    fwrite(&h, sizeof h, 1, f);
    return bfc_afile_commit(af);
}

/* GSL's MT19937 state (gsl/rng/mt.c), the generator of bfc_rng_new. A checkpoint's copy is
 * installed as is, so its index must lie in the table: the next draw reads mt[mti]. */
typedef struct {
    unsigned long mt[624];
    int mti;
} mt19937_state;

static int rng_state_ok(const gsl_rng *r, const unsigned char *state)
{
    if (strcmp(gsl_rng_name(r), "mt19937") != 0 || gsl_rng_size(r) != sizeof(mt19937_state))
        return 0;
    mt19937_state m;
    memcpy(&m, state, sizeof m);
    return m.mti >= 0 && m.mti <= 624;
}

/* Read the checkpoint at path into pos, res and the state ts, for a run of nst stages of
 * stage_steps steps. Everything is checked (magic, configuration, sizes, length, checksum,
 * the loop position, the results' counts and strings, the permutation) before the live
 * state is touched: a file that fails any check changes nothing. */
static int ckpt_load(const char *path, const bfc_train_config *cfg, int nst, long stage_steps,
                     loop_pos *pos, bfc_train_result *res, const train_state *ts)
{
    size_t len = 0;
    unsigned char *buf = (unsigned char *)bfc_read_file(path, &len);
    if (!buf) return bfc_fail(BFC_EIO, "--resume: cannot read the checkpoint %s", path);
    const size_t np = ts->o->n, n = ts->b->n;
    uint64_t hdr[5];
    loop_pos p2;
    bfc_train_result r2;
    int st = BFC_OK;
    uint64_t h = BFC_FNV1A64_INIT;
    if (len < 8 + sizeof hdr || memcmp(buf, CKPT_MAGIC, 8) != 0) {
        st = bfc_fail(BFC_EFORMAT, "%s: not a bfc checkpoint", path);
        goto out;
    }
    memcpy(hdr, buf + 8, sizeof hdr);
    if (hdr[0] != cfg->config_hash) {
        st = bfc_fail(BFC_EFORMAT, "%s was written by a run with another configuration; resume "
                                   "with the same flags, or start afresh without --resume", path);
        goto out;
    }
    if (hdr[1] != np || hdr[2] != n || hdr[3] != gsl_rng_size(ts->b->rng) ||
        hdr[4] != sizeof r2) {
        st = bfc_fail(BFC_EFORMAT, "%s: sizes do not match this run", path);
        goto out;
    }
    part pt[9];
    int k = ckpt_parts(pt, hdr, &p2, &r2, ts);
    size_t need = 8 + sizeof(uint64_t);
    for (int i = 0; i < k; i++) need += pt[i].n;
    if (len != need) {
        st = bfc_fail(BFC_EFORMAT, "%s: truncated or padded (%zu bytes, expected %zu)", path, len,
                      need);
        goto out;
    }
    h = bfc_fnv1a64(h, buf, len - sizeof(uint64_t));
    uint64_t stored;
    memcpy(&stored, buf + len - sizeof stored, sizeof stored);
    if (stored != h) {
        st = bfc_fail(BFC_EFORMAT, "%s: checksum mismatch (the file is corrupt)", path);
        goto out;
    }
    /* parts 1 and 2 (position, results) into the temporaries, then check them */
    size_t off = 8 + pt[0].n;
    memcpy(&p2, buf + off, sizeof p2);
    memcpy(&r2, buf + off + sizeof p2, sizeof r2);
    if (p2.si < 0 || p2.si >= nst || p2.s < 0 || p2.s > stage_steps || p2.gstep < 0 ||
        p2.gstep != stage_steps * p2.si + p2.s || p2.cursor > n || p2.loss_cnt < 0 ||
        !(p2.train_s >= 0)) {
        st = bfc_fail(BFC_EFORMAT, "%s: loop position out of range", path);
        goto out;
    }
    if (r2.n_stages != nst || r2.stages_done < p2.si || r2.stages_done > p2.si + (p2.s == stage_steps) ||
        r2.ckpt_failed < 0 || r2.ckpt_failed > 1000000000 || !memchr(r2.message, 0, sizeof r2.message) ||
        !memchr(r2.ckpt_error, 0, sizeof r2.ckpt_error)) {
        st = bfc_fail(BFC_EFORMAT, "%s: results out of range", path);
        goto out;
    }
    const unsigned char *perm = buf + off + pt[1].n + pt[2].n + 4 * np * sizeof(double);
    for (size_t i = 0; i < n; i++) {
        size_t v;
        memcpy(&v, perm + i * sizeof v, sizeof v);
        if (v >= n) {
            st = bfc_fail(BFC_EFORMAT, "%s: minibatch permutation out of range", path);
            goto out;
        }
    }
    if (!rng_state_ok(ts->b->rng, buf + len - sizeof(uint64_t) - pt[k - 1].n)) {
        st = bfc_fail(BFC_EFORMAT, "%s: random number generator state out of range", path);
        goto out;
    }
    off = 8; /* all checked: the state parts follow the header in order */
    for (int i = 0; i < k; i++) {
        if (i > 2) memcpy(pt[i].p, buf + off, pt[i].n);
        off += pt[i].n;
    }
    *pos = p2;
    *res = r2;
    ts->b->cursor = p2.cursor;
out:
    free(buf);
    return st;
}

/* Write the checkpoint (if configured). A failure is counted in res and training goes on:
 * the previous checkpoint stays in place, and the run's results do not depend on it. */
static void checkpoint_now(const bfc_train_config *cfg, loop_pos *pos, bfc_train_result *res,
                           const train_state *ts, void *ctx)
{
    if (!cfg->checkpoint) return;
    /* the caller's logs first: if the process dies in between, the logs are ahead of the
     * checkpoint (and cut back on resume), never behind it */
    if (cfg->on_checkpoint) cfg->on_checkpoint(ctx);
    pos->cursor = ts->b->cursor;
    if (ckpt_save(cfg->checkpoint, cfg, pos, res, ts)) {
        res->ckpt_failed++;
        snprintf(res->ckpt_error, sizeof res->ckpt_error, "%s", bfc_last_error());
        if (cfg->progress)
            fprintf(stderr, "warning: the checkpoint could not be written (%s); training goes "
                            "on\n", res->ckpt_error);
    }
}

int bfc_train_checkpoint_steps(const char *path, long *steps)
{
    size_t len = 0;
    unsigned char *buf = (unsigned char *)bfc_read_file(path, &len);
    if (!buf) return bfc_fail(BFC_EIO, "--resume: cannot read the checkpoint %s", path);
    loop_pos p;
    int st = BFC_OK;
    if (len < 8 + 5 * sizeof(uint64_t) + sizeof p || memcmp(buf, CKPT_MAGIC, 8) != 0)
        st = bfc_fail(BFC_EFORMAT, "%s: not a bfc checkpoint", path);
    else {
        memcpy(&p, buf + 8 + 5 * sizeof(uint64_t), sizeof p);
        *steps = p.gstep;
    }
    free(buf);
    return st;
}

int bfc_train(bfc_learner *lr, const bfc_target *t, const bfc_data *train, const bfc_data *test,
              const bfc_train_config *cfg_in, bfc_train_log_fn log, void *ctx,
              bfc_train_result *res)
{
    const bfc_target_config *tc = bfc_target_config_of(t);
    const int L = tc->L, d = tc->d, B = cfg_in->batch;
    bfc_train_config cfg_r = *cfg_in;
    const bfc_train_config *cfg = &cfg_r;
    bfc_optim_resolve(&cfg_r.opt);
    memset(res, 0, sizeof *res);
    res->class_error = NAN;
    int st = bfc_train_validate(cfg, L, train->n);
    if (st) return st;
    if (train->d != d || test->d != d)
        return bfc_fail(BFC_EINVAL, "data dimension (%d, %d) does not match the target's d = %d",
                        train->d, test->d, d);
    if (B > bfc_learner_bmax(lr))
        return bfc_fail(BFC_EINVAL, "--batch %d exceeds the learner's workspace (%d)", B,
                        bfc_learner_bmax(lr));

    size_t np = bfc_learner_nparams(lr);
    double *theta = bfc_learner_params(lr);
    double *grad = bfc_alloc_d(np);
    double *Xb = bfc_alloc_d((size_t)B * d), *yb = bfc_alloc_d((size_t)B);
    bfc_optim o = {0};
    bfc_batcher bat = {0};
    evaluator ev;
    int ev_ok = 0;
    if (!grad || !Xb || !yb) {
        st = bfc_fail(BFC_ENOMEM, "out of memory for training buffers");
        goto out;
    }
    if ((st = bfc_optim_init(&o, &cfg->opt, np, theta)) ||
        (st = bfc_batcher_init(&bat, (size_t)train->n, cfg->seed)))
        goto out;
    if ((st = evaluator_init(&ev, t, test))) goto out;
    ev_ok = 1;
    const train_state ts = {theta, &o, &bat};

    /* stages */
    int tops[BFC_MAX_STAGES], nst = 0;
    long stage_steps;
    if (cfg->schedule == BFC_SCHED_JOINT) {
        tops[nst++] = L;
        stage_steps = (long)cfg->steps * (L - 1);
    } else {
        for (int l = 2; l <= L; l++) tops[nst++] = l;
        stage_steps = cfg->steps;
    }
    const long total_steps = stage_steps * nst;
    const int classif = tc->task == BFC_TASK_CLASSIFICATION;
    const double tie0 = bfc_learner_lambda_tie(lr); /* restored at the end */

    double t0 = bfc_wall_seconds(), c0 = bfc_cpu_seconds();
    loop_pos pos = {0};
    pos.last_note = -1e9;
    res->n_stages = nst;
    if (cfg->resume) {
        if (!cfg->checkpoint) {
            st = bfc_fail(BFC_EINVAL, "--resume needs a checkpoint file");
            goto out;
        }
        if ((st = ckpt_load(cfg->checkpoint, cfg, nst, stage_steps, &pos, res, &ts))) goto out;
        res->message[0] = '\0';
        pos.last_note = -1e9;
        if (cfg->progress)
            fprintf(stderr, "resuming at stage %d step %ld (%ld steps done)\n", tops[pos.si],
                    pos.s, pos.gstep);
    }
    memcpy(res->stage_top, tops, sizeof(int) * (size_t)nst);
    double train_s = pos.train_s, last_note = -1e9;
    long gstep = pos.gstep;
    for (int si = pos.si; si < nst && !st; si++) {
        const int top = tops[si];
        const long s0 = si == pos.si ? pos.s : 0;
        /* the trained blocks of this stage: the optimiser and the clip see only these; the
         * gradient is computed for every layer from lo up (frozen blocks' entries unused) */
        bfc_range parts[2 * BFC_MAX_L + 1];
        int lo;
        const int nparts = bfc_train_blocks(lr, cfg, top, classif, parts, &lo);
        bfc_learner_set_lambda_tie(lr, si == nst - 1 && cfg->lambda_tie_last >= 0
                                           ? cfg->lambda_tie_last
                                           : tie0);
        if (s0 == 0) bfc_optim_reset(&o); /* reset at each stage (kept when resuming in it) */
        res->step_flops = bfc_learner_step_flops(lr, B, top, lo);
        double loss_acc = s0 ? pos.loss_acc : 0.0;
        int loss_cnt = s0 ? pos.loss_cnt : 0;
        for (long s = s0; s < stage_steps; s++) {
            if (cfg->stop && *cfg->stop) {
                st = BFC_EINTR;
                snprintf(res->message, sizeof res->message,
                         "interrupted at stage %d step %ld", top, s);
                pos = (loop_pos){.si = si, .s = s, .gstep = gstep, .train_s = train_s,
                                 .loss_acc = loss_acc, .loss_cnt = loss_cnt};
                const int failed = res->ckpt_failed;
                checkpoint_now(cfg, &pos, res, &ts, ctx);
                if (res->ckpt_failed > failed)
                    snprintf(res->message + strlen(res->message),
                             sizeof res->message - strlen(res->message),
                             "; writing the checkpoint failed: %s", res->ckpt_error);
                else if (cfg->checkpoint)
                    snprintf(res->message + strlen(res->message),
                             sizeof res->message - strlen(res->message),
                             "; checkpoint written, continue with --resume");
                break;
            }
            double tstart = bfc_wall_seconds();
            bfc_batch_next(&bat, train, B, Xb, yb);
            const double obj = bfc_learner_loss_grad(lr, Xb, yb, B, top, lo, grad, NULL);
            if (gstep == 0) res->loss_start = obj;
            if (bfc_loss_diverged(obj, res->loss_start)) {
                bfc_optim_revert(&o, theta);
                res->diverged = 1;
                st = BFC_EDIVERGED;
                char why[96];
                if (isfinite(obj))
                    snprintf(why, sizeof why, "%.3g, above %g times the first step's %.3g", obj,
                             BFC_DIVERGE_FACTOR, res->loss_start);
                else
                    snprintf(why, sizeof why, "%g", obj);
                if (gstep > 0) gstep--; /* the learner holds the state before the last step */
                snprintf(res->message, sizeof res->message,
                         "training diverged at stage %d step %ld (minibatch objective %s); the "
                         "results are those of the parameters after %ld steps, before the "
                         "objective left the bound; try a smaller --lr (now %g) or --clip 1",
                         top, s, why, gstep, cfg->opt.lr);
                break;
            }
            bfc_optim_update(&o, theta, grad, parts, nparts,
                             bfc_optim_lr(&cfg->opt, s, stage_steps), s + 1);
            train_s += bfc_wall_seconds() - tstart;
            gstep++;
            loss_acc += obj;
            loss_cnt++;
            int last = s + 1 == stage_steps;
            int eval_now = (s + 1) % cfg->eval_every == 0 || last;
            if (eval_now) {
                bfc_train_point pt;
                memset(&pt, 0, sizeof pt);
                pt.stage = top;
                pt.step = (int)(s + 1);
                pt.global_step = gstep;
                pt.lr = bfc_optim_lr(&cfg->opt, s, stage_steps);
                pt.loss = loss_acc / loss_cnt;
                loss_acc = 0.0;
                loss_cnt = 0;
                if ((st = evaluate(&ev, lr, top, &pt.test_error, pt.feature_error, NULL))) break;
                pt.wall_s = bfc_wall_seconds() - t0;
                if (log) log(&pt, ctx);
                /* progress: at stage ends, and otherwise at most every 2 seconds */
                if (cfg->progress && (last || pt.wall_s - last_note >= 2.0)) {
                    last_note = pt.wall_s;
                    char eta[32];
                    double el = pt.wall_s;
                    bfc_format_duration(el / (double)gstep * (double)(total_steps - gstep), eta, sizeof eta);
                    fprintf(stderr, "[stage %d/%d] step %5ld/%ld  loss %.3e  test %.3e", top, L,
                            s + 1, stage_steps, pt.loss, pt.test_error);
                    for (int l = 2; l < L; l++) fprintf(stderr, "  fe%d %.2e", l, pt.feature_error[l]);
                    fprintf(stderr, "  %.1fs  ETA %s\n", el, eta);
                }
                if (last) {
                    memcpy(res->fe_end_of_stage[si], pt.feature_error, sizeof pt.feature_error);
                    res->test_error_end_of_stage[si] = pt.test_error;
                    res->stages_done = si + 1;
                }
            }
            /* no checkpoint after the last step: the run is complete and its results, not a
             * checkpoint, are what the caller writes next */
            if (cfg->checkpoint && !(last && si == nst - 1) &&
                (last || (cfg->checkpoint_every > 0 && gstep % cfg->checkpoint_every == 0))) {
                pos = (loop_pos){.si = si, .s = s + 1, .gstep = gstep, .train_s = train_s,
                                 .loss_acc = loss_acc, .loss_cnt = loss_cnt};
                checkpoint_now(cfg, &pos, res, &ts, ctx);
            }
        }
    }
    res->steps = gstep;
    res->train_s = train_s;
    res->us_per_step = gstep ? 1e6 * train_s / (double)gstep : 0.0;
    if (!st || st == BFC_EDIVERGED || st == BFC_EINTR) {
        int top = tops[nst - 1];
        if (st) { /* stage reached: the one in progress */
            for (int si = 0; si < nst; si++)
                if (gstep <= stage_steps * (si + 1)) {
                    top = tops[si];
                    break;
                }
        }
        int est = evaluate(&ev, lr, top, &res->test_error, res->feature_error, &res->class_error);
        res->test_error_bulk = bfc_relative_error_bulk(ev.pred, test->g, test->n, BFC_BULK_KEEP);
        if (!st) st = est;
    }
    res->wall_s = bfc_wall_seconds() - t0;
    res->cpu_s = bfc_cpu_seconds() - c0;
    bfc_learner_set_lambda_tie(lr, tie0);
out:
    if (ev_ok) evaluator_free(&ev);
    bfc_optim_free(&o);
    bfc_batcher_free(&bat);
    bfc_free(grad);
    bfc_free(Xb);
    bfc_free(yb);
    return st;
}
