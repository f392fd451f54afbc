/* cli.c: option parsing, the shared target/data flags, signals and notes for bfc commands. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dirent.h>
#include <sched.h>
#include <unistd.h>

#include "rng.h"

/* ---- option parsing ------------------------------------------------------------------ */

static const bfc_opt *find_opt(const bfc_opt *const *tables, const char *name, size_t len)
{
    for (int t = 0; tables[t]; t++)
        for (const bfc_opt *o = tables[t]; o->name; o++)
            if (strlen(o->name) == len && strncmp(o->name, name, len) == 0) return o;
    return NULL;
}

int bfc_opt_parse(int argc, char **argv, int first, const bfc_opt *const *tables, bfc_opt_fn fn,
                  void *ctx, int *help, const char **pos, int *npos)
{
    int maxpos = npos ? *npos : 0, np = 0;
    *help = 0;
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            *help = 1;
            continue;
        }
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
            if (np < maxpos) {
                pos[np++] = a;
                continue;
            }
            return bfc_fail(BFC_EINVAL, "unexpected argument '%s' (options start with --)", a);
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const bfc_opt *o = find_opt(tables, name, len);
        if (!o) return bfc_fail(BFC_EINVAL, "unknown option '--%.*s'", (int)len, name);
        const char *val = NULL;
        if (o->has_arg) {
            /* "--out --quiet" is a forgotten value, not a directory named --quiet; a value
             * that starts with -- can still be given as --name=--value */
            if (eq) val = eq + 1;
            else if (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) val = argv[++i];
            else if (i + 1 < argc)
                return bfc_fail(BFC_EINVAL, "option '--%s' needs a value (%s) but is followed by "
                                            "'%s' (write --%s=%s if that is the value)",
                                o->name, o->arg, argv[i + 1], o->name, argv[i + 1]);
            else return bfc_fail(BFC_EINVAL, "option '--%s' needs a value (%s)", o->name, o->arg);
            if (!*val) return bfc_fail(BFC_EINVAL, "option '--%s' needs a value (%s), not an "
                                                   "empty one", o->name, o->arg);
        } else if (eq) {
            return bfc_fail(BFC_EINVAL, "option '--%s' takes no value", o->name);
        }
        int st = o->type == BFC_OPT_CALLBACK ? fn(ctx, o->name, val) : bfc_opt_store(o, ctx, val);
        if (st) return st;
    }
    if (npos) *npos = np;
    return BFC_OK;
}

int bfc_opt_store(const bfc_opt *o, void *dst, const char *val)
{
    char flag[80], *field = (char *)dst + o->offset;
    snprintf(flag, sizeof flag, "--%s", o->name);
    int st = BFC_OK;
    switch (o->type) {
    case BFC_OPT_FLAG: *(int *)(void *)field = 1; break;
    case BFC_OPT_INT:
        st = bfc_parse_int(flag, val, (long)o->lo, (long)o->hi, (int *)(void *)field);
        break;
    case BFC_OPT_LONG:
        st = bfc_parse_long(flag, val, (long)o->lo, (long)o->hi, (long *)(void *)field);
        break;
    case BFC_OPT_U64: st = bfc_parse_u64(flag, val, (uint64_t *)(void *)field); break;
    case BFC_OPT_DOUBLE:
        st = bfc_parse_double(flag, val, o->lo, o->hi, (double *)(void *)field);
        break;
    case BFC_OPT_STR:
        if (strlen(val) >= (size_t)o->hi)
            st = bfc_fail(BFC_EINVAL, "%s: '%.40s...' is longer than %.0f characters", flag, val,
                          o->hi - 1);
        else
            strcpy(field, val);
        break;
    default: BFC_ASSERT(!"bfc_opt_store: a callback option has no field");
    }
    if (!st && o->given) *(int *)(void *)((char *)dst + o->given - 1) = 1;
    return st;
}

