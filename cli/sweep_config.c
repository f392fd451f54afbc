/* sweep_config.c: a sweep's configuration (bench/configs/README.md): its schema and
 * validation, the "quick" block (read with the rest, applied on request) and the overrides
 * of the command line. The first stage: the cells are built from what is resolved here. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bfc.h"
#include "cli.h"
#include "fsutil.h"
#include "sweep_internal.h"
#include "train.h"

static const char *const target_keys[] = {
    "name",  "group", "n",     "methods", "args", "d",     "L",      "k",           "J", "gap",
    "alpha", "noise", "input", "weights", "task", "n_ref", "n_test", "target_seed", NULL};

static int parse_target(ctx *c, const bfc_json *o, target *t)
{
    if (want_type(c, o, BFC_JSON_OBJECT)) return BFC_EINVAL;
    int st = get_string(c, o, "name", &t->name, 1);
    if (!st && !(st = check_name(c, t->name)))
        ctx_push(c, " (%s)", t->name); /* messages say "targets[1] (L4).gap: ..." */
    if (!st) st = check_keys(c, o, target_keys);
    if (!st) st = get_string(c, o, "group", &t->group, 0);
    if (!st && t->group) st = check_name(c, t->group);
    if (!st && !t->group && !(t->group = sw_strdup(t->name))) st = BFC_ENOMEM;
    const bfc_json *v;
    if (!st && (v = bfc_json_get(o, "n"))) {
        size_t len = ctx_push(c, ".n");
        st = get_grid(c, v, &t->grid, &t->ngrid);
        ctx_pop(c, len);
    }
    if (!st && (v = bfc_json_get(o, "methods"))) {
        size_t len = ctx_push(c, ".methods");
        st = get_names(c, v, &t->methods);
        t->has_methods = 1;
        ctx_pop(c, len);
    }
    if (!st && (v = bfc_json_get(o, "args"))) {
        size_t len = ctx_push(c, ".args");
        st = cmdargs_from_object(c, v, &t->args);
        ctx_pop(c, len);
    }
    /* the problem flags, checked by the same code as `bfc train --d ...` */
    bfc_problem p;
    bfc_problem_defaults(&p);
    for (size_t i = 0; !st && i < bfc_json_len(o); i++) {
        const char *key = bfc_json_key_at(o, i);
        if (!strcmp(key, "name") || !strcmp(key, "group") || !strcmp(key, "n") ||
            !strcmp(key, "methods") || !strcmp(key, "args"))
            continue;
        size_t len = ctx_push(c, ".%s", key);
        char name[64];
        st = flag_name(c, key, name, sizeof name);
        flagv one = {0};
        if (!st) st = flag_from_json(c, &one, name, bfc_json_at(o, i));
        for (int j = 0; !st && j < one.n; j++) {
            if (one.v[j].kind != FLAG_VALUE) {
                st = cfail(c, "a target field needs a value");
                break;
            }
            int r = bfc_problem_option(&p, name, one.v[j].value);
            if (r < 0) st = cfail(c, "%s", bfc_last_error());
        }
        if (!st) st = flags_merge(&t->problem, &one);
        if (!st && !strcmp(name, "target-seed")) t->target_seed_fixed = 1;
        flags_free(&one);
        ctx_pop(c, len);
    }
    if (!st && bfc_problem_finish(&p)) st = cfail(c, "%s", bfc_last_error());
    if (!st) t->tc = p.target;
    return st;
}

static const char *const method_keys[] = {"name",  "command", "args",    "role",
                                          "n_min", "n_max",   "targets", NULL};
static const char *const roles[] = {"e2e",  "layerwise", "depth",    "joint", "kernel", "ntk",
                                    "nngp", "seqkernel", "baseline", "other", NULL};

