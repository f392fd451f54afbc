/* runs.c: training runs for the claim checks, with a process-wide cache of results. */
#include "runs.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "entk.h"
#include "krr.h"
#include "learner.h"
#include "metrics.h"
#include "rng.h"
#include "seqkernel.h"
#include "target.h"

void bfc_check_run_defaults(bfc_check_run_spec *s)
{
    memset(s, 0, sizeof *s);
    s->d = 20;
    s->L = 3;
    s->k = 3;
    s->gap = 0.1;
    s->n = 20000;
    s->n_test = 10000;
    s->steps = 3000;
    s->schedule = BFC_SCHED_E2E;
    s->depth = 0;
    s->clamp = 0.0;
    s->clip = 0.0;
    s->seed = 0;
}

int bfc_check_run_is_spec6(const bfc_check_run_spec *s)
{
    bfc_check_run_spec r;
    bfc_check_run_defaults(&r);
    return s->d == r.d && s->L == r.L && s->k == r.k && s->gap == r.gap && s->n == r.n &&
           s->n_test == r.n_test && s->steps == r.steps && s->clamp == r.clamp &&
           s->clip == r.clip;
}

const char *bfc_check_run_describe(const bfc_check_run_spec *s, char *buf, size_t cap)
{
    int w = snprintf(buf, cap, "d=%d L=%d k=%d g=%g n=%d steps=%d/stage", s->d, s->L, s->k,
                     s->gap, s->n, s->steps);
    if (w > 0 && (size_t)w < cap && (s->clamp > 0 || s->clip > 0))
        w += snprintf(buf + w, cap - (size_t)w, " clamp=%g clip=%g", s->clamp, s->clip);
    if (w > 0 && (size_t)w < cap && s->batch > 0)
        snprintf(buf + w, cap - (size_t)w, " batch=%d", s->batch);
    return buf;
}

/* ---- the cache: a growing array of (spec, result) ---- */
typedef struct {
    bfc_check_run_spec spec;
    bfc_check_run_result result;
} cached_run;

static cached_run *cache = NULL;
static size_t n_cache = 0, cap_cache = 0;

static int spec_equal(const bfc_check_run_spec *a, const bfc_check_run_spec *b)
{
    return a->d == b->d && a->L == b->L && a->k == b->k && a->gap == b->gap && a->n == b->n &&
           a->n_test == b->n_test && a->steps == b->steps && a->schedule == b->schedule &&
           a->depth == b->depth && a->clamp == b->clamp && a->clip == b->clip &&
           a->seed == b->seed && a->batch == b->batch && a->tie_off_last == b->tie_off_last;
}

static const bfc_check_run_result *cache_find(const bfc_check_run_spec *s)
{
    for (size_t i = 0; i < n_cache; i++)
        if (spec_equal(&cache[i].spec, s)) return &cache[i].result;
    return NULL;
}

/* v_l = Var(α_l ‖S*_l‖²) / Var(G*) on the data set D (n points), l = 2..L. */
static int shares_on(const bfc_target *t, const bfc_data *D, double *share)
{
    const bfc_target_config *c = bfc_target_config_of(t);
    double *S[BFC_MAX_L + 1] = {0};
    double *sq = bfc_alloc_d((size_t)D->n);
    int ok = sq != NULL;
    for (int l = 2; l <= c->L && ok; l++) ok = (S[l] = bfc_alloc_d((size_t)D->n * c->k[l])) != NULL;
    int st = ok ? bfc_target_eval(t, D->X, D->n, NULL, S)
                : bfc_fail(BFC_ENOMEM, "out of memory for the test-set shares");
    const double var_g = bfc_data_g_variance(D);
    for (int l = 2; l <= c->L && !st; l++) {
        double mean = 0.0, m2 = 0.0;
        for (int i = 0; i < D->n; i++) {
            double nrm2 = 0.0;
            const double *z = S[l] + (size_t)i * c->k[l];
            for (int a = 0; a < c->k[l]; a++) nrm2 += z[a] * z[a];
            sq[i] = c->alpha[l] * nrm2;
            mean += sq[i];
        }
        mean /= D->n;
        for (int i = 0; i < D->n; i++) m2 += (sq[i] - mean) * (sq[i] - mean);
        share[l] = m2 / (D->n - 1) / var_g; /* n − 1, as bfc_data_g_variance */
    }
    for (int l = 2; l <= BFC_MAX_L; l++) bfc_free(S[l]);
    bfc_free(sq);
    return st;
}