void bfc_opt_print(FILE *f, const bfc_opt *const *tables)
{
    for (int t = 0; tables[t]; t++)
        for (const bfc_opt *o = tables[t]; o->name; o++) {
            char left[64];
            snprintf(left, sizeof left, "--%s%s%s", o->name, o->has_arg ? " " : "",
                     o->has_arg ? o->arg : "");
            fprintf(f, "  %-26s %s\n", left, o->help);
        }
}

int bfc_parse_long(const char *flag, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end); /* accepts 1e5 as well as 100000 */
    if (end == s || *end || errno || v != floor(v) || v < (double)lo || v > (double)hi)
        return bfc_fail(BFC_EINVAL, "%s must be an integer between %ld and %ld (got '%s')", flag,
                        lo, hi, s);
    *out = (long)v;
    return BFC_OK;
}

int bfc_parse_int(const char *flag, const char *s, long lo, long hi, int *out)
{
    long v = 0;
    int st = bfc_parse_long(flag, s, lo, hi, &v);
    if (!st) *out = (int)v;
    return st;
}

int bfc_parse_u64(const char *flag, const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    if (*s < '0' || *s > '9') /* strtoull would skip white space and negate a '-' */
        return bfc_fail(BFC_EINVAL, "%s must be a non-negative integer (got '%s')", flag, s);
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || errno)
        return bfc_fail(BFC_EINVAL, "%s must be a non-negative integer below 2^64 (got '%s')",
                        flag, s);
    *out = (uint64_t)v;
    return BFC_OK;
}

int bfc_parse_double(const char *flag, const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v) || v < lo || v > hi)
        return bfc_fail(BFC_EINVAL, "%s must be a number between %g and %g (got '%s')", flag, lo,
                        hi, s);
    *out = v;
    return BFC_OK;
}

/* Split a comma-separated list and convert each item with parse(flag, item, i); *n receives
 * the count. */
static int parse_list(const char *flag, const char *s, int n_max, int *n,
                      int (*parse)(const char *flag, const char *item, int i, void *ctx),
                      void *ctx)
{
    char buf[1024], *save = NULL;
    if (strlen(s) >= sizeof buf) return bfc_fail(BFC_EINVAL, "%s: list too long", flag);
    strcpy(buf, s);
    *n = 0;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (*n >= n_max)
            return bfc_fail(BFC_EINVAL, "%s: at most %d values (got '%s')", flag, n_max, s);
        int st = parse(flag, tok, *n, ctx);
        if (st) return st;
        (*n)++;
    }
    if (*n == 0) return bfc_fail(BFC_EINVAL, "%s: empty list", flag);
    return BFC_OK;
}

typedef struct {
    double dlo, dhi;
    long ilo, ihi;
    double *d;
    int *i;
} list_ctx;

static int parse_double_item(const char *flag, const char *item, int i, void *ctx)
{
    list_ctx *c = ctx;
    return bfc_parse_double(flag, item, c->dlo, c->dhi, &c->d[i]);
}

static int parse_int_item(const char *flag, const char *item, int i, void *ctx)
{
    list_ctx *c = ctx;
    return bfc_parse_int(flag, item, c->ilo, c->ihi, &c->i[i]);
}

int bfc_parse_double_list(const char *flag, const char *s, double lo, double hi, double *out,
                          int n_max, int *n)
{
    list_ctx c = {.dlo = lo, .dhi = hi, .d = out};
    return parse_list(flag, s, n_max, n, parse_double_item, &c);
}

int bfc_parse_int_list(const char *flag, const char *s, long lo, long hi, int *out, int n_max,
                       int *n)
{
    list_ctx c = {.ilo = lo, .ihi = hi, .i = out};
    return parse_list(flag, s, n_max, n, parse_int_item, &c);
}

/* ---- the problem --------------------------------------------------------------------- */