static int parse_method(ctx *c, const bfc_json *o, method *m)
{
    if (want_type(c, o, BFC_JSON_OBJECT)) return BFC_EINVAL;
    int st = get_string(c, o, "name", &m->name, 1);
    if (!st && (st = check_name(c, m->name))) return st;
    if (!st) ctx_push(c, " (%s)", m->name);
    if (!st) st = check_keys(c, o, method_keys);
    if (!st) st = get_string(c, o, "command", &m->command, 1);
    if (!st) {
        size_t len = ctx_push(c, ".command");
        st = check_name(c, m->command);
        if (!st && !sweep_command_known(m->command))
            st = cfail(c, "'%s' cannot be a cell's command (train or fit)", m->command);
        ctx_pop(c, len);
    }
    const bfc_json *v;
    if (!st && (v = bfc_json_get(o, "args"))) {
        size_t len = ctx_push(c, ".args");
        st = flags_from_object(c, v, &m->args);
        ctx_pop(c, len);
    }
    for (int w = 0; w < 2; w++) {
        const char *key = w ? "n_max" : "n_min";
        if (!st && (v = bfc_json_get(o, key))) {
            size_t len = ctx_push(c, ".%s", key);
            double x = 0;
            st = get_number(c, v, 1, 1e8, 1, &x);
            if (w)
                m->n_max = (int)x;
            else
                m->n_min = (int)x;
            if (!st && m->n_max && m->n_max < m->n_min) st = cfail(c, "n_max is below n_min");
            ctx_pop(c, len);
        }
    }
    if (!st && (v = bfc_json_get(o, "targets"))) {
        size_t len = ctx_push(c, ".targets");
        st = get_names(c, v, &m->targets);
        m->has_targets = 1;
        ctx_pop(c, len);
    }
    /* the schedule of a train method, for the depth figure and the role */
    m->schedule = m->depth = -1;
    if (!st && !strcmp(m->command, "train")) {
        const char *sch = flags_get(&m->args, "schedule");
        m->schedule = BFC_SCHED_E2E;
        m->depth = 0;
        if (sch && bfc_schedule_parse(sch, &m->schedule, &m->depth)) {
            size_t len = ctx_push(c, ".args.schedule");
            st = cfail(c, "%s", bfc_last_error());
            ctx_pop(c, len);
        }
    }
    if (!st) st = get_string(c, o, "role", &m->role, 0);
    if (!st && m->role) {
        int ok = 0;
        for (int i = 0; roles[i]; i++)
            if (!strcmp(m->role, roles[i])) ok = 1;
        if (!ok) {
            size_t len = ctx_push(c, ".role");
            st = cfail(c,
                       "unknown role '%s' (e2e, layerwise, depth, joint, kernel, ntk, nngp, "
                       "seqkernel, baseline, other)",
                       m->role);
            ctx_pop(c, len);
        }
    }
    if (!st && !m->role) { /* inferred from the command and its flags */
        const char *r = "other";
        if (!strcmp(m->command, "train")) {
            /* refit and featonly (the mechanism ablation) are judged by C10 in the checks,
             * not by the sweep's claims: role other */
            r = m->schedule == BFC_SCHED_E2E         ? "e2e"
                : m->schedule == BFC_SCHED_LAYERWISE ? "layerwise"
                : m->schedule == BFC_SCHED_DEPTH     ? "depth"
                : m->schedule == BFC_SCHED_JOINT     ? "joint"
                                                     : "other";
        } else if (!strcmp(m->command, "fit")) {
            const char *fm = flags_get(&m->args, "method");
            r = !fm || !strcmp(fm, "krr")                   ? "kernel"
                : !strcmp(fm, "ntk") || !strcmp(fm, "entk") ? "ntk"
                : !strcmp(fm, "nngp")                       ? "nngp"
                : !strcmp(fm, "seqkernel")                  ? "seqkernel"
                                                            : "baseline";
        }
        if (!(m->role = sw_strdup(r))) st = BFC_ENOMEM;
    }
    return st;
}

static const char *const top_keys[] = {"name",      "description", "targets", "methods",
                                       "n",         "seeds",       "eps",     "eps_vs_d",
                                       "timeout_s", "args",        "quick",   NULL};
static const char *const quick_keys[] = {"n",    "seeds",     "targets", "methods",
                                         "args", "timeout_s", NULL};

/* The list of names given to quick.targets / quick.methods must name targets / methods. */
static int check_known(ctx *c, const bfc_sweep *s, const strv *names, int methods)
{
    for (int i = 0; i < names->n; i++) {
        int ok = 0;
        if (methods)
            for (int k = 0; k < s->nm; k++) ok |= !strcmp(s->m[k].name, names->v[i]);
        else
            for (int k = 0; k < s->nt; k++) ok |= !strcmp(s->t[k].name, names->v[i]);
        if (!ok) return cfail(c, "no %s is named '%s'", methods ? "method" : "target", names->v[i]);
    }
    return BFC_OK;
}