static int train_one(const bfc_check_run_spec *s, bfc_check_run_result *r)
{
    int st = BFC_OK;
    bfc_target *t = NULL;
    bfc_learner *lr = NULL;
    bfc_data train, test;
    memset(&train, 0, sizeof train);
    memset(&test, 0, sizeof test);
    memset(r, 0, sizeof *r);

    bfc_target_config tc;
    bfc_target_defaults(&tc);
    tc.d = s->d;
    tc.L = s->L;
    for (int l = 2; l <= s->L; l++) tc.k[l] = s->k;
    tc.gap = s->gap;
    tc.seed = s->seed;
    bfc_target_resolve(&tc);
    if ((st = bfc_target_validate(&tc))) return st;
    if (!(t = bfc_target_new(&tc, &st))) return st;
    if ((st = bfc_data_make(t, s->n, s->seed, BFC_STREAM_TRAIN, &train)) ||
        (st = bfc_data_make(t, s->n_test, s->seed, BFC_STREAM_TEST, &test)))
        goto out;

    bfc_learner_config lc;
    bfc_learner_defaults(&lc);
    lc.clamp = s->clamp;
    lc.seed = s->seed;
    bfc_train_config cfg;
    bfc_train_defaults(&cfg);
    cfg.schedule = s->schedule;
    cfg.depth = s->depth;
    cfg.steps = s->steps;
    cfg.opt.clip = s->clip;
    cfg.seed = s->seed;
    if (s->batch > 0) cfg.batch = s->batch;
    if (s->tie_off_last) cfg.lambda_tie_last = 0.0;
    cfg.eval_every = s->steps; /* evaluate at stage ends only: the checks need nothing else */
    if (!(lr = bfc_learner_new(bfc_target_config_of(t), &lc, cfg.batch, &st))) goto out;

    st = bfc_train(lr, t, &train, &test, &cfg, NULL, NULL, &r->res);
    if (st == BFC_OK || st == BFC_EDIVERGED) {
        r->status = st;
        r->test_error = r->res.test_error;
        for (int l = 2; l <= s->L; l++) r->share[l] = bfc_target_share(t, l);
        st = shares_on(t, &test, r->share_test);
    }
out:
    bfc_learner_free(lr);
    bfc_data_free(&train);
    bfc_data_free(&test);
    bfc_target_free(t);
    return st;
}

int bfc_check_run(const bfc_check_run_spec *s, const char *tag, const bfc_check_run_result **out)
{
    *out = cache_find(s);
    if (*out) return BFC_OK;
    if (n_cache == cap_cache) {
        size_t nc = cap_cache ? 2 * cap_cache : 32;
        cached_run *p = realloc(cache, nc * sizeof *p);
        if (!p) return bfc_fail(BFC_ENOMEM, "out of memory for the run cache");
        cache = p;
        cap_cache = nc;
    }
    cached_run *c = &cache[n_cache];
    c->spec = *s;
    char sched[32], desc[160];
    bfc_schedule_name(s->schedule, s->depth, sched, sizeof sched);
    bfc_check_busy("training %s %s seed %llu for %s", sched,
                   bfc_check_run_describe(s, desc, sizeof desc), (unsigned long long)s->seed, tag);
    int st = train_one(s, &c->result);
    bfc_check_busy(NULL);
    if (st) return st;
    n_cache++;
    bfc_check_progress("%-8s %-9s%s d=%d L=%d g=%g n=%d seed %llu: error %.3e%s (%.1f s)", tag,
                       sched, s->tie_off_last ? " (tie off in the last stage)" : "", s->d, s->L,
                       s->gap, s->n, (unsigned long long)s->seed, c->result.test_error,
                       c->result.status == BFC_EDIVERGED ? " DIVERGED" : "", c->result.res.wall_s);
    *out = &c->result;
    return BFC_OK;
}