#define P bfc_problem
const bfc_opt bfc_problem_opts[] = {
    {"d", 1, "D", "input dimension (default 20)", BFC_OPT_I(P, target.d, 1, 100000),
     BFC_OPT_GIVEN(P, d_set)},
    {"L", 1, "L", "depth: layers 2..L (default 3; 2..8)", BFC_OPT_I(P, target.L, 2, BFC_MAX_L),
     BFC_OPT_GIVEN(P, L_set)},
    {"k", 1, "K[,K..]", "layer widths k_l: one value for all, or one per layer 2..L (default 3)",
     BFC_OPT_CB},
    {"J", 1, "l:j,j..", "connection set J_l, e.g. 3:2,0 (repeatable; must contain l-1; "
                        "default J_2={0,1}, J_l={l-1,0})", BFC_OPT_CB},
    {"gap", 1, "G", "information gap g: alpha_l = g^(l-2) (default 0.1)",
     BFC_OPT_D(P, target.gap, 1e-12, 1.0)},
    {"alpha", 1, "A,A..", "explicit output weights alpha_2..alpha_L (overrides --gap)", BFC_OPT_CB},
    {"noise", 1, "TAU", "label noise standard deviation (default 0)",
     BFC_OPT_D(P, target.noise, 0, 1e6)},
    {"input", 1, "KIND", "gaussian (default) or sphere (radius sqrt(d))", BFC_OPT_CB},
    {"weights", 1, "KIND", "target weights: gaussian (default) or orthonormal rows", BFC_OPT_CB},
    {"task", 1, "KIND", "regression (default) or classification (sign of G* - median)", BFC_OPT_CB},
    {"n-ref", 1, "N", "reference sample for standardisation and shares (default 100000)",
     BFC_OPT_L(P, target.n_ref, 1000, 100000000L)},
    {"n", 1, "N", "training set size (default 20000)", BFC_OPT_I(P, n, 1, 100000000),
     BFC_OPT_GIVEN(P, n_set)},
    {"n-test", 1, "N", "test set size (default 10000)", BFC_OPT_I(P, n_test, 10, 100000000)},
    {"seed", 1, "S", "seed of the run: data, initialisation, minibatches (default 0)",
     BFC_OPT_U(P, seed)},
    {"target-seed", 1, "S", "seed of the target (default: --seed)", BFC_OPT_U(P, target_seed),
     BFC_OPT_GIVEN(P, target_seed_set)},
    {"data", 1, "DIR", "load target and data sets written by 'bfc gen' instead of drawing them",
     BFC_OPT_S(P, data_dir)},
    {"out", 1, "DIR", "output directory (created if needed)", BFC_OPT_S(P, out_dir)},
    {"json", 0, "", "print one JSON summary object on stdout at the end", BFC_OPT_F(P, json)},
    {"force", 0, "", "replace the results of an earlier run in --out (default: refuse)",
     BFC_OPT_F(P, force)},
    {"quiet", 0, "", "no progress on stderr", BFC_OPT_F(P, quiet)},
    {"threads", 1, "N", "BLAS threads, at most the CPUs this process may use (default: 1 for\n"
                        "                             train and gen, OpenBLAS's own for fit)",
     BFC_OPT_CB},
    BFC_OPT_END};
#undef P

void bfc_problem_defaults(bfc_problem *p)
{
    memset(p, 0, sizeof *p);
    bfc_target_defaults(&p->target);
    p->n = 20000;
    p->n_test = 10000;
    p->threads = 0; /* 0: the command's default */
}

/* --threads: more BLAS threads than CPUs only slow a run down (and OpenBLAS would quietly
 * cap 1000 at its own maximum), so the bound is the CPUs this process may run on. */
static int parse_threads(const char *val, int *threads)
{
    cpu_set_t set;
    long ncpu = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set)
                                                            : sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu < 1) ncpu = 1;
    int st = bfc_parse_int("--threads", val, 1, 1 << 20, threads);
    if (!st && *threads > ncpu)
        st = bfc_fail(BFC_EINVAL, "--threads %d exceeds the %ld CPUs this process may use",
                      *threads, ncpu);
    return st;
}