/* The quick block into s->qb, checked against the targets and methods. */
static int parse_quick(ctx *c, const bfc_json *v, bfc_sweep *s)
{
    quickblock *qb = &s->qb;
    int st = want_type(c, v, BFC_JSON_OBJECT);
    if (!st) st = check_keys(c, v, quick_keys);
    const bfc_json *q;
    if (!st && (q = bfc_json_get(v, "n"))) {
        size_t l2 = ctx_push(c, ".n");
        st = get_grid(c, q, &qb->grid, &qb->ngrid);
        ctx_pop(c, l2);
    }
    if (!st && (q = bfc_json_get(v, "seeds"))) {
        size_t l2 = ctx_push(c, ".seeds");
        st = get_seeds(c, q, &qb->seeds, &qb->nseeds);
        ctx_pop(c, l2);
    }
    for (int w = 0; w < 2; w++) {
        const char *key = w ? "methods" : "targets";
        strv *names = w ? &qb->only_m : &qb->only_t;
        if (!st && (q = bfc_json_get(v, key))) {
            size_t l2 = ctx_push(c, ".%s", key);
            st = get_names(c, q, names);
            if (!st) st = check_known(c, s, names, w);
            *(w ? &qb->has_only_m : &qb->has_only_t) = 1;
            ctx_pop(c, l2);
        }
    }
    if (!st && (q = bfc_json_get(v, "args"))) {
        size_t l2 = ctx_push(c, ".args");
        st = cmdargs_from_object(c, q, &qb->args);
        ctx_pop(c, l2);
    }
    if (!st && (q = bfc_json_get(v, "timeout_s"))) {
        size_t l2 = ctx_push(c, ".timeout_s");
        st = get_number(c, q, 0, 1e9, 0, &qb->timeout_s);
        qb->has_timeout = 1;
        ctx_pop(c, l2);
    }
    if (!st) qb->present = 1;
    return st;
}

/* A list of targets or methods, each checked by parse_one and named once. */
static int parse_list(ctx *c, const bfc_json *r, const char *key, int methods, bfc_sweep *s)
{
    size_t len = ctx_push(c, "%s", key);
    const bfc_json *v = bfc_json_get(r, key);
    int st = BFC_OK;
    if (!v)
        st = cfail(c, "missing (a list of %s)", key);
    else if (!(st = want_type(c, v, BFC_JSON_ARRAY)) && bfc_json_len(v) == 0)
        st = cfail(c, "empty list");
    if (!st) {
        int n = (int)bfc_json_len(v);
        size_t size = methods ? sizeof(method) : sizeof(target);
        void *a = sw_realloc(NULL, size * (size_t)n);
        if (!a) st = BFC_ENOMEM;
        else {
            memset(a, 0, size * (size_t)n);
            if (methods)
                s->m = a, s->nm = n;
            else
                s->t = a, s->nt = n;
        }
        for (int i = 0; !st && i < n; i++) {
            size_t l2 = ctx_push(c, "[%d]", i);
            if (methods) {
                st = parse_method(c, bfc_json_at(v, (size_t)i), &s->m[i]);
                for (int j = 0; !st && j < i; j++)
                    if (!strcmp(s->m[j].name, s->m[i].name))
                        st = cfail(c, "the name is used twice");
            } else {
                st = parse_target(c, bfc_json_at(v, (size_t)i), &s->t[i]);
                for (int j = 0; !st && j < i; j++)
                    if (!strcmp(s->t[j].name, s->t[i].name))
                        st = cfail(c, "the name is used twice");
            }
            ctx_pop(c, l2);
        }
    }
    ctx_pop(c, len);
    return st;
}