double bfc_check_fe_after_stage(const bfc_check_run_result *r, int top, int l)
{
    for (int si = 0; si < r->res.n_stages; si++)
        if (r->res.stage_top[si] == top) return r->res.fe_end_of_stage[si][l];
    return NAN;
}

int bfc_check_main_configs(int size, bfc_check_run_spec specs[4], const char *names[4])
{
    int n = 0;
    bfc_check_run_defaults(&specs[n]);
    names[n++] = "L3";
    if (size == BFC_CHECK_FULL) {
        bfc_check_run_defaults(&specs[n]);
        specs[n].L = 4;
        specs[n].clamp = 6.0;
        specs[n].clip = 1.0;
        names[n++] = "L4";
    }
    return n;
}

/* ---- baselines on the same target and data ---- */

const char *bfc_check_method_name(int method)
{
    static const char *const names[BFC_CHECK_NMETHODS] = {
        "poly-4",     "poly-8", "rbf",  "ntk-relu-2", "ntk-quad-2",
        "ntk-quad-L", "nngp-relu-2", "entk", "seqkernel"};
    return method >= 0 && method < BFC_CHECK_NMETHODS ? names[method] : "?";
}

typedef struct {
    bfc_check_run_spec spec; /* only the target and data fields are compared */
    int method;
    bfc_check_base_result result;
} cached_base;

static cached_base *base_cache = NULL;
static size_t n_base = 0, cap_base = 0;

static int same_data(const bfc_check_run_spec *a, const bfc_check_run_spec *b)
{
    return a->d == b->d && a->L == b->L && a->k == b->k && a->gap == b->gap && a->n == b->n &&
           a->n_test == b->n_test && a->seed == b->seed;
}

/* The kernel of a KRR-type method for input dimension d and depth L. */
static void method_kernel(int method, int d, int L, bfc_kernel *k)
{
    bfc_kernel_defaults(k, d);
    switch (method) {
    case BFC_CHECK_POLY4: k->kind = BFC_KERNEL_POLY; k->degree = 4; break;
    case BFC_CHECK_POLY8: k->kind = BFC_KERNEL_POLY; k->degree = 8; break;
    case BFC_CHECK_RBF: k->kind = BFC_KERNEL_RBF; break;
    case BFC_CHECK_NTK_RELU:
    case BFC_CHECK_NTK_QUAD:
    case BFC_CHECK_NTK_QUAD_L:
        k->kind = BFC_KERNEL_NTK;
        k->net.activation = method == BFC_CHECK_NTK_RELU ? BFC_ACT_RELU : BFC_ACT_QUAD;
        k->net.depth = method == BFC_CHECK_NTK_QUAD_L ? L : 2;
        k->net.bias_var = 1.0;
        break;
    case BFC_CHECK_NNGP_RELU:
        k->kind = BFC_KERNEL_NNGP;
        k->net.activation = BFC_ACT_RELU;
        k->net.depth = 2;
        k->net.bias_var = 1.0;
        break;
    default: BFC_ASSERT(0);
    }
}