int bfc_problem_option(bfc_problem *p, const char *name, const char *val)
{
    const bfc_opt *const tables[] = {bfc_problem_opts, NULL};
    const bfc_opt *o = find_opt(tables, name, strlen(name));
    if (!o) return 0;
    if (o->type != BFC_OPT_CALLBACK) {
        int st = bfc_opt_store(o, p, val);
        return st ? -st : 1;
    }
    bfc_target_config *c = &p->target;
    int st = BFC_OK;
    if (!strcmp(name, "k"))
        st = bfc_parse_int_list("--k", val, 1, BFC_MAX_K, p->k_list, BFC_MAX_L - 1, &p->n_k);
    else if (!strcmp(name, "J")) {
        int l;
        const char *colon = strchr(val, ':');
        char lbuf[16];
        if (!colon || colon - val >= (long)sizeof lbuf)
            return -bfc_fail(BFC_EINVAL, "--J must look like 'l:j,j,..' e.g. 3:2,0 (got '%s')", val);
        memcpy(lbuf, val, (size_t)(colon - val));
        lbuf[colon - val] = '\0';
        if ((st = bfc_parse_int("--J (layer)", lbuf, 2, BFC_MAX_L, &l))) return -st;
        int js[BFC_MAX_L], nj = 0;
        if ((st = bfc_parse_int_list("--J (sources)", colon + 1, 0, l - 1, js, BFC_MAX_L, &nj)))
            return -st;
        c->J[l] = 0;
        for (int i = 0; i < nj; i++) c->J[l] |= 1u << js[i];
        if (!(c->J[l] & (1u << (l - 1))))
            return -bfc_fail(BFC_EINVAL, "--J: J_%d must contain %d (the layer below)", l, l - 1);
    } else if (!strcmp(name, "alpha"))
        st = bfc_parse_double_list("--alpha", val, 1e-300, 1e300, p->alpha_list, BFC_MAX_L - 1,
                                   &p->n_alpha);
    else if (!strcmp(name, "input")) {
        if (!strcmp(val, "gaussian")) c->input = BFC_INPUT_GAUSSIAN;
        else if (!strcmp(val, "sphere")) c->input = BFC_INPUT_SPHERE;
        else st = bfc_fail(BFC_EINVAL, "--input must be gaussian or sphere (got '%s')", val);
    } else if (!strcmp(name, "weights")) {
        if (!strcmp(val, "gaussian")) c->weights = BFC_WEIGHTS_GAUSSIAN;
        else if (!strcmp(val, "orthonormal")) c->weights = BFC_WEIGHTS_ORTHONORMAL;
        else st = bfc_fail(BFC_EINVAL, "--weights must be gaussian or orthonormal (got '%s')", val);
    } else if (!strcmp(name, "task")) {
        if (!strcmp(val, "regression")) c->task = BFC_TASK_REGRESSION;
        else if (!strcmp(val, "classification")) c->task = BFC_TASK_CLASSIFICATION;
        else st = bfc_fail(BFC_EINVAL, "--task must be regression or classification (got '%s')", val);
    } else if (!strcmp(name, "threads"))
        st = parse_threads(val, &p->threads);
    else
        BFC_ASSERT(!"bfc_problem_option: an option of the table without its code");
    return st ? -st : 1;
}

int bfc_problem_finish(bfc_problem *p)
{
    bfc_target_config *c = &p->target;
    int nl = c->L - 1;
    if (p->n_k) {
        if (p->n_k != 1 && p->n_k != nl)
            return bfc_fail(BFC_EINVAL, "--k takes one width or %d (one per layer 2..%d); got %d",
                            nl, c->L, p->n_k);
        for (int l = 2; l <= c->L; l++) c->k[l] = p->k_list[p->n_k == 1 ? 0 : l - 2];
    }
    if (p->n_alpha) {
        if (p->n_alpha != nl)
            return bfc_fail(BFC_EINVAL, "--alpha needs %d values (alpha_2..alpha_%d); got %d", nl,
                            c->L, p->n_alpha);
        for (int l = 2; l <= c->L; l++) c->alpha[l] = p->alpha_list[l - 2];
        c->alpha_explicit = 1;
    }
    for (int l = c->L + 1; l <= BFC_MAX_L; l++)
        if (c->J[l]) return bfc_fail(BFC_EINVAL, "--J names layer %d but --L is %d", l, c->L);
    c->seed = p->target_seed_set ? p->target_seed : p->seed;
    bfc_target_resolve(c);
    return bfc_target_validate(c);
}