static int parse_top(ctx *c, const bfc_json *r, bfc_sweep *s)
{
    const bfc_json *v;
    if (want_type(c, r, BFC_JSON_OBJECT)) return BFC_EINVAL;
    int st = check_keys(c, r, top_keys);
    if (!st) st = get_string(c, r, "name", &s->name, 0);
    if (!st && s->name) st = check_name(c, s->name);
    if (!st) st = get_string(c, r, "description", &s->description, 0);
    if (!st && (v = bfc_json_get(r, "n"))) {
        size_t len = ctx_push(c, "n");
        st = get_grid(c, v, &s->grid, &s->ngrid);
        ctx_pop(c, len);
    }
    if (!st) {
        size_t len = ctx_push(c, "seeds");
        if (!(v = bfc_json_get(r, "seeds")))
            st = cfail(c, "missing (a list such as [0, 1, 2])");
        else
            st = get_seeds(c, v, &s->seeds, &s->nseeds);
        ctx_pop(c, len);
    }
    if (!st && (v = bfc_json_get(r, "eps"))) {
        size_t len = ctx_push(c, "eps");
        st = get_eps(c, v, &s->eps, &s->neps);
        ctx_pop(c, len);
    }
    if (!st && (v = bfc_json_get(r, "eps_vs_d"))) {
        size_t len = ctx_push(c, "eps_vs_d");
        st = get_number(c, v, 1e-300, 1e300, 0, &s->eps_vs_d);
        ctx_pop(c, len);
    }
    if (!st && (v = bfc_json_get(r, "timeout_s"))) {
        size_t len = ctx_push(c, "timeout_s");
        st = get_number(c, v, 0, 1e9, 0, &s->timeout_s);
        ctx_pop(c, len);
    }
    if (!st && (v = bfc_json_get(r, "args"))) {
        size_t len = ctx_push(c, "args");
        st = cmdargs_from_object(c, v, &s->args);
        ctx_pop(c, len);
    }
    if (!st) st = parse_list(c, r, "targets", 0, s);
    if (!st) st = parse_list(c, r, "methods", 1, s);
    /* names referred to must exist */
    for (int i = 0; !st && i < s->nt; i++) {
        size_t len = ctx_push(c, "targets[%d] (%s).methods", i, s->t[i].name);
        st = check_known(c, s, &s->t[i].methods, 1);
        ctx_pop(c, len);
    }
    for (int i = 0; !st && i < s->nm; i++) {
        size_t len = ctx_push(c, "methods[%d] (%s).targets", i, s->m[i].name);
        st = check_known(c, s, &s->m[i].targets, 0);
        ctx_pop(c, len);
    }
    for (int i = 0; !st && !s->grid && i < s->nt; i++)
        if (!s->t[i].grid) {
            size_t len = ctx_push(c, "targets[%d] (%s)", i, s->t[i].name);
            st = cfail(c, "no n grid: give \"n\" at the top level or in the target");
            ctx_pop(c, len);
        }
    if (!st && (v = bfc_json_get(r, "quick"))) {
        size_t len = ctx_push(c, "quick");
        st = parse_quick(c, v, s);
        ctx_pop(c, len);
    }
    if (!st && !s->eps) {
        static const double def[] = {1e-1, 3e-2, 1e-2};
        if (!(s->eps = sw_realloc(NULL, sizeof def))) return BFC_ENOMEM;
        s->neps = 3;
        memcpy(s->eps, def, sizeof def);
    }
    if (!st && s->eps_vs_d <= 0) s->eps_vs_d = s->eps[0];
    return st;
}

void bfc_sweep_free(bfc_sweep *s)
{
    if (!s) return;
    free_cells(s);
    for (int i = 0; i < s->nt; i++) {
        target *t = &s->t[i];
        free(t->name);
        free(t->group);
        flags_free(&t->problem);
        cmdargs_free(&t->args);
        free(t->grid);
        strv_free(&t->methods);
    }
    for (int i = 0; i < s->nm; i++) {
        method *m = &s->m[i];
        free(m->name);
        free(m->command);
        free(m->role);
        flags_free(&m->args);
        strv_free(&m->targets);
    }
    free(s->t);
    free(s->m);
    free(s->grid);
    free(s->seeds);
    free(s->eps);
    cmdargs_free(&s->args);
    cmdargs_free(&s->late_args);
    strv_free(&s->only_t);
    strv_free(&s->only_m);
    free(s->qb.grid);
    free(s->qb.seeds);
    strv_free(&s->qb.only_t);
    strv_free(&s->qb.only_m);
    cmdargs_free(&s->qb.args);
    free(s->what);
    free(s->name);
    free(s->description);
    free(s);
}

bfc_sweep *bfc_sweep_parse(const char *text, const char *what, int *status)
{
    char err[512];
    int st = BFC_OK;
    bfc_sweep *s = sw_realloc(NULL, sizeof *s);
    if (s) {
        memset(s, 0, sizeof *s);
        if (!(s->what = sw_strdup(what ? what : "configuration"))) st = BFC_ENOMEM;
    } else {
        st = BFC_ENOMEM;
    }
    bfc_json *root = NULL;
    if (!st && !(root = bfc_json_parse(text, err, sizeof err)))
        st = bfc_fail(BFC_EFORMAT, "%s:%s", s->what, err);
    if (!st) {
        ctx c = {s->what, ""};
        st = parse_top(&c, root, s);
    }
    bfc_json_free(root);
    if (st) {
        bfc_sweep_free(s);
        s = NULL;
    }
    if (status) *status = st;
    return s;
}