static int fit_baseline(const bfc_check_run_spec *s, int method, bfc_check_base_result *r)
{
    int st = BFC_OK;
    bfc_target *t = NULL;
    bfc_data train, test;
    memset(&train, 0, sizeof train);
    memset(&test, 0, sizeof test);
    memset(r, 0, sizeof *r);
    r->test_error = NAN;
    r->ridge_relative = NAN;
    const double t0 = bfc_wall_seconds();

    /* the target and data exactly as train_one draws them */
    bfc_target_config tc;
    bfc_target_defaults(&tc);
    tc.d = s->d;
    tc.L = s->L;
    for (int l = 2; l <= s->L; l++) tc.k[l] = s->k;
    tc.gap = s->gap;
    tc.seed = s->seed;
    bfc_target_resolve(&tc);
    if ((st = bfc_target_validate(&tc))) return st;
    if (!(t = bfc_target_new(&tc, &st))) return st;
    double *pred = NULL;
    if ((st = bfc_data_make(t, s->n, s->seed, BFC_STREAM_TRAIN, &train)) ||
        (st = bfc_data_make(t, s->n_test, s->seed, BFC_STREAM_TEST, &test)))
        goto out;
    if (!(pred = bfc_alloc_d((size_t)test.n))) {
        st = bfc_fail(BFC_ENOMEM, "out of memory for the predictions");
        goto out;
    }

    if (method == BFC_CHECK_ENTK) {
        bfc_learner_config lc;
        bfc_learner_defaults(&lc);
        lc.seed = s->seed;
        bfc_entk_ridge_config rc;
        bfc_entk_ridge_defaults(&rc);
        rc.seed = s->seed;
        bfc_entk_ridge_report rep;
        st = bfc_entk_regress(bfc_target_config_of(t), &lc, &rc, 1, &train, test.X, test.n, pred,
                              &rep);
        if (!st) r->ridge_relative = rep.ridge_relative;
    } else if (method == BFC_CHECK_SEQK) {
        bfc_seqk_config sc;
        bfc_seqk_defaults(&sc);
        sc.seed = s->seed;
        bfc_seqk_model *m = NULL;
        st = bfc_seqk_fit(&sc, t, &train, &m);
        if (!st) st = bfc_seqk_predict(m, test.X, test.n, pred);
        if (!st) r->ridge_relative = bfc_seqk_report_of(m)->ridge[s->L];
        bfc_seqk_free(m);
    } else {
        bfc_krr_config kc;
        bfc_krr_defaults(&kc, s->d);
        method_kernel(method, s->d, s->L, &kc.kernel);
        kc.seed = s->seed;
        bfc_krr *m = NULL;
        st = bfc_krr_fit(&kc, train.X, train.y, train.n, s->d, &m);
        if (!st) st = bfc_krr_predict(m, test.X, test.n, pred);
        if (!st) r->ridge_relative = bfc_krr_get_report(m)->ridge_relative;
        bfc_krr_free(m);
    }
    if (!st) r->test_error = bfc_relative_error(pred, test.g, test.n);
    /* refused (recorded, not an error): too large for memory, or for the sequential kernel
     * fewer fitting points than monomials */
    if (st == BFC_ENOMEM || (st == BFC_EINVAL && method == BFC_CHECK_SEQK)) {
        bfc_check_progress("%s refused at n=%d: %s", bfc_check_method_name(method), s->n,
                           bfc_last_error());
        r->status = st;
        st = BFC_OK;
    }
out:
    r->wall_s = bfc_wall_seconds() - t0;
    bfc_free(pred);
    bfc_data_free(&train);
    bfc_data_free(&test);
    bfc_target_free(t);
    return st;
}

int bfc_check_baseline(const bfc_check_run_spec *s, int method, const char *tag,
                       const bfc_check_base_result **out)
{
    BFC_ASSERT(method >= 0 && method < BFC_CHECK_NMETHODS);
    for (size_t i = 0; i < n_base; i++)
        if (base_cache[i].method == method && same_data(&base_cache[i].spec, s)) {
            *out = &base_cache[i].result;
            return BFC_OK;
        }
    if (n_base == cap_base) {
        size_t nc = cap_base ? 2 * cap_base : 64;
        cached_base *p = realloc(base_cache, nc * sizeof *p);
        if (!p) return bfc_fail(BFC_ENOMEM, "out of memory for the baseline cache");
        base_cache = p;
        cap_base = nc;
    }
    cached_base *c = &base_cache[n_base];
    c->spec = *s;
    c->method = method;
    bfc_check_busy("fitting %s d=%d L=%d n=%d seed %llu for %s", bfc_check_method_name(method), s->d,
                   s->L, s->n, (unsigned long long)s->seed, tag);
    int st = fit_baseline(s, method, &c->result);
    bfc_check_busy(NULL);
    if (st) return st;
    n_base++;
    bfc_check_progress("%-8s %-10s d=%d L=%d n=%d seed %llu: error %.3e (%.1f s)", tag,
                       bfc_check_method_name(method), s->d, s->L, s->n,
                       (unsigned long long)s->seed, c->result.test_error, c->result.wall_s);
    *out = &c->result;
    return BFC_OK;
}