int bfc_problem_load(const bfc_problem *p, bfc_target **t, bfc_data *train, bfc_data *test)
{
    int st;
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    if (p->data_dir[0]) {
        *t = bfc_target_load(p->data_dir, &st);
        if (!*t) return st;
        const bfc_target_config *c = bfc_target_config_of(*t);
        int d = c->d;
        if (p->d_set && p->target.d != d)
            st = bfc_fail(BFC_EINVAL, "--data %s holds a target with d = %d but --d %d was given",
                          p->data_dir, d, p->target.d);
        else if (p->L_set && p->target.L != c->L)
            st = bfc_fail(BFC_EINVAL, "--data %s holds a target with L = %d but --L %d was given",
                          p->data_dir, c->L, p->target.L);
        if (st || (st = bfc_data_load(p->data_dir, "train", d, train)) ||
            (st = bfc_data_load(p->data_dir, "test", d, test))) {
            bfc_target_free(*t);
            bfc_data_free(train);
            *t = NULL;
            return st;
        }
        if (p->n_set) {
            if (p->n > train->n) {
                st = bfc_fail(BFC_EINVAL, "--n %d exceeds the %d training points in %s", p->n,
                              train->n, p->data_dir);
                bfc_target_free(*t);
                bfc_data_free(train);
                bfc_data_free(test);
                *t = NULL;
                return st;
            }
            train->n = p->n; /* the first n points: nested training sets */
        }
        return BFC_OK;
    }
    *t = bfc_target_new(&p->target, &st);
    if (!*t) return st;
    if ((st = bfc_data_make(*t, p->n, p->seed, BFC_STREAM_TRAIN, train)) ||
        (st = bfc_data_make(*t, p->n_test, p->seed, BFC_STREAM_TEST, test))) {
        bfc_target_free(*t);
        bfc_data_free(train);
        *t = NULL;
        return st;
    }
    return BFC_OK;
}

/* ---- output directories -------------------------------------------------------------- */

int bfc_is_temporary(const char *name)
{
    const char *t = strstr(name, ".tmp.");
    return t && t[5] && strspn(t + 5, "0123456789") == strlen(t + 5);
}

static int is_result_file(const char *name)
{
    return !strcmp(name, "result.json") || !strcmp(name, "result.csv");
}

static int is_run_result(const char *name)
{
    return is_result_file(name) || !strcmp(name, "checkpoint.bin");
}

/* The results and the training curve, which alone (without a checkpoint) is the log of a run
 * killed before it could checkpoint: nothing to resume or keep. */
static int is_run_output(const char *name)
{
    return is_run_result(name) || !strcmp(name, "curve.csv");
}

static int is_checkpoint(const char *name) { return !strcmp(name, "checkpoint.bin"); }

int bfc_dir_list(const char *dir, int (*match)(const char *name), char *list, size_t cap)
{
    DIR *d = opendir(dir);
    int count = 0;
    size_t len = 0;
    if (cap) list[0] = '\0';
    if (!d) return 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (!match(e->d_name)) continue;
        int m = snprintf(list + len, cap - len, "%s%s", count ? ", " : "", e->d_name);
        if (m >= 0 && len + (size_t)m < cap)
            len += (size_t)m;
        else if (cap >= 4)
            strcpy(list + cap - 4, "...");
        count++;
    }
    closedir(d);
    return count;
}

int bfc_dir_remove(const char *dir, int (*match)(const char *name))
{
    DIR *d = opendir(dir);
    if (!d) return BFC_OK;
    char path[4096];
    int st = BFC_OK;
    for (struct dirent *e; (e = readdir(d)) && !st;) {
        if (!match(e->d_name)) continue;
        st = bfc_path_join(path, sizeof path, dir, e->d_name);
        if (!st && unlink(path) != 0 && errno != ENOENT)
            st = bfc_fail(BFC_EIO, "cannot remove %s: %s", path, strerror(errno));
    }
    closedir(d);
    return st;
}