bfc_sweep *bfc_sweep_load(const char *path, int *status)
{
    char *text = bfc_read_file(path, NULL);
    if (!text) {
        if (status) *status = BFC_EIO;
        return NULL;
    }
    bfc_sweep *s = bfc_sweep_parse(text, path, status);
    free(text);
    if (s && !s->name) { /* the file's base name without extension */
        const char *b = strrchr(path, '/');
        b = b ? b + 1 : path;
        char buf[NAME_MAX_LEN + 1];
        snprintf(buf, sizeof buf, "%s", b);
        char *dot = strrchr(buf, '.');
        if (dot && dot != buf) *dot = '\0';
        for (char *p = buf; *p; p++)
            if (!strchr("._=+:-", *p) &&
                !((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
                *p = '_';
        if (!(s->name = sw_strdup(buf[0] ? buf : "sweep"))) {
            bfc_sweep_free(s);
            s = NULL;
            if (status) *status = BFC_ENOMEM;
        }
    }
    return s;
}

const char *bfc_sweep_name(const bfc_sweep *s) { return s->name ? s->name : "sweep"; }

const int *sweep_grid(const bfc_sweep *s, int ti, int *ng)
{
    const target *t = &s->t[ti];
    *ng = t->grid ? t->ngrid : s->ngrid;
    return t->grid ? t->grid : s->grid;
}

int sweep_allowed(const strv *only, int has, const char *name)
{
    return !has || strv_find(only, name) >= 0;
}

/* ---- the quick block and overrides --------------------------------------------------- */

/* Every target's grid becomes g. */
static int set_grid_all(bfc_sweep *s, const int *g, int ng)
{
    int *copy = sw_realloc(NULL, sizeof(int) * (size_t)ng);
    if (!copy) return BFC_ENOMEM;
    memcpy(copy, g, sizeof(int) * (size_t)ng);
    free(s->grid);
    s->grid = copy;
    s->ngrid = ng;
    for (int i = 0; i < s->nt; i++) {
        free(s->t[i].grid);
        s->t[i].grid = NULL;
        s->t[i].ngrid = 0;
    }
    return BFC_OK;
}

static int set_seeds(bfc_sweep *s, const long long *sd, int n)
{
    long long *copy = sw_realloc(NULL, sizeof(long long) * (size_t)n);
    if (!copy) return BFC_ENOMEM;
    memcpy(copy, sd, sizeof(long long) * (size_t)n);
    free(s->seeds);
    s->seeds = copy;
    s->nseeds = n;
    return BFC_OK;
}

int bfc_sweep_quick(bfc_sweep *s)
{
    const quickblock *qb = &s->qb;
    if (!qb->present) return bfc_fail(BFC_EINVAL, "%s has no \"quick\" block", s->what);
    int st = BFC_OK;
    if (qb->grid) st = set_grid_all(s, qb->grid, qb->ngrid);
    if (!st && qb->seeds) st = set_seeds(s, qb->seeds, qb->nseeds);
    if (!st && qb->has_only_t) {
        st = strv_copy(&s->only_t, &qb->only_t);
        s->has_only_t = 1;
    }
    if (!st && qb->has_only_m) {
        st = strv_copy(&s->only_m, &qb->only_m);
        s->has_only_m = 1;
    }
    if (!st) st = cmdargs_append(&s->late_args, &qb->args);
    if (!st && qb->has_timeout) s->timeout_s = qb->timeout_s;
    if (!st) s->quick = 1;
    return st;
}

static int split_names(const char *field, const char *value, strv *out)
{
    char buf[1024], *save = NULL;
    if (strlen(value) >= sizeof buf) return bfc_fail(BFC_EINVAL, "--%s: list too long", field);
    strcpy(buf, value);
    strv_free(out);
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
        if (strv_push(out, tok)) return BFC_ENOMEM;
    if (!out->n) return bfc_fail(BFC_EINVAL, "--%s: empty list", field);
    return BFC_OK;
}

/* --seeds S,S..: the same check as the configuration's seeds (seeds_from_values). */
static int override_seeds(bfc_sweep *s, const char *value)
{
    char buf[1024], *save = NULL;
    if (strlen(value) >= sizeof buf) return bfc_fail(BFC_EINVAL, "--seeds: list too long");
    strcpy(buf, value);
    double x[256];
    int n = 0;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        uint64_t u;
        if (n == 256) return bfc_fail(BFC_EINVAL, "--seeds: at most 256 seeds");
        int st = bfc_parse_u64("--seeds", tok, &u);
        if (st) return st;
        if (u > 9007199254740992ull) return bfc_fail(BFC_EINVAL, "--seeds: %s is above 2^53", tok);
        x[n++] = (double)u;
    }
    ctx c = {"--seeds", ""};
    return seeds_from_values(&c, x, n, 0, &s->seeds, &s->nseeds);
}

/* --arg CMD:FLAG=VALUE, CMD:FLAG (bare) or CMD:FLAG= (remove) */
static int override_arg(bfc_sweep *s, const char *value)
{
    const char *colon = strchr(value, ':');
    if (!colon || colon == value || !colon[1])
        return bfc_fail(BFC_EINVAL,
                        "--arg must look like CMD:FLAG=VALUE, e.g. train:steps=1000 (got '%s')",
                        value);
    char cmd[64], name[64];
    size_t lc = (size_t)(colon - value);
    const char *eq = strchr(colon + 1, '=');
    size_t ln = eq ? (size_t)(eq - colon - 1) : strlen(colon + 1);
    if (lc >= sizeof cmd || ln == 0 || ln >= sizeof name)
        return bfc_fail(BFC_EINVAL, "--arg: bad command or flag in '%s'", value);
    memcpy(cmd, value, lc);
    cmd[lc] = '\0';
    memcpy(name, colon + 1, ln);
    name[ln] = '\0';
    ctx c = {"--arg", ""};
    char fname[64];
    int st = check_name(&c, cmd);
    if (!st) st = flag_name(&c, name, fname, sizeof fname);
    if (!st && is_reserved(fname))
        st = bfc_fail(BFC_EINVAL, "--arg: --%s is set by the sweep (use --n / --seeds)", fname);
    if (st) return st;
    flagv one = {0};
    if (!eq)
        st = flags_add(&one, fname, NULL, FLAG_BARE);
    else if (!eq[1])
        st = flags_add(&one, fname, NULL, FLAG_DELETE);
    else
        st = flags_add(&one, fname, eq + 1, FLAG_VALUE);
    flagv *late = st ? NULL : cmdargs_for(&s->late_args, cmd);
    if (!st && !late) st = BFC_ENOMEM;
    if (!st) st = flags_merge(late, &one);
    /* keep deletion markers: they must act on the layers below when cells are built */
    if (!st && eq && !eq[1]) st = flags_add(late, fname, NULL, FLAG_DELETE);
    flags_free(&one);
    return st;
}

int bfc_sweep_override(bfc_sweep *s, const char *field, const char *value)
{
    if (!strcmp(field, "n")) {
        int g[256], ng;
        int st = bfc_parse_int_list("--n", value, 1, 100000000, g, 256, &ng);
        if (st) return st;
        for (int i = 1; i < ng; i++)
            if (g[i] <= g[i - 1])
                return bfc_fail(BFC_EINVAL, "--n: the grid must be strictly increasing (got '%s')",
                                value);
        return set_grid_all(s, g, ng);
    }
    if (!strcmp(field, "seeds")) return override_seeds(s, value);
    if (!strcmp(field, "targets") || !strcmp(field, "methods")) {
        int t = field[0] == 't';
        int st = split_names(field, value, t ? &s->only_t : &s->only_m);
        if (t)
            s->has_only_t = 1;
        else
            s->has_only_m = 1;
        return st;
    }
    if (!strcmp(field, "eps")) {
        double e[64];
        int ne;
        int st = bfc_parse_double_list("--eps", value, 1e-300, 1e300, e, 64, &ne);
        if (st) return st;
        double *copy = sw_realloc(NULL, sizeof(double) * (size_t)ne);
        if (!copy) return BFC_ENOMEM;
        memcpy(copy, e, sizeof(double) * (size_t)ne);
        free(s->eps);
        s->eps = copy;
        s->neps = ne;
        return BFC_OK;
    }
    if (!strcmp(field, "timeout"))
        return bfc_parse_double("--timeout", value, 0, 1e9, &s->timeout_s);
    if (!strcmp(field, "arg")) return override_arg(s, value);
    return bfc_fail(BFC_EINVAL, "unknown override '%s'", field);
}