int bfc_out_dir_check(const char *dir)
{
    int st = bfc_check_writable_dir(dir);
    if (st == BFC_EIO) { /* --out names a directory this run cannot use: choose another */
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", bfc_last_error());
        st = bfc_fail(BFC_EINVAL, "%s", msg);
    }
    return st;
}

int bfc_out_dir_take(const char *dir, const char *cmd, int force, int resume, int *lock_fd)
{
    char who[64], found[512];
    *lock_fd = -1;
    int st = bfc_out_dir_check(dir);
    snprintf(who, sizeof who, "bfc %s", cmd);
    if (!st) st = bfc_dir_lock(dir, who, 0, lock_fd);
    if (!st && !resume && bfc_dir_list(dir, is_run_result, found, sizeof found)) {
        if (force)
            st = bfc_dir_remove(dir, is_run_output);
        else if (bfc_dir_list(dir, is_checkpoint, NULL, 0))
            st = bfc_fail(BFC_EINVAL, "%s holds an interrupted run (%s): --resume continues it "
                                      "with the same flags, --force replaces it",
                          dir, found);
        else
            st = bfc_fail(BFC_EINVAL, "%s holds the results of another run (%s): give --force "
                                      "to replace them, or another --out",
                          dir, found);
    }
    /* a fresh run: a curve alone, if anything; a resumed one: the results it was interrupted
     * with, older than the checkpoint it continues and rewritten when it ends */
    if (!st) st = bfc_dir_remove(dir, resume ? is_result_file : is_run_output);
    /* temporaries of killed writers: theirs are gone, since we hold the lock */
    if (!st) st = bfc_dir_remove(dir, bfc_is_temporary);
    if (st) {
        bfc_dir_unlock(*lock_fd);
        *lock_fd = -1;
    }
    return st;
}

int bfc_exit_status(int st)
{
    switch (st) {
    case BFC_OK: return 0;
    case BFC_EINVAL:
    case BFC_ENOMEM: return 2;
    case BFC_EDIVERGED: return 3;
    case BFC_EINTR: return 130;
    default: return 1;
    }
}

/* ---- results ------------------------------------------------------------------------- */

int bfc_result_csv_open(bfc_result_csv *w, const char *path, const char *method,
                        const bfc_target_config *c, int n, uint64_t seed)
{
    *w = (bfc_result_csv){bfc_afile_open(path), NULL, method, c->d, c->L, n, seed};
    if (!w->af) return BFC_EIO;
    w->f = bfc_afile_fp(w->af);
    fprintf(w->f, "method,d,L,n,seed,metric,value\n");
    return BFC_OK;
}

void bfc_result_csv_row(bfc_result_csv *w, const char *metric, double value)
{
    fprintf(w->f, "%s,%d,%d,%d,%llu,%s,%.10g\n", w->method, w->d, w->L, w->n,
            (unsigned long long)w->seed, metric, value);
}

void bfc_result_csv_status(bfc_result_csv *w, const char *status)
{
    fprintf(w->f, "%s,%d,%d,%d,%llu,status,%s\n", w->method, w->d, w->L, w->n,
            (unsigned long long)w->seed, status);
}

int bfc_result_csv_commit(bfc_result_csv *w)
{
    int st = bfc_afile_commit(w->af);
    w->af = NULL;
    return st;
}

/* ---- signals ------------------------------------------------------------------------- */

static volatile sig_atomic_t signal_count = 0;
static sig_atomic_t signal_fatal_after = 1;

static void on_signal(int sig)
{
    if (signal_count >= signal_fatal_after) {
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    signal_count++;
}

volatile sig_atomic_t *bfc_install_signal_counter(int fatal_after)
{
    signal_fatal_after = fatal_after;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    return &signal_count;
}

volatile sig_atomic_t *bfc_install_stop_handler(void) { return bfc_install_signal_counter(1); }

void bfc_note(int quiet, const char *fmt, ...)
{
    if (quiet) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}
