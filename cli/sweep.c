/* sweep.c: the sweep engine of `bfc sweep` (sweep.h): configuration parsing and validation,
 * cells and their cache keys, the parallel runner of child processes, and the aggregation of
 * results into CSV, n_ε / t_ε tables, figure tables and REPORT.md. */
#include "sweep.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bfc.h"
#include "blas.h"
#include "cli.h"
#include "fsutil.h"
#include "train.h"

extern char **environ;

#define KEY_PREFIX        "bfc-sweep-cell/1" /* bump to invalidate every cached cell */
#define NAME_MAX_LEN      48                 /* target and method names */
#define STDERR_TAIL_LINES 5                  /* last stderr lines kept for a failed cell */
#define KILL_GRACE_S      10.0               /* SIGTERM, then SIGKILL this much later */
#define POLL_NS           50000000L          /* runner loop period: 50 ms */
#define OUT_MAX           3000               /* longest output directory name */

/* ---- small containers ---------------------------------------------------------------- */

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        fprintf(stderr, "bfc sweep: out of memory (%zu bytes)\n", n);
        abort();
    }
    return q;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(xrealloc(NULL, n), s, n);
}

static char *xprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = xrealloc(NULL, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    if (n <= 0) return NAN;
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

typedef struct {
    char **v;
    int n, cap;
} strv;

static void strv_push(strv *a, const char *s)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? 2 * a->cap : 8;
        a->v = xrealloc(a->v, sizeof(char *) * (size_t)a->cap);
    }
    a->v[a->n++] = xstrdup(s);
}

static int strv_find(const strv *a, const char *s)
{
    for (int i = 0; i < a->n; i++)
        if (!strcmp(a->v[i], s)) return i;
    return -1;
}

static void strv_free(strv *a)
{
    for (int i = 0; i < a->n; i++) free(a->v[i]);
    free(a->v);
    memset(a, 0, sizeof *a);
}

/* Flags of a bfc command line: "--name value", "--name" (bare), or a deletion marker that
 * removes the flag when layers are merged (JSON null or false). */
enum { FLAG_VALUE = 0, FLAG_BARE, FLAG_DELETE };

typedef struct {
    char *name, *value; /* value NULL unless FLAG_VALUE */
    int kind;
} flag;

typedef struct {
    flag *v;
    int n, cap;
} flagv;

static void flags_add(flagv *f, const char *name, const char *value, int kind)
{
    if (f->n == f->cap) {
        f->cap = f->cap ? 2 * f->cap : 8;
        f->v = xrealloc(f->v, sizeof(flag) * (size_t)f->cap);
    }
    f->v[f->n].name = xstrdup(name);
    f->v[f->n].value = value ? xstrdup(value) : NULL;
    f->v[f->n].kind = kind;
    f->n++;
}

static void flags_del(flagv *f, const char *name)
{
    int j = 0;
    for (int i = 0; i < f->n; i++) {
        if (!strcmp(f->v[i].name, name)) {
            free(f->v[i].name);
            free(f->v[i].value);
        } else {
            f->v[j++] = f->v[i];
        }
    }
    f->n = j;
}

static void flags_free(flagv *f)
{
    for (int i = 0; i < f->n; i++) {
        free(f->v[i].name);
        free(f->v[i].value);
    }
    free(f->v);
    memset(f, 0, sizeof *f);
}

/* dst ← dst with every flag named in src replaced by src's entries of that name. */
static void flags_merge(flagv *dst, const flagv *src)
{
    for (int i = 0; i < src->n; i++) {
        int first = 1;
        for (int j = 0; j < i; j++)
            if (!strcmp(src->v[j].name, src->v[i].name)) first = 0;
        if (first) flags_del(dst, src->v[i].name);
    }
    for (int i = 0; i < src->n; i++)
        if (src->v[i].kind != FLAG_DELETE)
            flags_add(dst, src->v[i].name, src->v[i].value, src->v[i].kind);
}

static const char *flags_get(const flagv *f, const char *name)
{
    for (int i = f->n - 1; i >= 0; i--)
        if (!strcmp(f->v[i].name, name)) return f->v[i].kind == FLAG_VALUE ? f->v[i].value : "";
    return NULL;
}

/* Flags per bfc subcommand, e.g. {"train": {...}, "fit": {...}}. */
typedef struct {
    char *cmd;
    flagv f;
} cmdflags;

typedef struct {
    cmdflags *v;
    int n;
} cmdargs;

static flagv *cmdargs_for(cmdargs *a, const char *cmd, int create)
{
    for (int i = 0; i < a->n; i++)
        if (!strcmp(a->v[i].cmd, cmd)) return &a->v[i].f;
    if (!create) return NULL;
    a->v = xrealloc(a->v, sizeof(cmdflags) * (size_t)(a->n + 1));
    memset(&a->v[a->n], 0, sizeof(cmdflags));
    a->v[a->n].cmd = xstrdup(cmd);
    return &a->v[a->n++].f;
}

static const flagv *cmdargs_get(const cmdargs *a, const char *cmd)
{
    for (int i = 0; i < a->n; i++)
        if (!strcmp(a->v[i].cmd, cmd)) return &a->v[i].f;
    return NULL;
}

static void cmdargs_free(cmdargs *a)
{
    for (int i = 0; i < a->n; i++) {
        free(a->v[i].cmd);
        flags_free(&a->v[i].f);
    }
    free(a->v);
    memset(a, 0, sizeof *a);
}

/* ---- the configuration --------------------------------------------------------------- */

typedef struct {
    char *name, *group;
    flagv problem; /* the problem flags (d, L, k, gap, ...) */
    cmdargs args;  /* extra flags per command for this target */
    int *grid, ngrid;
    strv methods;
    int has_methods;
    bfc_target_config tc; /* resolved (seed: the target seed when fixed) */
    int target_seed_fixed;
} target;

typedef struct {
    char *name, *command, *role;
    flagv args;
    int n_min, n_max; /* 0: no limit */
    strv targets;
    int has_targets;
    int schedule, depth; /* train: the schedule (enum bfc_schedule) and D; else −1 */
} method;

typedef struct {
    int t, m;   /* target and method */
    int dup_of; /* index of an earlier cell with the same key, or −1 */
} cellinfo;

struct bfc_sweep {
    char *what, *name, *description;
    bfc_json *root; /* kept for the "quick" block */
    target *t;
    int nt;
    method *m;
    int nm;
    int *grid, ngrid;
    long long *seeds;
    int nseeds;
    double *eps;
    int neps;
    double eps_vs_d;
    double timeout_s;
    cmdargs args;      /* top-level per-command flags */
    cmdargs late_args; /* quick and command-line flags: applied after the methods' */
    strv only_t, only_m;
    int has_only_t, has_only_m;
    int quick;
    bfc_sweep_cell *cells;
    cellinfo *ci;
    int ncells;
};

/* The path of the key being read, for messages: "targets[1].args.train.clip". */
typedef struct {
    const char *what;
    char path[256];
} ctx;

static int cfail(const ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int cfail(const ctx *c, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (c->path[0]) return bfc_fail(BFC_EINVAL, "%s: %s: %s", c->what, c->path, msg);
    return bfc_fail(BFC_EINVAL, "%s: %s", c->what, msg);
}

/* Append ".key" or "[i]" to the path; returns the old length to restore. */
static size_t ctx_push(ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static size_t ctx_push(ctx *c, const char *fmt, ...)
{
    size_t len = strlen(c->path);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->path + len, sizeof c->path - len, fmt, ap);
    va_end(ap);
    return len;
}
static void ctx_pop(ctx *c, size_t len) { c->path[len] = '\0'; }

static const char *type_a(int type)
{
    switch (type) {
    case BFC_JSON_NULL: return "null";
    case BFC_JSON_BOOL: return "a boolean";
    case BFC_JSON_NUMBER: return "a number";
    case BFC_JSON_STRING: return "a string";
    case BFC_JSON_ARRAY: return "an array";
    case BFC_JSON_OBJECT: return "an object";
    default: return "nothing";
    }
}

/* Reject keys of obj not in the NULL-terminated list. */
static int check_keys(ctx *c, const bfc_json *obj, const char *const *known)
{
    for (size_t i = 0; i < bfc_json_len(obj); i++) {
        const char *k = bfc_json_key_at(obj, i);
        int ok = 0;
        for (int j = 0; known[j]; j++)
            if (!strcmp(k, known[j])) ok = 1;
        if (!ok) {
            char list[512] = "";
            for (int j = 0; known[j]; j++) {
                strncat(list, j ? ", " : "", sizeof list - strlen(list) - 1);
                strncat(list, known[j], sizeof list - strlen(list) - 1);
            }
            return cfail(c, "unknown key '%s' (known: %s)", k, list);
        }
    }
    return BFC_OK;
}

static int want_type(ctx *c, const bfc_json *v, int type)
{
    if (bfc_json_type(v) != type)
        return cfail(c, "must be %s (got %s)", type_a(type), type_a(bfc_json_type(v)));
    return BFC_OK;
}

/* Names: 1..NAME_MAX_LEN of [A-Za-z0-9._=+:-], so that they fit file names, CSV and shells. */
static int check_name(ctx *c, const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > NAME_MAX_LEN)
        return cfail(c, "a name must have 1 to %d characters (got '%s')", NAME_MAX_LEN, s);
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              strchr("._=+:-", ch)))
            return cfail(c, "'%s': names may use letters, digits and . _ = + : - only", s);
    }
    return BFC_OK;
}

static int get_string(ctx *c, const bfc_json *obj, const char *key, char **out, int required)
{
    const bfc_json *v = bfc_json_get(obj, key);
    if (!v) {
        if (required) return cfail(c, "key '%s' missing", key);
        return BFC_OK;
    }
    size_t len = ctx_push(c, "%s%s", c->path[0] ? "." : "", key);
    int st = want_type(c, v, BFC_JSON_STRING);
    if (!st && !bfc_json_string(v)[0]) st = cfail(c, "must not be empty");
    ctx_pop(c, len);
    if (st) return st;
    free(*out);
    *out = xstrdup(bfc_json_string(v));
    return BFC_OK;
}

/* A number in [lo, hi]; integral when integral is set. */
static int get_number(ctx *c, const bfc_json *v, double lo, double hi, int integral, double *out)
{
    if (want_type(c, v, BFC_JSON_NUMBER)) return BFC_EINVAL;
    double x;
    bfc_json_number(v, &x);
    if (integral && (x != floor(x) || fabs(x) > 9007199254740992.0))
        return cfail(c, "must be an integer (got %.17g)", x);
    if (!(x >= lo && x <= hi)) return cfail(c, "must be between %g and %g (got %.17g)", lo, hi, x);
    *out = x;
    return BFC_OK;
}

/* A non-empty array of integers in [lo, hi], strictly increasing when sorted is set. */
static int get_int_array(ctx *c, const bfc_json *v, double lo, double hi, int ascending,
                         long long **out, int *n)
{
    if (want_type(c, v, BFC_JSON_ARRAY)) return BFC_EINVAL;
    size_t m = bfc_json_len(v);
    if (m == 0) return cfail(c, "empty list");
    long long *a = xrealloc(NULL, sizeof(long long) * m);
    for (size_t i = 0; i < m; i++) {
        size_t len = ctx_push(c, "[%zu]", i);
        double x = 0;
        int st = get_number(c, bfc_json_at(v, i), lo, hi, 1, &x);
        if (!st && ascending && i > 0 && (long long)x <= a[i - 1])
            st = cfail(c, "the list must be strictly increasing");
        if (!st && !ascending)
            for (size_t j = 0; j < i; j++)
                if (a[j] == (long long)x) st = cfail(c, "%lld is repeated", (long long)x);
        ctx_pop(c, len);
        if (st) {
            free(a);
            return st;
        }
        a[i] = (long long)x;
    }
    free(*out);
    *out = a;
    *n = (int)m;
    return BFC_OK;
}

static int get_grid(ctx *c, const bfc_json *v, int **out, int *n)
{
    long long *a = NULL;
    int m = 0;
    int st = get_int_array(c, v, 1, 1e8, 1, &a, &m);
    if (st) return st;
    free(*out);
    *out = xrealloc(NULL, sizeof(int) * (size_t)m);
    for (int i = 0; i < m; i++) (*out)[i] = (int)a[i];
    *n = m;
    free(a);
    return BFC_OK;
}

static int get_eps(ctx *c, const bfc_json *v, double **out, int *n)
{
    if (want_type(c, v, BFC_JSON_ARRAY)) return BFC_EINVAL;
    size_t m = bfc_json_len(v);
    if (m == 0) return cfail(c, "empty list");
    double *a = xrealloc(NULL, sizeof(double) * m);
    for (size_t i = 0; i < m; i++) {
        size_t len = ctx_push(c, "[%zu]", i);
        int st = get_number(c, bfc_json_at(v, i), 1e-300, 1e300, 0, &a[i]);
        ctx_pop(c, len);
        if (st) {
            free(a);
            return st;
        }
    }
    free(*out);
    *out = a;
    *n = (int)m;
    return BFC_OK;
}

static int get_names(ctx *c, const bfc_json *v, strv *out)
{
    if (want_type(c, v, BFC_JSON_ARRAY)) return BFC_EINVAL;
    if (bfc_json_len(v) == 0) return cfail(c, "empty list");
    strv_free(out);
    for (size_t i = 0; i < bfc_json_len(v); i++) {
        size_t len = ctx_push(c, "[%zu]", i);
        int st = want_type(c, bfc_json_at(v, i), BFC_JSON_STRING);
        if (!st) st = check_name(c, bfc_json_string(bfc_json_at(v, i)));
        ctx_pop(c, len);
        if (st) return st;
        strv_push(out, bfc_json_string(bfc_json_at(v, i)));
    }
    return BFC_OK;
}

/* The shortest text that reads back as x ("3000", "0.003", "1e-08"). */
static void format_number(double x, char *buf, size_t cap)
{
    if (x == floor(x) && fabs(x) < 1e15) {
        snprintf(buf, cap, "%.0f", x);
        return;
    }
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, cap, "%.*g", p, x);
        if (strtod(buf, NULL) == x) return;
    }
}

/* Flag names as the bfc commands spell them: underscores become dashes. */
static int flag_name(ctx *c, const char *key, char *out, size_t cap)
{
    size_t n = strlen(key);
    if (n == 0 || n >= cap) return cfail(c, "bad flag name '%s'", key);
    for (size_t i = 0; i <= n; i++) out[i] = key[i] == '_' ? '-' : key[i];
    if (out[0] == '-') return cfail(c, "flag names are given without dashes (got '%s')", key);
    for (size_t i = 0; i < n; i++) {
        char ch = out[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-'))
            return cfail(c, "bad flag name '%s'", key);
    }
    return BFC_OK;
}

/* Flags set by the sweep itself for every cell. */
static const char *const reserved_flags[] = {"n",     "seed", "out",  "json",
                                             "quiet", "data", "help", NULL};

static int is_reserved(const char *name)
{
    for (int i = 0; reserved_flags[i]; i++)
        if (!strcmp(name, reserved_flags[i])) return 1;
    return 0;
}

/* One JSON value as flags named name: number → "--name 3000"; string → "--name s";
 * true → "--name"; false/null → remove the flag; array of numbers → "--name 1,0.1";
 * array of strings → the flag once per string (for repeatable flags such as --J). */
static int flag_from_json(ctx *c, flagv *f, const char *name, const bfc_json *v)
{
    char num[40];
    switch (bfc_json_type(v)) {
    case BFC_JSON_NUMBER: {
        double x;
        bfc_json_number(v, &x);
        format_number(x, num, sizeof num);
        flags_add(f, name, num, FLAG_VALUE);
        return BFC_OK;
    }
    case BFC_JSON_STRING:
        if (!bfc_json_string(v)[0]) return cfail(c, "an empty string is not a flag value");
        if (strchr(bfc_json_string(v), '\n')) return cfail(c, "a flag value cannot hold a newline");
        flags_add(f, name, bfc_json_string(v), FLAG_VALUE);
        return BFC_OK;
    case BFC_JSON_BOOL: {
        int b;
        bfc_json_bool(v, &b);
        flags_add(f, name, NULL, b ? FLAG_BARE : FLAG_DELETE);
        return BFC_OK;
    }
    case BFC_JSON_NULL: flags_add(f, name, NULL, FLAG_DELETE); return BFC_OK;
    case BFC_JSON_ARRAY: {
        size_t m = bfc_json_len(v);
        if (m == 0) return cfail(c, "an empty list is not a flag value");
        int type = bfc_json_type(bfc_json_at(v, 0));
        if (type != BFC_JSON_NUMBER && type != BFC_JSON_STRING)
            return cfail(c, "a list must hold numbers or strings (got %s)", type_a(type));
        for (size_t i = 1; i < m; i++)
            if (bfc_json_type(bfc_json_at(v, i)) != type)
                return cfail(c, "a list must hold only numbers or only strings");
        if (type == BFC_JSON_STRING) {
            for (size_t i = 0; i < m; i++) {
                size_t len = ctx_push(c, "[%zu]", i);
                int st = flag_from_json(c, f, name, bfc_json_at(v, i));
                ctx_pop(c, len);
                if (st) return st;
            }
            return BFC_OK;
        }
        char *joined = xstrdup("");
        for (size_t i = 0; i < m; i++) {
            double x;
            bfc_json_number(bfc_json_at(v, i), &x);
            format_number(x, num, sizeof num);
            char *j = xprintf("%s%s%s", joined, i ? "," : "", num);
            free(joined);
            joined = j;
        }
        flags_add(f, name, joined, FLAG_VALUE);
        free(joined);
        return BFC_OK;
    }
    default:
        return cfail(c, "a flag value must be a number, string, boolean, null or list (got %s)",
                     type_a(bfc_json_type(v)));
    }
}

/* An object of flags {"steps": 3000, "no_cosine": true, ...}. */
static int flags_from_object(ctx *c, const bfc_json *obj, flagv *f)
{
    if (want_type(c, obj, BFC_JSON_OBJECT)) return BFC_EINVAL;
    for (size_t i = 0; i < bfc_json_len(obj); i++) {
        const char *key = bfc_json_key_at(obj, i);
        size_t len = ctx_push(c, ".%s", key);
        char name[64];
        int st = flag_name(c, key, name, sizeof name);
        if (!st && is_reserved(name))
            st = cfail(c, "--%s is set by the sweep for every cell (use the n grid and seeds)",
                       name);
        if (!st) st = flag_from_json(c, f, name, bfc_json_at(obj, i));
        ctx_pop(c, len);
        if (st) return st;
    }
    return BFC_OK;
}

/* {"train": {flags}, "fit": {flags}}: flags per bfc subcommand. */
static int cmdargs_from_object(ctx *c, const bfc_json *obj, cmdargs *a)
{
    if (want_type(c, obj, BFC_JSON_OBJECT)) return BFC_EINVAL;
    for (size_t i = 0; i < bfc_json_len(obj); i++) {
        const char *cmd = bfc_json_key_at(obj, i);
        size_t len = ctx_push(c, ".%s", cmd);
        int st = check_name(c, cmd);
        if (!st) st = flags_from_object(c, bfc_json_at(obj, i), cmdargs_for(a, cmd, 1));
        ctx_pop(c, len);
        if (st) return st;
    }
    return BFC_OK;
}

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
    if (!st && !t->group) t->group = xstrdup(t->name);
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
        if (!st) {
            flags_merge(&t->problem, &one);
            if (!strcmp(name, "target-seed")) t->target_seed_fixed = 1;
        }
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
        if (!st && (!strcmp(m->command, "sweep") || m->command[0] == '-'))
            st = cfail(c, "'%s' cannot be a cell's command", m->command);
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
            r = m->schedule == BFC_SCHED_E2E         ? "e2e"
                : m->schedule == BFC_SCHED_LAYERWISE ? "layerwise"
                : m->schedule == BFC_SCHED_DEPTH     ? "depth"
                                                     : "joint";
        } else if (!strcmp(m->command, "fit")) {
            const char *fm = flags_get(&m->args, "method");
            r = !fm || !strcmp(fm, "krr")                   ? "kernel"
                : !strcmp(fm, "ntk") || !strcmp(fm, "entk") ? "ntk"
                : !strcmp(fm, "nngp")                       ? "nngp"
                : !strcmp(fm, "seqkernel")                  ? "seqkernel"
                                                            : "baseline";
        }
        m->role = xstrdup(r);
    }
    return st;
}

static const char *const top_keys[] = {"name",      "description", "targets", "methods",
                                       "n",         "seeds",       "eps",     "eps_vs_d",
                                       "timeout_s", "args",        "quick",   NULL};
static const char *const quick_keys[] = {"n",    "seeds",     "targets", "methods",
                                         "args", "timeout_s", NULL};

static int parse_seeds(ctx *c, const bfc_json *v, bfc_sweep *s)
{
    return get_int_array(c, v, 0, 9007199254740992.0, 0, &s->seeds, &s->nseeds);
}

static int parse_top(ctx *c, bfc_sweep *s)
{
    const bfc_json *r = s->root, *v;
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
            st = parse_seeds(c, v, s);
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
    if (!st) {
        size_t len = ctx_push(c, "targets");
        v = bfc_json_get(r, "targets");
        if (!v)
            st = cfail(c, "missing (a list of targets)");
        else if (!(st = want_type(c, v, BFC_JSON_ARRAY)) && bfc_json_len(v) == 0)
            st = cfail(c, "empty list");
        if (!st) {
            s->nt = (int)bfc_json_len(v);
            s->t = xrealloc(NULL, sizeof(target) * (size_t)s->nt);
            memset(s->t, 0, sizeof(target) * (size_t)s->nt);
            for (int i = 0; !st && i < s->nt; i++) {
                size_t l2 = ctx_push(c, "[%d]", i);
                st = parse_target(c, bfc_json_at(v, (size_t)i), &s->t[i]);
                for (int j = 0; !st && j < i; j++)
                    if (!strcmp(s->t[j].name, s->t[i].name))
                        st = cfail(c, "the name is used twice");
                ctx_pop(c, l2);
            }
        }
        ctx_pop(c, len);
    }
    if (!st) {
        size_t len = ctx_push(c, "methods");
        v = bfc_json_get(r, "methods");
        if (!v)
            st = cfail(c, "missing (a list of methods)");
        else if (!(st = want_type(c, v, BFC_JSON_ARRAY)) && bfc_json_len(v) == 0)
            st = cfail(c, "empty list");
        if (!st) {
            s->nm = (int)bfc_json_len(v);
            s->m = xrealloc(NULL, sizeof(method) * (size_t)s->nm);
            memset(s->m, 0, sizeof(method) * (size_t)s->nm);
            for (int i = 0; !st && i < s->nm; i++) {
                size_t l2 = ctx_push(c, "[%d]", i);
                st = parse_method(c, bfc_json_at(v, (size_t)i), &s->m[i]);
                for (int j = 0; !st && j < i; j++)
                    if (!strcmp(s->m[j].name, s->m[i].name))
                        st = cfail(c, "the name is used twice");
                ctx_pop(c, l2);
            }
        }
        ctx_pop(c, len);
    }
    /* names referred to must exist */
    for (int i = 0; !st && i < s->nt; i++)
        for (int j = 0; !st && j < s->t[i].methods.n; j++) {
            int ok = 0;
            for (int k = 0; k < s->nm; k++) ok |= !strcmp(s->m[k].name, s->t[i].methods.v[j]);
            if (!ok) {
                size_t len = ctx_push(c, "targets[%d] (%s).methods", i, s->t[i].name);
                st = cfail(c, "no method is named '%s'", s->t[i].methods.v[j]);
                ctx_pop(c, len);
            }
        }
    for (int i = 0; !st && i < s->nm; i++)
        for (int j = 0; !st && j < s->m[i].targets.n; j++) {
            int ok = 0;
            for (int k = 0; k < s->nt; k++) ok |= !strcmp(s->t[k].name, s->m[i].targets.v[j]);
            if (!ok) {
                size_t len = ctx_push(c, "methods[%d] (%s).targets", i, s->m[i].name);
                st = cfail(c, "no target is named '%s'", s->m[i].targets.v[j]);
                ctx_pop(c, len);
            }
        }
    for (int i = 0; !st && !s->grid && i < s->nt; i++)
        if (!s->t[i].grid) {
            size_t len = ctx_push(c, "targets[%d] (%s)", i, s->t[i].name);
            st = cfail(c, "no n grid: give \"n\" at the top level or in the target");
            ctx_pop(c, len);
        }
    /* the quick block is checked now, applied on request */
    if (!st && (v = bfc_json_get(r, "quick"))) {
        size_t len = ctx_push(c, "quick");
        st = want_type(c, v, BFC_JSON_OBJECT);
        if (!st) st = check_keys(c, v, quick_keys);
        const bfc_json *q;
        int *g = NULL, ng;
        long long *sd = NULL;
        int nsd;
        strv names = {0};
        cmdargs ca = {0};
        double x;
        if (!st && (q = bfc_json_get(v, "n"))) {
            size_t l2 = ctx_push(c, ".n");
            st = get_grid(c, q, &g, &ng);
            ctx_pop(c, l2);
        }
        if (!st && (q = bfc_json_get(v, "seeds"))) {
            size_t l2 = ctx_push(c, ".seeds");
            st = get_int_array(c, q, 0, 9007199254740992.0, 0, &sd, &nsd);
            ctx_pop(c, l2);
        }
        for (int w = 0; w < 2; w++) {
            const char *key = w ? "methods" : "targets";
            if (!st && (q = bfc_json_get(v, key))) {
                size_t l2 = ctx_push(c, ".%s", key);
                st = get_names(c, q, &names);
                for (int i = 0; !st && i < names.n; i++) {
                    int ok = 0;
                    if (w)
                        for (int k = 0; k < s->nm; k++) ok |= !strcmp(s->m[k].name, names.v[i]);
                    else
                        for (int k = 0; k < s->nt; k++) ok |= !strcmp(s->t[k].name, names.v[i]);
                    if (!ok)
                        st = cfail(c, "no %s is named '%s'", w ? "method" : "target", names.v[i]);
                }
                ctx_pop(c, l2);
            }
        }
        if (!st && (q = bfc_json_get(v, "args"))) {
            size_t l2 = ctx_push(c, ".args");
            st = cmdargs_from_object(c, q, &ca);
            ctx_pop(c, l2);
        }
        if (!st && (q = bfc_json_get(v, "timeout_s"))) {
            size_t l2 = ctx_push(c, ".timeout_s");
            st = get_number(c, q, 0, 1e9, 0, &x);
            ctx_pop(c, l2);
        }
        free(g);
        free(sd);
        strv_free(&names);
        cmdargs_free(&ca);
        ctx_pop(c, len);
    }
    if (!st && !s->eps) {
        static const double def[] = {1e-1, 3e-2, 1e-2};
        s->neps = 3;
        s->eps = xrealloc(NULL, sizeof def);
        memcpy(s->eps, def, sizeof def);
    }
    if (!st && s->eps_vs_d <= 0) s->eps_vs_d = s->eps[0];
    return st;
}

static void free_cells(bfc_sweep *s)
{
    for (int i = 0; i < s->ncells; i++) {
        for (int j = 0; j < s->cells[i].argc; j++) free(s->cells[i].argv[j]);
        free(s->cells[i].argv);
        free((char *)s->cells[i].cmdline);
    }
    free(s->cells);
    free(s->ci);
    s->cells = NULL;
    s->ci = NULL;
    s->ncells = 0;
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
    bfc_json_free(s->root);
    free(s->what);
    free(s->name);
    free(s->description);
    free(s);
}

bfc_sweep *bfc_sweep_parse(const char *text, const char *what, int *status)
{
    char err[512];
    bfc_sweep *s = xrealloc(NULL, sizeof *s);
    memset(s, 0, sizeof *s);
    s->what = xstrdup(what ? what : "configuration");
    s->root = bfc_json_parse(text, err, sizeof err);
    int st;
    if (!s->root) {
        st = bfc_fail(BFC_EFORMAT, "%s:%s", s->what, err);
    } else {
        ctx c = {s->what, ""};
        st = parse_top(&c, s);
    }
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
        s->name = xstrdup(buf[0] ? buf : "sweep");
    }
    return s;
}

const char *bfc_sweep_name(const bfc_sweep *s) { return s->name ? s->name : "sweep"; }
int bfc_sweep_ncells(const bfc_sweep *s) { return s->ncells; }
const bfc_sweep_cell *bfc_sweep_cell_at(const bfc_sweep *s, int i)
{
    return i >= 0 && i < s->ncells ? &s->cells[i] : NULL;
}

/* ---- overrides ----------------------------------------------------------------------- */

static void set_grid_all(bfc_sweep *s, const int *g, int ng)
{
    free(s->grid);
    s->grid = xrealloc(NULL, sizeof(int) * (size_t)ng);
    memcpy(s->grid, g, sizeof(int) * (size_t)ng);
    s->ngrid = ng;
    for (int i = 0; i < s->nt; i++) {
        free(s->t[i].grid);
        s->t[i].grid = NULL;
        s->t[i].ngrid = 0;
    }
}

int bfc_sweep_quick(bfc_sweep *s)
{
    const bfc_json *q = bfc_json_get(s->root, "quick"), *v;
    if (!q) return bfc_fail(BFC_EINVAL, "%s has no \"quick\" block", s->what);
    ctx c = {s->what, "quick"};
    int st = BFC_OK;
    if ((v = bfc_json_get(q, "n"))) {
        int *g = NULL, ng = 0;
        if (!(st = get_grid(&c, v, &g, &ng))) set_grid_all(s, g, ng);
        free(g);
    }
    if (!st && (v = bfc_json_get(q, "seeds"))) st = parse_seeds(&c, v, s);
    if (!st && (v = bfc_json_get(q, "targets"))) {
        st = get_names(&c, v, &s->only_t);
        s->has_only_t = 1;
    }
    if (!st && (v = bfc_json_get(q, "methods"))) {
        st = get_names(&c, v, &s->only_m);
        s->has_only_m = 1;
    }
    if (!st && (v = bfc_json_get(q, "args"))) st = cmdargs_from_object(&c, v, &s->late_args);
    if (!st && (v = bfc_json_get(q, "timeout_s"))) st = get_number(&c, v, 0, 1e9, 0, &s->timeout_s);
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
        strv_push(out, tok);
    if (!out->n) return bfc_fail(BFC_EINVAL, "--%s: empty list", field);
    return BFC_OK;
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
        set_grid_all(s, g, ng);
        return BFC_OK;
    }
    if (!strcmp(field, "seeds")) {
        char buf[1024], *save = NULL;
        if (strlen(value) >= sizeof buf) return bfc_fail(BFC_EINVAL, "--seeds: list too long");
        strcpy(buf, value);
        long long sd[256];
        int n = 0;
        for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            uint64_t u;
            if (n == 256) return bfc_fail(BFC_EINVAL, "--seeds: at most 256 seeds");
            int st = bfc_parse_u64("--seeds", tok, &u);
            if (st) return st;
            if (u > 9007199254740992ull)
                return bfc_fail(BFC_EINVAL, "--seeds: %s is above 2^53", tok);
            for (int i = 0; i < n; i++)
                if (sd[i] == (long long)u)
                    return bfc_fail(BFC_EINVAL, "--seeds: %s is repeated", tok);
            sd[n++] = (long long)u;
        }
        if (!n) return bfc_fail(BFC_EINVAL, "--seeds: empty list");
        free(s->seeds);
        s->seeds = xrealloc(NULL, sizeof(long long) * (size_t)n);
        memcpy(s->seeds, sd, sizeof(long long) * (size_t)n);
        s->nseeds = n;
        return BFC_OK;
    }
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
        free(s->eps);
        s->eps = xrealloc(NULL, sizeof(double) * (size_t)ne);
        memcpy(s->eps, e, sizeof(double) * (size_t)ne);
        s->neps = ne;
        return BFC_OK;
    }
    if (!strcmp(field, "timeout"))
        return bfc_parse_double("--timeout", value, 0, 1e9, &s->timeout_s);
    if (!strcmp(field, "arg")) {
        /* CMD:FLAG=VALUE, CMD:FLAG (bare) or CMD:FLAG= (remove) */
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
            flags_add(&one, fname, NULL, FLAG_BARE);
        else if (!eq[1])
            flags_add(&one, fname, NULL, FLAG_DELETE);
        else
            flags_add(&one, fname, eq + 1, FLAG_VALUE);
        flags_merge(cmdargs_for(&s->late_args, cmd, 1), &one);
        /* keep deletion markers: they must act on the layers below when cells are built */
        if (eq && !eq[1]) flags_add(cmdargs_for(&s->late_args, cmd, 1), fname, NULL, FLAG_DELETE);
        flags_free(&one);
        return BFC_OK;
    }
    return bfc_fail(BFC_EINVAL, "unknown override '%s'", field);
}

/* ---- cells --------------------------------------------------------------------------- */

void bfc_sweep_key(char *const *argv, int argc, char key[17])
{
    uint64_t h = 14695981039346656037ull; /* FNV-1a 64 */
    const char *pre = KEY_PREFIX;
    for (const char *p = pre; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
    for (int i = 0; i < argc; i++) {
        h = (h ^ 0x1fu) * 1099511628211ull;
        for (const char *p = argv[i]; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
    }
    h ^= h >> 33; /* murmur3's finaliser: nearby command lines get unrelated keys */
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    snprintf(key, 17, "%016llx", (unsigned long long)h);
}

/* a, or 'a' with quotes escaped when a shell would split or expand it. */
static char *shell_quote(const char *a)
{
    int plain = a[0] != '\0';
    for (const char *p = a; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr("_./=:,+-@%", *p)))
            plain = 0;
    if (plain) return xstrdup(a);
    char *q = xstrdup("'");
    for (const char *p = a; *p; p++) {
        char *r = *p == '\'' ? xprintf("%s'\\''", q) : xprintf("%s%c", q, *p);
        free(q);
        q = r;
    }
    char *r = xprintf("%s'", q);
    free(q);
    return r;
}

static int allowed(const strv *only, int has, const char *name)
{
    return !has || strv_find(only, name) >= 0;
}

static int check_only(const bfc_sweep *s, int targets)
{
    const strv *only = targets ? &s->only_t : &s->only_m;
    for (int i = 0; i < only->n; i++) {
        int ok = 0;
        char list[1024] = "";
        int n = targets ? s->nt : s->nm;
        for (int k = 0; k < n; k++) {
            const char *nm = targets ? s->t[k].name : s->m[k].name;
            ok |= !strcmp(nm, only->v[i]);
            if (k) strncat(list, ", ", sizeof list - strlen(list) - 1);
            strncat(list, nm, sizeof list - strlen(list) - 1);
        }
        if (!ok)
            return bfc_fail(BFC_EINVAL, "--%s: %s has no %s named '%s' (%s)",
                            targets ? "targets" : "methods", s->what, targets ? "target" : "method",
                            only->v[i], list);
    }
    return BFC_OK;
}

static void add_cell(bfc_sweep *s, int ti, int mi, int n, long long seed, int *cap)
{
    const target *t = &s->t[ti];
    const method *m = &s->m[mi];
    flagv f = {0};
    const flagv *layer;
    flags_merge(&f, &t->problem);
    if ((layer = cmdargs_get(&s->args, m->command))) flags_merge(&f, layer);
    if ((layer = cmdargs_get(&t->args, m->command))) flags_merge(&f, layer);
    flags_merge(&f, &m->args);
    if ((layer = cmdargs_get(&s->late_args, m->command))) flags_merge(&f, layer);
    char num[32];
    snprintf(num, sizeof num, "%d", n);
    flags_add(&f, "n", num, FLAG_VALUE);
    snprintf(num, sizeof num, "%lld", seed);
    flags_add(&f, "seed", num, FLAG_VALUE);
    for (int i = 1; i < f.n; i++) { /* stable insertion sort by name */
        flag x = f.v[i];
        int j = i - 1;
        while (j >= 0 && strcmp(f.v[j].name, x.name) > 0) {
            f.v[j + 1] = f.v[j];
            j--;
        }
        f.v[j + 1] = x;
    }
    if (s->ncells == *cap) {
        *cap = *cap ? 2 * *cap : 64;
        s->cells = xrealloc(s->cells, sizeof(bfc_sweep_cell) * (size_t)*cap);
        s->ci = xrealloc(s->ci, sizeof(cellinfo) * (size_t)*cap);
    }
    bfc_sweep_cell *c = &s->cells[s->ncells];
    memset(c, 0, sizeof *c);
    c->method = m->name;
    c->target = t->name;
    c->n = n;
    c->seed = seed;
    c->argv = xrealloc(NULL, sizeof(char *) * (size_t)(2 * f.n + 2));
    c->argv[c->argc++] = xstrdup(m->command);
    for (int i = 0; i < f.n; i++) {
        c->argv[c->argc++] = xprintf("--%s", f.v[i].name);
        if (f.v[i].kind == FLAG_VALUE) c->argv[c->argc++] = xstrdup(f.v[i].value);
    }
    c->argv[c->argc] = NULL;
    bfc_sweep_key(c->argv, c->argc, c->key);
    char *line = xstrdup("bfc");
    for (int i = 0; i < c->argc; i++) {
        char *q = shell_quote(c->argv[i]);
        char *l2 = xprintf("%s %s", line, q);
        free(q);
        free(line);
        line = l2;
    }
    c->cmdline = line;
    cellinfo *ci = &s->ci[s->ncells];
    ci->t = ti;
    ci->m = mi;
    ci->dup_of = -1;
    for (int j = 0; j < s->ncells && ci->dup_of < 0; j++)
        if (!strcmp(s->cells[j].key, c->key)) ci->dup_of = j;
    s->ncells++;
    flags_free(&f);
}

int bfc_sweep_expand(bfc_sweep *s)
{
    free_cells(s);
    int st = check_only(s, 1);
    if (!st) st = check_only(s, 0);
    if (st) return st;
    int cap = 0;
    for (int ti = 0; ti < s->nt; ti++) {
        const target *t = &s->t[ti];
        if (!allowed(&s->only_t, s->has_only_t, t->name)) continue;
        const int *grid = t->grid ? t->grid : s->grid;
        int ng = t->grid ? t->ngrid : s->ngrid;
        for (int mi = 0; mi < s->nm; mi++) {
            const method *m = &s->m[mi];
            if (!allowed(&s->only_m, s->has_only_m, m->name) ||
                !allowed(&t->methods, t->has_methods, m->name) ||
                !allowed(&m->targets, m->has_targets, t->name))
                continue;
            for (int i = 0; i < ng; i++) {
                if ((m->n_max && grid[i] > m->n_max) || grid[i] < m->n_min) continue;
                for (int k = 0; k < s->nseeds; k++) add_cell(s, ti, mi, grid[i], s->seeds[k], &cap);
            }
        }
    }
    if (!s->ncells)
        return bfc_fail(BFC_EINVAL,
                        "%s: no cells to run: the selected targets, methods and n "
                        "limits leave nothing",
                        s->what);
    return BFC_OK;
}

/* ---- the runner ---------------------------------------------------------------------- */

static volatile sig_atomic_t sweep_signal_count = 0;

static void on_sweep_signal(int sig)
{
    if (sweep_signal_count >= 2) {
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    sweep_signal_count++;
}

volatile sig_atomic_t *bfc_sweep_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sweep_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    return &sweep_signal_count;
}

enum { C_PENDING = 0, C_RUNNING, C_OK, C_FAILED, C_DUP, C_NOT_RUN };

typedef struct {
    int state;
    int cached;
    pid_t pid;
    double t0, wall;
    double cpu;     /* user + system seconds of the cell's process (wait4) */
    double term_at; /* when SIGTERM was sent (0: not sent) */
    int kill_sent;
    int timed_out;   /* SIGTERM sent for the time-out */
    int interrupted; /* killed because the sweep was interrupted */
} run;

/* buf = dir/name. Output directories are limited to OUT_MAX characters (checked by the
 * entry points), so every path built under one fits. */
static void pjoin(char *buf, size_t cap, const char *dir, const char *name)
{
    int w = snprintf(buf, cap, "%s/%s", dir, name);
    BFC_ASSERT(w > 0 && (size_t)w < cap);
}

static void cell_dir(const char *out, const bfc_sweep_cell *c, char *buf, size_t cap)
{
    int w = snprintf(buf, cap, "%s/cells/%s", out, c->key);
    BFC_ASSERT(w > 0 && (size_t)w < cap);
}

static int file_exists(const char *dir, const char *name)
{
    char p[4352];
    pjoin(p, sizeof p, dir, name);
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* Status of a cell from disk: 1 finished ("ok" and result.csv present), 0 failed, −1 not
 * run or interrupted. *wall and *cpu (if non-NULL) receive wall_s and cpu_s. When
 * reason is non-NULL it receives the recorded reason and the last stderr line. */
static int read_status(const char *dir, double *wall, double *cpu, char *reason, size_t cap)
{
    char p[4352];
    pjoin(p, sizeof p, dir, "status.json");
    if (access(p, F_OK)) return -1;
    char *text = bfc_read_file(p, NULL);
    if (!text) return -1;
    bfc_json *j = bfc_json_parse(text, NULL, 0);
    free(text);
    if (!j) return -1;
    const char *st = bfc_json_string(bfc_json_get(j, "status"));
    int ok = st && !strcmp(st, "ok") && file_exists(dir, "result.csv");
    if (wall && bfc_json_number(bfc_json_get(j, "wall_s"), wall)) *wall = NAN;
    if (cpu && bfc_json_number(bfc_json_get(j, "cpu_s"), cpu)) *cpu = NAN;
    if (reason) {
        const char *r = bfc_json_string(bfc_json_get(j, "reason"));
        const bfc_json *tail = bfc_json_get(j, "stderr_tail");
        size_t nt = bfc_json_len(tail);
        const char *last = nt ? bfc_json_string(bfc_json_at(tail, nt - 1)) : NULL;
        snprintf(reason, cap, "%s%s%s", r ? r : "unknown", last ? ": " : "", last ? last : "");
    }
    int interrupted = st && !strcmp(st, "interrupted");
    bfc_json_free(j);
    return ok ? 1 : st && !interrupted ? 0 : -1;
}

/* The last STDERR_TAIL_LINES non-empty lines of a file (at most 8 KB are read). */
static int stderr_tail(const char *path, char lines[][320], int max)
{
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    char buf[8193];
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    long from = size > 8192 ? size - 8192 : 0;
    fseek(f, from, SEEK_SET);
    size_t n = fread(buf, 1, 8192, f);
    fclose(f);
    buf[n] = '\0';
    int count = 0;
    char *save = NULL;
    char *all[512];
    int na = 0;
    for (char *l = strtok_r(buf, "\n", &save); l && na < 512; l = strtok_r(NULL, "\n", &save)) {
        size_t len = strlen(l);
        while (len && (l[len - 1] == '\r' || l[len - 1] == ' ')) l[--len] = '\0';
        if (len) all[na++] = l;
    }
    for (int i = na > max ? na - max : 0; i < na; i++) snprintf(lines[count++], 320, "%s", all[i]);
    return count;
}

static void utc_now(char *buf, size_t cap)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Write status.json of a cell that has ended; returns the new state (C_OK or C_FAILED). */
static int finish_cell(const bfc_sweep_cell *c, const char *dir, run *r, int wstatus, char *reason,
                       size_t cap)
{
    int ok = WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0 && file_exists(dir, "result.csv");
    const char *status = ok ? "ok" : r->interrupted ? "interrupted" : "failed";
    if (ok)
        snprintf(reason, cap, "ok");
    else if (r->timed_out)
        snprintf(reason, cap, "timed out after %.0f s", r->term_at - r->t0);
    else if (r->interrupted)
        snprintf(reason, cap, "interrupted");
    else if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0)
        snprintf(reason, cap, "exited 0 without writing result.csv");
    else if (WIFEXITED(wstatus))
        snprintf(reason, cap, "exit code %d", WEXITSTATUS(wstatus));
    else
        snprintf(reason, cap, "killed by signal %d (%s)", WTERMSIG(wstatus),
                 strsignal(WTERMSIG(wstatus)));
    char tail[STDERR_TAIL_LINES][320], path[4352], when[32];
    pjoin(path, sizeof path, dir, "stderr.log");
    int nt = ok ? 0 : stderr_tail(path, tail, STDERR_TAIL_LINES);
    utc_now(when, sizeof when);
    bfc_jw j;
    bfc_jw_init(&j);
    j.pretty = 1;
    bfc_jw_obj_begin(&j);
    bfc_jw_kv_str(&j, "status", status);
    bfc_jw_kv_str(&j, "reason", reason);
    bfc_jw_kv_str(&j, "method", c->method);
    bfc_jw_kv_str(&j, "target", c->target);
    bfc_jw_kv_int(&j, "n", c->n);
    bfc_jw_kv_int(&j, "seed", c->seed);
    bfc_jw_kv_str(&j, "key", c->key);
    bfc_jw_kv_str(&j, "command", c->cmdline);
    bfc_jw_key(&j, "exit_code");
    if (WIFEXITED(wstatus))
        bfc_jw_int(&j, WEXITSTATUS(wstatus));
    else
        bfc_jw_null(&j);
    bfc_jw_key(&j, "signal");
    if (WIFSIGNALED(wstatus))
        bfc_jw_int(&j, WTERMSIG(wstatus));
    else
        bfc_jw_null(&j);
    bfc_jw_kv_num(&j, "wall_s", r->wall);
    bfc_jw_kv_num(&j, "cpu_s", r->cpu);
    bfc_jw_key(&j, "stderr_tail");
    bfc_jw_arr_begin(&j);
    for (int i = 0; i < nt; i++) bfc_jw_str(&j, tail[i]);
    bfc_jw_arr_end(&j);
    bfc_jw_kv_str(&j, "finished_utc", when);
    bfc_jw_obj_end(&j);
    pjoin(path, sizeof path, dir, "status.json");
    if (bfc_jw_write_file(&j, path)) fprintf(stderr, "bfc sweep: %s\n", bfc_last_error());
    bfc_jw_free(&j);
    if (!ok && nt) {
        size_t len = strlen(reason);
        snprintf(reason + len, cap - len, ": %s", tail[nt - 1]);
    }
    return ok ? C_OK : C_FAILED;
}

/* The environment of a cell: ours with OPENBLAS_NUM_THREADS=1 (one BLAS thread per cell;
 * the parallelism is across cells). Built before fork so the child only calls execve. */
static char **cell_environment(void)
{
    int n = 0;
    while (environ[n]) n++;
    char **env = xrealloc(NULL, sizeof(char *) * (size_t)(n + 2));
    int k = 0;
    for (int i = 0; i < n; i++)
        if (strncmp(environ[i], "OPENBLAS_NUM_THREADS=", 21)) env[k++] = environ[i];
    env[k++] = "OPENBLAS_NUM_THREADS=1";
    env[k] = NULL;
    return env;
}

static void remove_in(const char *dir, const char *name)
{
    char p[4352];
    pjoin(p, sizeof p, dir, name);
    unlink(p);
}

/* A cell of a killed sweep may still be finishing (its checkpoint, on the SIGTERM it got when
 * its parent died): its directory is taken over once it has let go, waiting this long. */
#define CELL_LOCK_WAIT_S 30.0

/* Start one cell; 0 and r->pid on success, else a status with a message. The cell runs
 * with --force: the sweep owns its cells' directories and starts a failed or interrupted
 * cell afresh. */
static int launch(const char *exe, const bfc_sweep_cell *c, const char *dir, char **env, run *r)
{
    int lock = -1, st = bfc_mkdir_p(dir);
    if (!st) st = bfc_dir_lock(dir, "bfc sweep", CELL_LOCK_WAIT_S, &lock);
    if (st) return st;
    static const char *const stale[] = {"status.json", "result.csv", "result.json", "curve.csv",
                                        "stdout.json"};
    for (size_t i = 0; i < sizeof stale / sizeof *stale; i++) remove_in(dir, stale[i]);
    DIR *dp = opendir(dir); /* temporary files of a killed run ("curve.csv.tmp.<pid>") */
    for (struct dirent *e = dp ? readdir(dp) : NULL; e; e = readdir(dp))
        if (strstr(e->d_name, ".tmp.")) remove_in(dir, e->d_name);
    if (dp) closedir(dp);
    char *full = xprintf("%s --json --quiet --force --out %s\n", c->cmdline, dir);
    char path[4352];
    pjoin(path, sizeof path, dir, "cmd.txt");
    st = bfc_write_file_atomic(path, full, strlen(full));
    free(full);
    bfc_dir_unlock(lock); /* the cell takes it */
    if (st) return st;
    char **argv = xrealloc(NULL, sizeof(char *) * (size_t)(c->argc + 8));
    int k = 0;
    argv[k++] = "bfc";
    for (int i = 0; i < c->argc; i++) argv[k++] = c->argv[i];
    argv[k++] = "--json";
    argv[k++] = "--quiet";
    argv[k++] = "--force";
    argv[k++] = "--out";
    argv[k++] = (char *)dir;
    argv[k] = NULL;
    char out_path[4352], err_path[4352];
    pjoin(out_path, sizeof out_path, dir, "stdout.json");
    pjoin(err_path, sizeof err_path, dir, "stderr.log");
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        free(argv);
        return bfc_fail(BFC_EIO, "cannot start a cell: fork: %s", strerror(errno));
    }
    if (pid == 0) {
        /* own process group: a terminal's Ctrl-C reaches the sweep, which decides */
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent) _exit(126);
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        sigaction(SIGINT, &dfl, NULL);
        sigaction(SIGTERM, &dfl, NULL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        int fi = open("/dev/null", O_RDONLY);
        int fo = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int fe = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fi < 0 || fo < 0 || fe < 0) _exit(126);
        dup2(fi, 0);
        dup2(fo, 1);
        dup2(fe, 2);
        execve(exe, argv, env);
        static const char msg[] = "bfc sweep: cannot execute the bfc executable\n";
        ssize_t w = write(2, msg, sizeof msg - 1);
        (void)w;
        _exit(127);
    }
    setpgid(pid, pid); /* also here, so that kill(-pid) works before the child runs */
    free(argv);
    r->pid = pid;
    r->t0 = bfc_wall_seconds();
    r->state = C_RUNNING;
    return BFC_OK;
}

static void fmt_duration(double s, char *buf, size_t cap)
{
    if (!(s >= 0) || !isfinite(s))
        snprintf(buf, cap, "?");
    else if (s < 60)
        snprintf(buf, cap, "%.0fs", s);
    else if (s < 3600)
        snprintf(buf, cap, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
    else
        snprintf(buf, cap, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
}

/* Cost model for the ETA, from the finished cells: per series (target × method), the
 * least-squares fit log wall = a + b log n. A series with one distinct n borrows b from its
 * command (the median slope of that command's series with two or more, 0 without: a
 * learner's cost does not grow with n, a kernel's does); a series with nothing finished
 * borrows the method's mean over other targets, then the command's, then everyone's. */
typedef struct {
    int cnt, distinct; /* finished cells; 1 if they have two or more distinct n */
    double sx, sy, sxx, sxy;
    int n0; /* the n of the first finished cell */
} cost_series;

static double series_slope(const cost_series *c)
{
    double var = c->sxx - c->sx * c->sx / c->cnt;
    double b = var > 1e-12 ? (c->sxy - c->sx * c->sy / c->cnt) / var : 0;
    return b < 0 ? 0 : b > 3 ? 3 : b;
}

static double eta(const bfc_sweep *s, const run *r, int jobs, double now, int stopping)
{
    const int ns = s->nt * s->nm;
    cost_series *cs = xrealloc(NULL, sizeof(cost_series) * (size_t)ns);
    memset(cs, 0, sizeof(cost_series) * (size_t)ns);
    double all = 0;
    int nall = 0;
    for (int j = 0; j < s->ncells; j++) {
        if (r[j].state != C_OK || !(r[j].wall > 0)) continue;
        cost_series *c = &cs[s->ci[j].t * s->nm + s->ci[j].m];
        double x = log(s->cells[j].n), y = log(r[j].wall);
        if (!c->cnt)
            c->n0 = s->cells[j].n;
        else if (s->cells[j].n != c->n0)
            c->distinct = 1;
        c->cnt++, c->sx += x, c->sy += y, c->sxx += x * x, c->sxy += x * y;
        all += y, nall++;
    }
    double left = 0;
    for (int i = 0; i < s->ncells && left >= 0; i++) {
        if ((r[i].state != C_PENDING || stopping) && r[i].state != C_RUNNING) continue;
        const int ti = s->ci[i].t, mi = s->ci[i].m;
        const char *cmd = s->cells[i].argv[0];
        const cost_series *c = &cs[ti * s->nm + mi];
        double e = -1, x = log(s->cells[i].n);
        if (c->cnt) {
            double b = 0;
            if (c->distinct)
                b = series_slope(c);
            else { /* the command's median slope */
                double sl[256];
                int k = 0;
                for (int q = 0; q < ns && k < 256; q++)
                    if (cs[q].distinct && !strcmp(s->m[q % s->nm].command, cmd))
                        sl[k++] = series_slope(&cs[q]);
                b = k ? median(sl, k) : 0;
            }
            e = exp(c->sy / c->cnt + b * (x - c->sx / c->cnt));
        } else { /* the method elsewhere, the command, everyone: geometric means */
            double sy = 0;
            int cnt = 0;
            for (int pass = 0; pass < 2 && !cnt; pass++)
                for (int q = 0; q < ns; q++)
                    if (cs[q].cnt &&
                        (pass ? !strcmp(s->m[q % s->nm].command, cmd) : q % s->nm == mi))
                        sy += cs[q].sy, cnt += cs[q].cnt;
            if (cnt)
                e = exp(sy / cnt);
            else if (nall)
                e = exp(all / nall);
        }
        if (e < 0)
            left = -1;
        else
            left += r[i].state == C_RUNNING ? fmax(e - (now - r[i].t0), 0) : e;
    }
    free(cs);
    return left < 0 ? -1 : left / jobs;
}

/* The 1-minute load average: other work on the machine inflates the cells' wall times. */
static double load_average(void)
{
    double x = NAN;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &x) != 1) x = NAN;
        fclose(f);
    }
    return x;
}

int bfc_sweep_run(bfc_sweep *s, const bfc_sweep_run_opts *o, bfc_sweep_summary *sum)
{
    bfc_sweep_summary local;
    if (!sum) sum = &local;
    memset(sum, 0, sizeof *sum);
    if (!s->ncells) return bfc_fail(BFC_EINVAL, "bfc_sweep_run: no cells (call bfc_sweep_expand)");
    if (strlen(o->out) > OUT_MAX)
        return bfc_fail(BFC_EINVAL, "output directory name longer than %d characters", OUT_MAX);
    char cells[4200];
    pjoin(cells, sizeof cells, o->out, "cells");
    int st = bfc_check_writable_dir(cells);
    if (st) return st;
    /* one sweep per output directory at a time */
    int lock_fd = -1;
    if ((st = bfc_dir_lock(o->out, "bfc sweep", 0, &lock_fd))) return st;
    const int jobs = o->jobs > 0 ? o->jobs : 1;
    const double timeout = o->timeout_s >= 0 ? o->timeout_s : s->timeout_s;
    const double t_start = bfc_wall_seconds();
    sum->load_start = load_average();
    sum->ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
    run *r = xrealloc(NULL, sizeof(run) * (size_t)s->ncells);
    memset(r, 0, sizeof(run) * (size_t)s->ncells);
    char dir[4352], reason[1024];
    int *queue = xrealloc(NULL, sizeof(int) * (size_t)s->ncells), nq = 0;
    for (int i = 0; i < s->ncells; i++) {
        if (s->ci[i].dup_of >= 0) {
            r[i].state = C_DUP;
            continue;
        }
        sum->total++;
        cell_dir(o->out, &s->cells[i], dir, sizeof dir);
        double w;
        if (read_status(dir, &w, NULL, NULL, 0) == 1) {
            r[i].state = C_OK;
            r[i].cached = 1;
            r[i].wall = w;
            sum->cached++;
            sum->ok++;
        } else {
            queue[nq++] = i;
        }
    }
    /* longest first, for a short makespan: baselines (cost grows like n^3) by n descending,
     * then the learners... */
    for (int a = 1; a < nq; a++) {
        int x = queue[a], b = a - 1;
        int px = strcmp(s->cells[x].argv[0], "train") ? s->cells[x].n : 0;
        while (b >= 0) {
            int y = queue[b];
            int py = strcmp(s->cells[y].argv[0], "train") ? s->cells[y].n : 0;
            if (py >= px) break;
            queue[b + 1] = queue[b];
            b--;
        }
        queue[b + 1] = x;
    }
    /* ...but first one cell of each method, at its smallest n: cheap, and it gives the ETA a
     * cost for every method early */
    int front = 0;
    for (int mi = 0; mi < s->nm; mi++) {
        int best = -1;
        for (int q = front; q < nq; q++)
            if (s->ci[queue[q]].m == mi &&
                (best < 0 || s->cells[queue[q]].n < s->cells[queue[best]].n))
                best = q;
        if (best < 0) continue;
        int x = queue[best];
        memmove(queue + front + 1, queue + front, sizeof(int) * (size_t)(best - front));
        queue[front++] = x;
    }
    if (!o->quiet)
        fprintf(stderr,
                "bfc sweep: %s: %d cells (%d finished before, %d to run), %d jobs, results in %s\n",
                bfc_sweep_name(s), sum->total, sum->cached, nq, jobs, o->out);
    char **env = cell_environment();
    int next = 0, running = 0, done = sum->cached, stopping = 0, killing = 0;
    while (1) {
        double now = bfc_wall_seconds();
        /* reap */
        for (int i = 0; i < s->ncells; i++) {
            if (r[i].state != C_RUNNING) continue;
            int ws;
            struct rusage ru;
            memset(&ru, 0, sizeof ru);
            pid_t p = wait4(r[i].pid, &ws, WNOHANG, &ru);
            if (p == 0 || (p < 0 && errno == EINTR)) continue;
            if (p < 0) ws = 127 << 8; /* lost: count as failed */
            running--;
            r[i].wall = bfc_wall_seconds() - r[i].t0;
            r[i].cpu = (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
                       (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
            cell_dir(o->out, &s->cells[i], dir, sizeof dir);
            r[i].state = finish_cell(&s->cells[i], dir, &r[i], ws, reason, sizeof reason);
            done++;
            if (r[i].state == C_OK)
                sum->ok++;
            else if (r[i].interrupted)
                r[i].state = C_NOT_RUN;
            else
                sum->failed++;
            if (!o->quiet) {
                char el[32], et[32];
                fmt_duration(now - t_start, el, sizeof el);
                fmt_duration(eta(s, r, jobs, now, stopping), et, sizeof et);
                fprintf(stderr,
                        "bfc sweep: [%d/%d] %s %s %s n=%d seed=%lld %.1fs | %d failed | %s "
                        "elapsed, ETA %s\n",
                        done, sum->total,
                        r[i].state == C_OK        ? "ok    "
                        : r[i].state == C_NOT_RUN ? "KILLED"
                                                  : "FAILED",
                        s->cells[i].method, s->cells[i].target, s->cells[i].n, s->cells[i].seed,
                        r[i].wall, sum->failed, el, et);
                if (r[i].state != C_OK) fprintf(stderr, "bfc sweep:   %s (%s)\n", reason, dir);
            }
        }
        /* signals: the first stops launching, the second kills what runs */
        int nsig = o->signals ? (int)*o->signals : 0;
        if (nsig >= 1 && !stopping) {
            stopping = 1;
            sum->interrupted = 1;
            if (!o->quiet)
                fprintf(stderr,
                        "bfc sweep: interrupted: no new cells; waiting for %d in flight "
                        "(interrupt again to kill them)\n",
                        running);
        }
        if (nsig >= 2 && !killing) {
            killing = 1;
            for (int i = 0; i < s->ncells; i++)
                if (r[i].state == C_RUNNING) {
                    r[i].interrupted = 1;
                    kill(-r[i].pid, SIGKILL);
                }
        }
        /* time-outs: SIGTERM (a learner still writes its results), SIGKILL after a grace */
        for (int i = 0; timeout > 0 && i < s->ncells; i++) {
            if (r[i].state != C_RUNNING) continue;
            if (!r[i].term_at && now - r[i].t0 > timeout) {
                r[i].timed_out = 1;
                r[i].term_at = now;
                kill(-r[i].pid, SIGTERM);
            } else if (r[i].term_at && !r[i].kill_sent && now - r[i].term_at > KILL_GRACE_S) {
                r[i].kill_sent = 1;
                kill(-r[i].pid, SIGKILL);
            }
        }
        /* launch */
        while (!stopping && running < jobs && next < nq) {
            int i = queue[next++];
            cell_dir(o->out, &s->cells[i], dir, sizeof dir);
            if ((st = launch(o->exe, &s->cells[i], dir, env, &r[i]))) {
                fprintf(stderr, "bfc sweep: %s\n", bfc_last_error());
                stopping = 1;
                break;
            }
            running++;
        }
        if (running == 0 && (stopping || next >= nq)) break;
        struct timespec ts = {0, POLL_NS};
        nanosleep(&ts, NULL);
    }
    for (int i = 0; i < s->ncells; i++)
        if (r[i].state == C_PENDING || r[i].state == C_NOT_RUN) sum->not_run++;
    sum->wall_s = bfc_wall_seconds() - t_start;
    sum->load_end = load_average();
    if (!o->quiet) {
        char el[32];
        fmt_duration(sum->wall_s, el, sizeof el);
        fprintf(
            stderr,
            "bfc sweep: %d of %d cells finished (%d before this run), %d failed, %d not run; %s\n",
            sum->ok, sum->total, sum->cached, sum->failed, sum->not_run, el);
    }
    free(env);
    free(queue);
    free(r);
    bfc_dir_unlock(lock_fd);
    if (st) return st;
    return sum->interrupted ? BFC_EINTR : BFC_OK;
}

/* ---- aggregation --------------------------------------------------------------------- */

int bfc_sweep_n_eps(const int *n, const double *med, int m, double eps)
{
    for (int i = 0; i < m; i++)
        if (!isnan(med[i]) && med[i] <= eps) return n[i];
    return -1;
}

/* What the aggregation knows of one cell. */
typedef struct {
    int status; /* 1 finished, 0 failed, −1 not run */
    double test_error, test_error_bulk, wall, cpu;
    double share[BFC_MAX_L + 1];
    char commit[48]; /* of the bfc that ran the cell (its result.json), "" if unknown */
    char reason[640];
} cellres;

/* One curve: a method on a target over its n grid. */
typedef struct {
    int ti, mi;
    int nn;
    int n[256];
    double med[256], lo[256], hi[256], wall[256], cpu[256]; /* wall, cpu: medians */
    double bulk[256]; /* median of test_error_bulk (NaN where a seed lacks it) */
    int ok[256], total[256];
} series;

typedef struct {
    const bfc_sweep *s;
    const char *out;
    cellres *cr;
    series *sr;
    int nsr;
    FILE *rows; /* results.csv */
} agg;

/* Read a cell's result.csv: every row to results.csv, test error and shares to cr. */
static void read_cell(agg *a, int i, const char *dir)
{
    const bfc_sweep_cell *c = &a->s->cells[i];
    cellres *cr = &a->cr[i];
    char path[4352];
    pjoin(path, sizeof path, dir, "result.csv");
    char *text = bfc_read_file(path, NULL);
    if (!text) {
        cr->status = 0;
        snprintf(cr->reason, sizeof cr->reason, "result.csv unreadable: %s", bfc_last_error());
        return;
    }
    char *save = NULL;
    int line = 0;
    for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save), line++) {
        if (line == 0) continue; /* header: method,d,L,n,seed,metric,value */
        char *v = strrchr(l, ',');
        if (!v) continue;
        *v++ = '\0';
        char *m = strrchr(l, ',');
        m = m ? m + 1 : l;
        double x = strtod(v, NULL);
        if (a->rows)
            fprintf(a->rows, "%s,%s,%d,%lld,%s,%s\n", c->method, c->target, c->n, c->seed, m, v);
        if (!strcmp(m, "test_error")) cr->test_error = x;
        if (!strcmp(m, "test_error_bulk")) cr->test_error_bulk = x;
        int l2;
        if (sscanf(m, "share_%d", &l2) == 1 && l2 >= 2 && l2 <= BFC_MAX_L) cr->share[l2] = x;
    }
    pjoin(path, sizeof path, dir, "result.json");
    char *js = bfc_read_file(path, NULL);
    bfc_json *j = js ? bfc_json_parse(js, NULL, 0) : NULL;
    const char *commit = bfc_json_string(bfc_json_get(j, "commit"));
    snprintf(cr->commit, sizeof cr->commit, "%s", commit ? commit : "");
    bfc_json_free(j);
    free(js);
    if (a->rows && isfinite(cr->wall))
        fprintf(a->rows, "%s,%s,%d,%lld,cell_wall_s,%.6g\n", c->method, c->target, c->n, c->seed,
                cr->wall);
    if (a->rows && isfinite(cr->cpu))
        fprintf(a->rows, "%s,%s,%d,%lld,cell_cpu_s,%.6g\n", c->method, c->target, c->n, c->seed,
                cr->cpu);
    free(text);
}

static series *find_series(agg *a, int ti, int mi)
{
    for (int k = 0; k < a->nsr; k++)
        if (a->sr[k].ti == ti && a->sr[k].mi == mi) return &a->sr[k];
    return NULL;
}

static void build_series(agg *a)
{
    const bfc_sweep *s = a->s;
    a->sr = xrealloc(NULL, sizeof(series) * (size_t)(s->nt * s->nm));
    a->nsr = 0;
    double *v = xrealloc(NULL, sizeof(double) * (size_t)(s->nseeds + 1));
    double *w = xrealloc(NULL, sizeof(double) * (size_t)(s->nseeds + 1));
    double *cpu = xrealloc(NULL, sizeof(double) * (size_t)(s->nseeds + 1));
    double *b = xrealloc(NULL, sizeof(double) * (size_t)(s->nseeds + 1));
    for (int i = 0; i < s->ncells; i++) {
        int ti = s->ci[i].t, mi = s->ci[i].m;
        series *sr = find_series(a, ti, mi);
        if (!sr) {
            sr = &a->sr[a->nsr++];
            memset(sr, 0, sizeof *sr);
            sr->ti = ti;
            sr->mi = mi;
        }
        int k = 0;
        while (k < sr->nn && sr->n[k] != s->cells[i].n) k++;
        if (k == sr->nn) {
            if (sr->nn == 256) continue;
            sr->n[sr->nn++] = s->cells[i].n;
        }
        sr->total[k]++;
    }
    for (int k = 0; k < a->nsr; k++) {
        series *sr = &a->sr[k];
        for (int j = 0; j < sr->nn; j++) {
            int nv = 0, nw = 0, nc = 0, nb = 0, bulk_all = 1;
            for (int i = 0; i < s->ncells; i++) {
                if (s->ci[i].t != sr->ti || s->ci[i].m != sr->mi || s->cells[i].n != sr->n[j])
                    continue;
                if (a->cr[i].status != 1 || !isfinite(a->cr[i].test_error)) continue;
                if (nv < s->nseeds) v[nv++] = a->cr[i].test_error;
                if (nb < s->nseeds && isfinite(a->cr[i].test_error_bulk))
                    b[nb++] = a->cr[i].test_error_bulk;
                else
                    bulk_all = 0;
                if (nw < s->nseeds && isfinite(a->cr[i].wall)) w[nw++] = a->cr[i].wall;
                if (nc < s->nseeds && isfinite(a->cr[i].cpu)) cpu[nc++] = a->cr[i].cpu;
            }
            sr->ok[j] = nv;
            sr->med[j] = sr->lo[j] = sr->hi[j] = NAN;
            if (nv) {
                sr->med[j] = median(v, nv); /* sorts v */
                sr->lo[j] = v[0];
                sr->hi[j] = v[nv - 1];
            }
            sr->wall[j] = median(w, nw);
            sr->cpu[j] = median(cpu, nc);
            sr->bulk[j] = nb && bulk_all ? median(b, nb) : NAN;
        }
    }
    free(v);
    free(w);
    free(cpu);
    free(b);
}

/* Backward depth D of a train method on a target (−1 when it has none). */
static int method_depth(const method *m, const target *t)
{
    int top = t->tc.L - 2;
    if (m->schedule == BFC_SCHED_E2E) return top;
    if (m->schedule == BFC_SCHED_LAYERWISE) return 0;
    if (m->schedule == BFC_SCHED_DEPTH) return m->depth < top ? m->depth : top;
    return -1;
}

/* Median over the target's finished cells of share_l (from the learner's results). */
static double target_share(const agg *a, int ti, int l)
{
    const bfc_sweep *s = a->s;
    double *v = xrealloc(NULL, sizeof(double) * (size_t)(s->ncells + 1));
    int nv = 0;
    for (int i = 0; i < s->ncells; i++)
        if (s->ci[i].t == ti && a->cr[i].status == 1 && a->cr[i].share[l] > 0)
            v[nv++] = a->cr[i].share[l];
    double m = median(v, nv);
    free(v);
    return m;
}

/* How many targets share t's group, and whether their d differ. */
static int group_size(const bfc_sweep *s, int ti, int *distinct_d)
{
    int n = 0, dd = 0;
    for (int j = 0; j < s->nt; j++)
        if (!strcmp(s->t[j].group, s->t[ti].group)) {
            n++;
            if (s->t[j].tc.d != s->t[ti].tc.d) dd = 1;
        }
    if (distinct_d) *distinct_d = dd;
    return n;
}

static int first_in_group(const bfc_sweep *s, int ti)
{
    for (int j = 0; j < ti; j++)
        if (!strcmp(s->t[j].group, s->t[ti].group)) return 0;
    return 1;
}

static void describe_target(const target *t, char *buf, size_t cap)
{
    const bfc_target_config *c = &t->tc;
    int len = snprintf(buf, cap, "d=%d, L=%d, k=%d", c->d, c->L, c->k[2]);
    if (c->alpha_explicit)
        len += snprintf(buf + len, cap - (size_t)len, ", explicit alpha");
    else
        len += snprintf(buf + len, cap - (size_t)len, ", g=%g", c->gap);
    if (c->noise > 0) snprintf(buf + len, cap - (size_t)len, ", noise %g", c->noise);
}

/* Figure tables. Each is a CSV of blocks separated by two blank lines (gnuplot's "index"),
 * each block opening with a header row whose first field is the series title. */
typedef struct {
    FILE *list; /* figures.txt */
    const char *out;
} figs;

static FILE *fig_open(const figs *f, const char *name, bfc_afile **af)
{
    char path[4352];
    pjoin(path, sizeof path, f->out, name);
    *af = bfc_afile_open(path);
    return *af ? bfc_afile_fp(*af) : NULL;
}

static int fig_close(const figs *f, bfc_afile *af, const char *script, const char *csv,
                     const char *title, int nblocks)
{
    if (!nblocks) {
        bfc_afile_abort(af);
        return BFC_OK;
    }
    int st = bfc_afile_commit(af);
    if (!st) {
        char png[256];
        snprintf(png, sizeof png, "%.*s.png", (int)(strlen(csv) - 4), csv);
        fprintf(f->list, "%s %s %s %s\n", script, csv, png, title);
    }
    return st;
}

static void series_title(const agg *a, const series *sr, int with_target, char *buf, size_t cap)
{
    if (with_target)
        snprintf(buf, cap, "%s (%s)", a->s->m[sr->mi].name, a->s->t[sr->ti].name);
    else
        snprintf(buf, cap, "%s", a->s->m[sr->mi].name);
}

/* error vs n and error vs wall time, one figure each per group of targets */
static int fig_error(const agg *a, const figs *f, int ti, int vs_time)
{
    const bfc_sweep *s = a->s;
    int multi = group_size(s, ti, NULL) > 1;
    char csv[160], title[256], desc[128], name[160];
    snprintf(csv, sizeof csv, "fig_error_%s_%s.csv", vs_time ? "time" : "n", s->t[ti].group);
    describe_target(&s->t[ti], desc, sizeof desc);
    if (multi)
        snprintf(title, sizeof title, "%s (targets of group %s)",
                 vs_time ? "error vs wall time" : "error vs n", s->t[ti].group);
    else
        snprintf(title, sizeof title, "%s: target %s (%s)",
                 vs_time ? "error vs wall time" : "error vs n", s->t[ti].name, desc);
    bfc_afile *af;
    FILE *o = fig_open(f, csv, &af);
    if (!o) return BFC_EIO;
    fprintf(o,
            "# %s: median, min and max over seeds of the relative test error; the last three\n"
            "# columns give the series' colour (its method), point type and dash (its target)\n",
            title);
    int blocks = 0, colour = 0;
    for (int mi = 0; mi < s->nm; mi++) { /* method-major, so that colour = method */
        int shown = 0, tk = 0;
        for (int tj = 0; tj < s->nt; tj++) {
            if (strcmp(s->t[tj].group, s->t[ti].group)) continue;
            const series *sr = find_series((agg *)a, tj, mi);
            int point = multi ? tk++ : colour, any = 0;
            for (int j = 0; sr && j < sr->nn; j++) any |= sr->ok[j] > 0;
            if (!any) continue;
            series_title(a, sr, multi, name, sizeof name);
            fprintf(o, "%s\"%s\",%s,median,min,max,n,colour,point,dash\n", blocks ? "\n\n" : "",
                    name, vs_time ? "wall_s" : "n");
            for (int j = 0; j < sr->nn; j++)
                if (sr->ok[j] && (!vs_time || isfinite(sr->wall[j])))
                    fprintf(o, "%.6g,%.6g,%.6g,%.6g,%d,%d,%d,%d\n",
                            vs_time ? sr->wall[j] : (double)sr->n[j], sr->med[j], sr->lo[j],
                            sr->hi[j], sr->n[j], colour, point, multi ? point : 0);
            blocks++;
            shown = 1;
        }
        colour += shown;
    }
    return fig_close(f, af, vs_time ? "error_time" : "error_n", csv, title, blocks);
}

/* Least-squares slope and intercept of log y on log x over m points; 0 if m < 2. */
static int loglog_fit(const double *x, const double *y, int m, double *b, double *c)
{
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (int i = 0; i < m; i++) {
        double lx = log(x[i]), ly = log(y[i]);
        sx += lx, sy += ly, sxx += lx * lx, sxy += lx * ly;
    }
    double var = sxx - sx * sx / m;
    if (m < 2 || var <= 0) return 0;
    *b = (sxy - sx * sy / m) / var;
    *c = (sy - *b * sx) / m;
    return 1;
}

/* n_ε(d) of one method over the targets of a group (SPEC §5, C5). */
typedef struct {
    int m;                /* targets of the group where the method has finished cells */
    double d[64], ne[64]; /* d, and n_ε (or the largest n run when not reached) */
    int reached[64];
    int fails_low[64]; /* 1: the median error at the smallest n run is > ε */
    int nr;            /* targets where ε was reached */
    int fitted;        /* n_ε = C d^b fitted over the reached points (nr ≥ 2) */
    double b, c;       /* slope and log C */
    double b_low;      /* lower bound on the slope from a reached d to a larger d where
                             ε was not reached (−inf when there is no such pair) */
} dcurve;

static void neps_vs_d(const agg *a, int ti, int mi, double eps, dcurve *dc)
{
    const bfc_sweep *s = a->s;
    memset(dc, 0, sizeof *dc);
    double rd[64], rn[64];
    for (int k = 0; k < a->nsr && dc->m < 64; k++) {
        const series *sr = &a->sr[k];
        if (sr->mi != mi || strcmp(s->t[sr->ti].group, s->t[ti].group)) continue;
        int nmax = -1, first = -1;
        for (int j = 0; j < sr->nn; j++)
            if (sr->ok[j]) {
                nmax = sr->n[j];
                if (first < 0) first = j;
            }
        if (nmax < 0) continue;
        int n_eps = bfc_sweep_n_eps(sr->n, sr->med, sr->nn, eps);
        int i = dc->m++;
        dc->d[i] = s->t[sr->ti].tc.d;
        dc->ne[i] = n_eps > 0 ? n_eps : nmax;
        dc->reached[i] = n_eps > 0;
        dc->fails_low[i] = sr->med[first] > eps;
        if (dc->reached[i]) rd[dc->nr] = dc->d[i], rn[dc->nr++] = dc->ne[i];
    }
    dc->b = dc->c = NAN;
    dc->fitted = loglog_fit(rd, rn, dc->nr, &dc->b, &dc->c);
    dc->b_low = -INFINITY;
    for (int i = 0; i < dc->m; i++)
        for (int j = 0; j < dc->m; j++)
            if (dc->reached[i] && !dc->reached[j] && dc->d[j] > dc->d[i])
                dc->b_low = fmax(dc->b_low, log(dc->ne[j] / dc->ne[i]) / log(dc->d[j] / dc->d[i]));
}

/* n_ε vs d for a group of targets differing in d, at ε = eps_vs_d */
static int fig_neps_d(const agg *a, const figs *f, int ti)
{
    const bfc_sweep *s = a->s;
    const double eps = s->eps_vs_d;
    char csv[160], title[256], name[200];
    snprintf(csv, sizeof csv, "fig_neps_d_%s.csv", s->t[ti].group);
    snprintf(title, sizeof title, "sample complexity n_eps at eps = %g vs d (group %s)", eps,
             s->t[ti].group);
    bfc_afile *af;
    FILE *o = fig_open(f, csv, &af);
    if (!o) return BFC_EIO;
    fprintf(o,
            "# %s. Columns: d, n_eps (or the largest n run when never reached), reached (1/0),\n"
            "# fitted power law n_eps = C d^b at the reached points (NaN elsewhere)\n",
            title);
    int blocks = 0;
    for (int mi = 0; mi < s->nm; mi++) {
        dcurve dc;
        neps_vs_d(a, ti, mi, eps, &dc);
        if (!dc.m) continue;
        if (dc.fitted)
            snprintf(name, sizeof name, "%s: slope %.2f", s->m[mi].name, dc.b);
        else if (isfinite(dc.b_low))
            snprintf(name, sizeof name, "%s: slope > %.1f", s->m[mi].name, dc.b_low);
        else
            snprintf(name, sizeof name, "%s: no slope (reached at %d d)", s->m[mi].name, dc.nr);
        fprintf(o, "%s\"%s\",n_eps,reached,fit\n", blocks ? "\n\n" : "", name);
        for (int i = 0; i < dc.m; i++)
            fprintf(o, "%g,%g,%d,%.6g\n", dc.d[i], dc.ne[i], dc.reached[i],
                    dc.fitted && dc.reached[i] ? exp(dc.c + dc.b * log(dc.d[i])) : NAN);
        blocks++;
    }
    return fig_close(f, af, "neps_d", csv, title, blocks);
}

/* Feature errors over training of e2e and layerwise on one target (largest n at which both
 * finished, first such seed), with the stage boundaries. */
static int fig_curves(const agg *a, const figs *f, int ti)
{
    const bfc_sweep *s = a->s;
    const target *t = &s->t[ti];
    if (t->tc.L < 3) return BFC_OK;
    int me = -1, ml = -1;
    for (int mi = 0; mi < s->nm; mi++) {
        if (!strcmp(s->m[mi].role, "e2e") && me < 0 && find_series((agg *)a, ti, mi)) me = mi;
        if (!strcmp(s->m[mi].role, "layerwise") && ml < 0 && find_series((agg *)a, ti, mi)) ml = mi;
    }
    if (me < 0 || ml < 0) return BFC_OK;
    int ce = -1, cl = -1, best_n = -1;
    for (int i = 0; i < s->ncells; i++) {
        if (s->ci[i].t != ti || s->ci[i].m != me || a->cr[i].status != 1) continue;
        for (int j = 0; j < s->ncells; j++)
            if (s->ci[j].t == ti && s->ci[j].m == ml && a->cr[j].status == 1 &&
                s->cells[j].n == s->cells[i].n && s->cells[j].seed == s->cells[i].seed &&
                s->cells[i].n > best_n) {
                best_n = s->cells[i].n;
                ce = i;
                cl = j;
            }
    }
    if (ce < 0) return BFC_OK;
    char csv[160], title[256], desc[128];
    snprintf(csv, sizeof csv, "fig_curves_%s.csv", t->name);
    describe_target(t, desc, sizeof desc);
    snprintf(title, sizeof title, "feature error over training: %s (%s), n = %d, seed %lld",
             t->name, desc, best_n, s->cells[ce].seed);
    bfc_afile *af;
    FILE *o = fig_open(f, csv, &af);
    if (!o) return BFC_EIO;
    fprintf(o,
            "# %s. Blocks: one per method and layer (global step, feature error); the last\n"
            "# block holds the stage boundaries (step, lowest and highest value plotted).\n",
            title);
    int blocks = 0;
    double lo = INFINITY, hi = 0;
    long bounds[BFC_MAX_L];
    int nb = 0;
    for (int w = 0; w < 2; w++) {
        int i = w ? cl : ce;
        char dir[4352], path[4400];
        cell_dir(a->out, &s->cells[i], dir, sizeof dir);
        pjoin(path, sizeof path, dir, "curve.csv");
        char *text = bfc_read_file(path, NULL);
        if (!text) continue;
        for (int l = 2; l < t->tc.L; l++) {
            fprintf(o, "%s\"%s layer %d\",feature_error\n", blocks ? "\n\n" : "",
                    s->m[w ? ml : me].name, l);
            blocks++;
            /* stage,step,global_step,lr,loss,test_error,fe_2..fe_{L-1},wall_s */
            const char *p = strchr(text, '\n');
            int prev_stage = -1;
            long prev_step = 0;
            while (p && *++p) {
                int stage;
                long gstep;
                if (sscanf(p, "%d,%*d,%ld", &stage, &gstep) != 2) break;
                const char *q = p;
                for (int col = 0; col < 6 + (l - 2) && q; col++) {
                    q = strchr(q, ',');
                    if (q) q++;
                }
                if (!q) break;
                double fe = strtod(q, NULL);
                if (fe > 0 && isfinite(fe)) {
                    fprintf(o, "%ld,%.6g\n", gstep, fe);
                    lo = fmin(lo, fe);
                    hi = fmax(hi, fe);
                }
                if (w == 0 && l == 2 && prev_stage >= 0 && stage != prev_stage && nb < BFC_MAX_L)
                    bounds[nb++] = prev_step; /* the last evaluation of the stage before */
                prev_stage = stage;
                prev_step = gstep;
                p = strchr(p, '\n');
            }
        }
        free(text);
    }
    if (blocks) { /* always the last block, so that the script knows which one it is */
        fprintf(o, "\n\n\"stage boundary\",lo,hi\n");
        for (int b = 0; b < nb && hi > 0; b++)
            fprintf(o, "%ld,%.6g,%.6g\n", bounds[b], lo / 1.5, hi * 1.5);
        if (!nb || !(hi > 0)) fprintf(o, "NaN,NaN,NaN\n");
    }
    return fig_close(f, af, "curves", csv, title, blocks);
}

/* Error vs backward depth D, one curve per n. */
static int fig_depth(const agg *a, const figs *f, int ti)
{
    const bfc_sweep *s = a->s;
    const target *t = &s->t[ti];
    int dm[BFC_MAX_L + 1]; /* method of each depth */
    int nd = 0;
    for (int D = 0; D <= BFC_MAX_L; D++) dm[D] = -1;
    for (int mi = 0; mi < s->nm; mi++) {
        int D = method_depth(&s->m[mi], t);
        if (D >= 0 && dm[D] < 0 && find_series((agg *)a, ti, mi)) dm[D] = mi, nd++;
    }
    if (nd < 3 && !(nd == 2 && t->tc.L == 3)) return BFC_OK;
    char csv[160], title[256], desc[128];
    snprintf(csv, sizeof csv, "fig_depth_%s.csv", t->name);
    describe_target(t, desc, sizeof desc);
    snprintf(title, sizeof title, "error vs backward depth D: %s (%s)", t->name, desc);
    bfc_afile *af;
    FILE *o = fig_open(f, csv, &af);
    if (!o) return BFC_EIO;
    fprintf(o, "# %s. D = 0 is layerwise, D = L-2 is e2e; median, min, max over seeds\n", title);
    const int *grid = t->grid ? t->grid : s->grid;
    int ng = t->grid ? t->ngrid : s->ngrid;
    int blocks = 0;
    for (int j = 0; j < ng; j++) {
        int rows = 0;
        for (int D = 0; D <= BFC_MAX_L; D++) {
            if (dm[D] < 0) continue;
            const series *sr = find_series((agg *)a, ti, dm[D]);
            for (int k = 0; k < sr->nn; k++)
                if (sr->n[k] == grid[j] && sr->ok[k]) {
                    if (!rows++)
                        fprintf(o, "%s\"n = %d\",median,min,max,method\n", blocks ? "\n\n" : "",
                                grid[j]);
                    fprintf(o, "%d,%.6g,%.6g,%.6g,%s\n", D, sr->med[k], sr->lo[k], sr->hi[k],
                            s->m[dm[D]].name);
                }
        }
        blocks += rows > 0;
    }
    return fig_close(f, af, "depth", csv, title, blocks);
}

/* ---- report -------------------------------------------------------------------------- */

static void fmt_sig(double x, char *buf, size_t cap)
{
    if (isnan(x))
        snprintf(buf, cap, "-");
    else
        snprintf(buf, cap, "%.2g", x);
}

static const series *role_series(const agg *a, int ti, const char *role)
{
    for (int mi = 0; mi < a->s->nm; mi++)
        if (!strcmp(a->s->m[mi].role, role)) {
            const series *sr = find_series((agg *)a, ti, mi);
            if (sr) return sr;
        }
    return NULL;
}

/* Index of n in the series among its points with finished cells, −1 if none. */
static int series_point(const series *sr, int n)
{
    for (int j = 0; sr && j < sr->nn; j++)
        if (sr->n[j] == n && sr->ok[j]) return j;
    return -1;
}

static double series_at(const series *sr, int n)
{
    const int j = series_point(sr, n);
    return j < 0 ? NAN : sr->med[j];
}

static double series_bulk_at(const series *sr, int n)
{
    const int j = series_point(sr, n);
    return j < 0 ? NAN : sr->bulk[j];
}

/* Beside C3's verdict, not a verdict: the same ratio on test_error_bulk, the error on the
 * central 99.9% of G* (ours). From L = 4 on a handful of extreme test points can dominate
 * the plain relative error of every method; this line shows whether the separation holds
 * on the rest. */
static void c3_bulk_line(FILE *o, const series *e2e, const series *lw)
{
    char buf[2048] = "";
    int tot = 0;
    for (int j = 0; j < e2e->nn; j++) {
        int n = e2e->n[j];
        double me = series_bulk_at(e2e, n), ml = series_bulk_at(lw, n);
        if (isnan(me) || isnan(ml)) continue;
        size_t len = strlen(buf);
        snprintf(buf + len, sizeof buf - len, "%s n=%d: %.3g", tot++ ? ";" : "", n, ml / me);
    }
    if (tot)
        fprintf(o, "  - the same ratio on `test_error_bulk` (central 99.9%% of G*; ours, "
                   "reported, not judged):%s\n", buf);
}

#define CLAIM_RATIO 3.0 /* C3, C4, C6 (SPEC §5): the other method's median error ≥ 3 × e2e's */

/* One verdict line: ratio = other/e2e at each n where both have a median. */
static void verdict(FILE *o, const char *claim, const char *what, const series *e2e,
                    const series *other, const agg *a, int ti, int best_kernel)
{
    const bfc_sweep *s = a->s;
    char buf[4096] = "";
    int pass = 0, tot = 0;
    for (int j = 0; e2e && j < e2e->nn; j++) {
        int n = e2e->n[j];
        double me = series_at(e2e, n), mo = NAN;
        const char *who = "";
        if (best_kernel) {
            for (int mi = 0; mi < s->nm; mi++) {
                const char *r = s->m[mi].role;
                if (strcmp(r, "kernel") && strcmp(r, "ntk") && strcmp(r, "nngp")) continue;
                double x = series_at(find_series((agg *)a, ti, mi), n);
                if (!isnan(x) && (isnan(mo) || x < mo)) mo = x, who = s->m[mi].name;
            }
        } else {
            mo = series_at(other, n);
        }
        if (isnan(me) || isnan(mo)) continue;
        double ratio = mo / me;
        tot++;
        pass += ratio >= CLAIM_RATIO;
        size_t len = strlen(buf);
        snprintf(buf + len, sizeof buf - len, "%s n=%d: %.3g%s%s%s", tot > 1 ? ";" : "", n, ratio,
                 best_kernel ? " (" : "", best_kernel ? who : "", best_kernel ? ")" : "");
    }
    const char *v = !tot ? "N/A" : pass == tot ? "PASS" : pass ? "PARTIAL" : "FAIL";
    fprintf(o, "- **%s** %s, target %s: **%s**", claim, what, s->t[ti].name, v);
    if (tot)
        fprintf(o, " (ratio >= %g at %d of %d n; ratios%s)\n", CLAIM_RATIO, pass, tot, buf);
    else
        fprintf(o, " (no n at which both have finished cells)\n");
}

/* Split one RFC 4180 CSV line into at most max fields (each truncated to 1023 bytes), with
 * '|' escaped for a Markdown table; returns the number of fields. */
static int csv_fields(const char *line, char field[][1024], int max)
{
    int nf = 0, quoted = 0;
    size_t k = 0;
    for (const char *p = line;; p++) {
        int end = *p == '\0' || (!quoted && *p == ',');
        if (end) {
            field[nf++][k] = '\0';
            k = 0;
            if (!*p || nf == max) return nf;
            continue;
        }
        if (*p == '"' && quoted && p[1] == '"')
            p++; /* "" inside quotes */
        else if (*p == '"') {
            quoted = !quoted;
            continue;
        }
        if (k + 2 < 1024) {
            if (*p == '|') field[nf][k++] = '\\';
            field[nf][k++] = *p;
        }
    }
}

/* The text of out/rel (to free), or NULL after writing "Not run with this sweep (how).". */
static char *report_input(FILE *o, const char *out, const char *rel, const char *how)
{
    char path[4352];
    pjoin(path, sizeof path, out, rel);
    char *text = bfc_read_file(path, NULL);
    if (!text) fprintf(o, "Not run with this sweep (%s).\n\n", how);
    return text;
}

static void report_checks(FILE *o, const char *out)
{
    char *text = report_input(o, out, "checks/verdicts.csv",
                              "`make bench` runs `bfc_check --size full --out DIR/checks` after "
                              "the sweep unless BENCH_CHECKS=0");
    if (!text) return;
    const int has_c4_c6 = strstr(text, "\nC4") || strstr(text, "\nC6"); /* before strtok */
    fprintf(o, "From `checks/verdicts.csv` (bfc_check with its own runs; details in "
               "`checks/checks.csv`):\n\n| claim | verdict | summary |\n|---|---|---|\n");
    char *save = NULL;
    int line = 0;
    for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save), line++) {
        if (line == 0) continue; /* header claim,verdict,summary */
        char field[3][1024];
        int nf = csv_fields(l, field, 3);
        if (nf >= 2) fprintf(o, "| %s | %s | %s |\n", field[0], field[1], field[2]);
    }
    fprintf(o, "\n");
    if (!has_c4_c6)
        fprintf(o, "C4 and C6 are judged in the section above, on this sweep's cells (`make bench` "
                   "with BENCH_CHECKS=all also runs their own checks).\n\n");
    free(text);
}

/* perf/perf.md of bfc_perf (make bench runs it after the checks), embedded as it is. */
static void report_perf(FILE *o, const char *out)
{
    char *text = report_input(o, out, "perf/perf.md",
                              "`make bench` runs `bfc_perf --out DIR/perf` after the checks "
                              "unless BENCH_PERF=0; `make bench-perf` runs it alone");
    if (!text) return;
    fprintf(o, "bfc against PyTorch (the learner's training step) and scikit-learn (kernel ridge "
               "regression), timed side by side in one run, and against the DGEMM rate; from "
               "`perf/perf.md` (rows in `perf/perf.csv`).\n\n%s\n", text);
    free(text);
}

static void report_figure(FILE *o, const char *out, const char *png, const char *title)
{
    char path[4352];
    pjoin(path, sizeof path, out, png);
    if (!access(path, R_OK))
        fprintf(o, "![%s](%s)\n\n*%s* (`%s`)\n\n", title, png, title, png);
    else
        fprintf(
            o, "- *%s*: `%s` not drawn (gnuplot -c plots/SCRIPT.gp CSV PNG, as in figures.txt)\n\n",
            title, png);
}

/* Distinct commits of the finished cells with their counts, as "abc (12 cells), def (3)". */
static void cell_commits(const agg *a, char *buf, size_t cap)
{
    const bfc_sweep *s = a->s;
    buf[0] = '\0';
    for (int i = 0; i < s->ncells; i++) {
        if (a->cr[i].status != 1 || s->ci[i].dup_of >= 0) continue;
        int seen = 0, count = 0;
        for (int j = 0; j < i; j++)
            seen |= a->cr[j].status == 1 && s->ci[j].dup_of < 0 &&
                    !strcmp(a->cr[j].commit, a->cr[i].commit);
        if (seen) continue;
        for (int j = i; j < s->ncells; j++)
            count += a->cr[j].status == 1 && s->ci[j].dup_of < 0 &&
                     !strcmp(a->cr[j].commit, a->cr[i].commit);
        size_t len = strlen(buf);
        snprintf(buf + len, cap - len, "%s%s (%d cells)", len ? ", " : "",
                 a->cr[i].commit[0] ? a->cr[i].commit : "unknown", count);
    }
}

static int write_report(const agg *a, const bfc_sweep_summary *sum, const char *meta_json)
{
    const bfc_sweep *s = a->s;
    char path[4352];
    pjoin(path, sizeof path, a->out, "REPORT.md");
    bfc_afile *af = bfc_afile_open(path);
    if (!af) return BFC_EIO;
    FILE *o = bfc_afile_fp(af);
    bfc_json *meta = bfc_json_parse(meta_json, NULL, 0);
#define META(k)                                                                                    \
    (bfc_json_string(bfc_json_get(meta, k)) ? bfc_json_string(bfc_json_get(meta, k)) : "unknown")
    fprintf(o, "# Sweep report: %s%s\n\n", bfc_sweep_name(s), s->quick ? " (quick subset)" : "");
    if (s->description) fprintf(o, "%s\n\n", s->description);
    int nok = 0, nfail = 0, nnot = 0, total = 0;
    double cell_sum = 0;
    for (int i = 0; i < s->ncells; i++) {
        if (s->ci[i].dup_of >= 0) continue;
        total++;
        if (a->cr[i].status == 1)
            nok++, cell_sum += isfinite(a->cr[i].wall) ? a->cr[i].wall : 0;
        else if (a->cr[i].status == 0)
            nfail++;
        else
            nnot++;
    }
    fprintf(o,
            "- configuration: `%s`; results: `results.csv` (long format), `sweep.json` (resolved "
            "configuration, run metadata), `summary.csv`, `neps.csv`\n",
            s->what);
    char commits[1024];
    cell_commits(a, commits, sizeof commits);
    fprintf(o,
            "- code: bfc %s, %s; the cells ran at commit %s; this report by commit %s; CPU %s; "
            "OpenBLAS core %s, one BLAS thread per cell\n",
            META("bfc_version"), META("compiler"), commits[0] ? commits : "-", META("commit"),
            META("cpu"), META("blas_core"));
    fprintf(o,
            "- cells: %d (%d finished, %d failed, %d not run); sum of the cells' wall times %.0f s",
            total, nok, nfail, nnot, cell_sum);
    if (sum && sum->total)
        fprintf(o,
                "; this run: %.0f s wall for %d cells (%d taken from earlier runs)%s; machine load "
                "average %.1f at the start, %.1f at the end, on %d CPUs (wall times include any "
                "other work on the machine; CPU times do not)",
                sum->wall_s, sum->total - sum->cached, sum->cached,
                sum->interrupted ? ", interrupted" : "", sum->load_start, sum->load_end, sum->ncpu);
    fprintf(o, "\n- written %s\n\n", META("date_utc"));

    fprintf(o,
            "## Targets\n\nShares v_l = Var(alpha_l |S*_l|^2)/Var(G*) (SPEC §1), median over the "
            "learner cells' targets.\n\n| target | group | configuration | target seed | shares "
            "v_2..v_L | extra flags |\n|---|---|---|---|---|---|\n");
    for (int ti = 0; ti < s->nt; ti++) {
        const target *t = &s->t[ti];
        int used = 0;
        for (int i = 0; i < s->ncells; i++) used |= s->ci[i].t == ti;
        if (!used) continue;
        char desc[128], sh[256] = "";
        describe_target(t, desc, sizeof desc);
        for (int l = 2; l <= t->tc.L; l++) {
            double v = target_share(a, ti, l);
            size_t len = strlen(sh);
            snprintf(sh + len, sizeof sh - len, "%s%.3g", l > 2 ? ", " : "", v);
        }
        fprintf(o, "| %s | %s | %s | %s | %s | ", t->name, t->group, desc,
                t->target_seed_fixed ? flags_get(&t->problem, "target-seed") : "= seed", sh);
        for (int k = 0; k < t->args.n; k++) {
            fprintf(o, "%s%s:", k ? "<br>" : "", t->args.v[k].cmd);
            for (int f = 0; f < t->args.v[k].f.n; f++) {
                const flag *fl = &t->args.v[k].f.v[f];
                if (fl->kind == FLAG_DELETE)
                    fprintf(o, " (no --%s)", fl->name);
                else
                    fprintf(o, " --%s%s%s", fl->name, fl->kind == FLAG_VALUE ? " " : "",
                            fl->kind == FLAG_VALUE ? fl->value : "");
            }
        }
        fprintf(o, " |\n");
    }
    fprintf(o, "\n## Methods\n\n| method | role | command and flags |\n|---|---|---|\n");
    for (int mi = 0; mi < s->nm; mi++) {
        const method *m = &s->m[mi];
        int used = 0;
        for (int i = 0; i < s->ncells; i++) used |= s->ci[i].m == mi;
        if (!used) continue;
        fprintf(o, "| %s | %s | `bfc %s", m->name, m->role, m->command);
        for (int f = 0; f < m->args.n; f++)
            if (m->args.v[f].kind != FLAG_DELETE)
                fprintf(o, " --%s%s%s", m->args.v[f].name,
                        m->args.v[f].kind == FLAG_VALUE ? " " : "",
                        m->args.v[f].kind == FLAG_VALUE ? m->args.v[f].value : "");
        fprintf(o, "`");
        if (m->n_min) fprintf(o, " (n >= %d)", m->n_min);
        if (m->n_max) fprintf(o, " (n <= %d)", m->n_max);
        fprintf(o, " |\n");
    }
    const cmdargs *layers[2] = {&s->args, &s->late_args};
    for (int w = 0; w < 2; w++)
        for (int k = 0; k < layers[w]->n; k++) {
            fprintf(o, "\nEvery `%s` cell also gets%s:", layers[w]->v[k].cmd,
                    w ? " (quick or command-line overrides)" : "");
            for (int f = 0; f < layers[w]->v[k].f.n; f++) {
                const flag *fl = &layers[w]->v[k].f.v[f];
                if (fl->kind == FLAG_DELETE)
                    fprintf(o, " (no --%s)", fl->name);
                else
                    fprintf(o, " `--%s%s%s`", fl->name, fl->kind == FLAG_VALUE ? " " : "",
                            fl->kind == FLAG_VALUE ? fl->value : "");
            }
            fprintf(o, "\n");
        }
    fprintf(o, "\n\nSeeds:");
    for (int k = 0; k < s->nseeds; k++) fprintf(o, " %lld", s->seeds[k]);
    fprintf(o, " (each seed draws its own training set, test set, initialisation and minibatch "
               "order; and its own target unless the target fixes `target_seed`).\n\n");

    fprintf(o, "## Relative test error\n\nE(F - G*)^2 / Var(G*) on the test set (SPEC §4): median "
               "over seeds [min, max]; `fail` = every seed failed, `-` = not run.\n");
    for (int ti = 0; ti < s->nt; ti++) {
        const int *grid = s->t[ti].grid ? s->t[ti].grid : s->grid;
        int ng = s->t[ti].grid ? s->t[ti].ngrid : s->ngrid;
        int any = 0;
        for (int k = 0; k < a->nsr; k++) any |= a->sr[k].ti == ti;
        if (!any) continue;
        char desc[128];
        describe_target(&s->t[ti], desc, sizeof desc);
        for (int table = 0; table < 2; table++) {
            fprintf(o, "\n### %s (%s): %s\n\n| method |", s->t[ti].name, desc,
                    table ? "median wall time of a cell, s (its CPU time)" : "error");
            for (int j = 0; j < ng; j++) fprintf(o, " n = %d |", grid[j]);
            fprintf(o, "\n|---|");
            for (int j = 0; j < ng; j++) fprintf(o, "---|");
            fprintf(o, "\n");
            for (int k = 0; k < a->nsr; k++) {
                const series *sr = &a->sr[k];
                if (sr->ti != ti) continue;
                fprintf(o, "| %s |", s->m[sr->mi].name);
                for (int j = 0; j < ng; j++) {
                    int q = -1;
                    for (int r = 0; r < sr->nn; r++)
                        if (sr->n[r] == grid[j]) q = r;
                    char m1[32], m2[32], m3[32];
                    if (q < 0)
                        fprintf(o, " - |");
                    else if (!sr->ok[q])
                        fprintf(o, " fail |");
                    else if (table) {
                        fmt_sig(sr->wall[q], m1, sizeof m1);
                        fmt_sig(sr->cpu[q], m2, sizeof m2);
                        fprintf(o, " %s (%s) |", m1, m2);
                    } else {
                        fmt_sig(sr->med[q], m1, sizeof m1);
                        fmt_sig(sr->lo[q], m2, sizeof m2);
                        fmt_sig(sr->hi[q], m3, sizeof m3);
                        fprintf(o, " %s [%s, %s]%s |", m1, m2, m3,
                                sr->ok[q] < sr->total[q] ? "*" : "");
                    }
                }
                fprintf(o, "\n");
            }
        }
    }
    fprintf(o, "\n`*`: some seeds failed; the median is over those that finished.\n\n");

    fprintf(
        o,
        "## Sample and time complexity\n\nn_eps = the smallest n of the grid at which the "
        "median error over seeds is <= eps; t_eps = the median wall time of the cells at "
        "that n (SPEC §4). `> N`: not reached up to N, the largest n run; `<= N`: reached at the "
        "smallest n of the method's grid, so the true n_eps may be lower.\n\n| target | method |");
    for (int e = 0; e < s->neps; e++) fprintf(o, " n_eps (eps = %g) | t_eps (s) |", s->eps[e]);
    fprintf(o, "\n|---|---|");
    for (int e = 0; e < s->neps; e++) fprintf(o, "---|---|");
    fprintf(o, "\n");
    for (int k = 0; k < a->nsr; k++) {
        const series *sr = &a->sr[k];
        int nmax = -1;
        for (int j = 0; j < sr->nn; j++)
            if (sr->ok[j]) nmax = sr->n[j];
        if (nmax < 0) continue;
        fprintf(o, "| %s | %s |", s->t[sr->ti].name, s->m[sr->mi].name);
        for (int e = 0; e < s->neps; e++) {
            int ne = bfc_sweep_n_eps(sr->n, sr->med, sr->nn, s->eps[e]);
            if (ne < 0)
                fprintf(o, " > %d | - |", nmax);
            else {
                double t = NAN;
                for (int j = 0; j < sr->nn; j++)
                    if (sr->n[j] == ne) t = sr->wall[j];
                char m1[32];
                fmt_sig(t, m1, sizeof m1);
                fprintf(o, " %s%d | %s |", ne == sr->n[0] ? "<= " : "", ne, m1);
            }
        }
        fprintf(o, "\n");
    }

    fprintf(o, "\n## Figures\n\n");
    {
        char list[4352];
        pjoin(list, sizeof list, a->out, "figures.txt");
        char *text = bfc_read_file(list, NULL);
        char *save = NULL;
        for (char *l = text ? strtok_r(text, "\n", &save) : NULL; l;
             l = strtok_r(NULL, "\n", &save)) {
            char script[64], csv[256], png[256];
            int off = 0;
            if (sscanf(l, "%63s %255s %255s %n", script, csv, png, &off) < 3) continue;
            report_figure(o, a->out, png, l + off);
        }
        free(text);
    }

    fprintf(o, "## Claims of SPEC §5 covered by this sweep\n\nComputed from this sweep's medians "
               "over seeds at each n where both methods have finished cells. PASS: the criterion "
               "holds at every such n; PARTIAL: at some; FAIL: at none. C5 compares the exponents "
               "of n_eps(d) fitted over the d sweep (figure above).\n\n");
    int any_claim = 0;
    for (int ti = 0; ti < s->nt; ti++) {
        const series *e2e = role_series(a, ti, "e2e");
        if (!e2e) continue;
        const series *lw = role_series(a, ti, "layerwise");
        if (lw) {
            verdict(o, "C3", "layerwise median error >= 3x e2e's (same data and steps)", e2e, lw, a,
                    ti, 0);
            c3_bulk_line(o, e2e, lw);
            any_claim = 1;
        }
        int has_kernel = 0;
        for (int mi = 0; mi < s->nm; mi++) {
            const char *r = s->m[mi].role;
            if ((!strcmp(r, "kernel") || !strcmp(r, "ntk") || !strcmp(r, "nngp")) &&
                find_series((agg *)a, ti, mi))
                has_kernel = 1;
        }
        if (has_kernel) {
            verdict(o, "C4",
                    "best kernel method's median error >= 3x e2e's at every n (best over "
                    "the KRR, NTK and NNGP methods run at that n, named with each ratio)",
                    e2e, NULL, a, ti, 1);
            any_claim = 1;
        }
        for (int mi = 0; mi < s->nm; mi++) {
            const char *r = s->m[mi].role;
            if (strcmp(r, "ntk") && strcmp(r, "nngp") && strcmp(r, "seqkernel")) continue;
            const series *sr = find_series((agg *)a, ti, mi);
            if (!sr) continue;
            char what[160];
            snprintf(what, sizeof what, "%s median error >= 3x e2e's at the same n", s->m[mi].name);
            verdict(o, "C6", what, e2e, sr, a, ti, 0);
            any_claim = 1;
        }
    }
    for (int ti = 0; ti < s->nt; ti++) {
        int dd;
        if (!first_in_group(s, ti) || group_size(s, ti, &dd) < 2 || !dd) continue;
        int me = -1;
        for (int mi = 0; mi < s->nm && me < 0; mi++)
            if (!strcmp(s->m[mi].role, "e2e")) me = mi;
        if (me < 0) continue;
        dcurve e;
        neps_vs_d(a, ti, me, s->eps_vs_d, &e);
        if (!e.m) continue;
        char low[256] = "";
        for (int i = 0; i < e.m; i++)
            if (e.fails_low[i]) {
                size_t len = strlen(low);
                snprintf(low + len, sizeof low - len, "%s%g", len ? ", " : "", e.d[i]);
            }
        for (int mi = 0; mi < s->nm; mi++) {
            const char *r = s->m[mi].role;
            if (strcmp(r, "kernel") && strcmp(r, "ntk") && strcmp(r, "nngp")) continue;
            dcurve k;
            neps_vs_d(a, ti, mi, s->eps_vs_d, &k);
            if (!k.m) continue;
            any_claim = 1;
            fprintf(o, "- **C5** exponent b of n_eps(d) ~ d^b at eps = %g, %s vs %s, group %s: ",
                    s->eps_vs_d, s->m[mi].name, s->m[me].name, s->t[ti].group);
            double kb = k.fitted ? k.b : k.b_low;
            const char *how = k.fitted ? "=" : ">";
            if (!e.fitted)
                fprintf(o, "**N/A** (%s reached eps at %d of %d d: no exponent)", s->m[me].name,
                        e.nr, e.m);
            else if (!isfinite(kb))
                fprintf(o, "**N/A** (%s reached eps at %d of %d d: no exponent or bound)",
                        s->m[mi].name, k.nr, k.m);
            else
                fprintf(o, "**%s** (%s b %s %.2f, %s b = %.2f: difference %s %.2f, need >= 1%s)",
                        kb - e.b >= 1 ? "PASS"
                        : k.fitted    ? "FAIL"
                                      : "INCONCLUSIVE",
                        s->m[mi].name, how, kb, s->m[me].name, e.b, how, kb - e.b,
                        k.fitted ? ""
                                 : "; a lower bound from a d where eps was reached to a larger d "
                                   "where it was not");
            fprintf(o, "; %s fails (median > eps at the smallest n) at d = %s\n", s->m[me].name,
                    low[0] ? low : "none: the grid does not reach down to where it fails");
        }
    }
    if (!any_claim)
        fprintf(o, "None: the sweep has no e2e method next to a layerwise or kernel method.\n");
    fprintf(o, "\n## Claim checks (proofs_checks)\n\n");
    report_checks(o, a->out);
    fprintf(o, "## Performance (bench/)\n\n");
    report_perf(o, a->out);

    fprintf(o, "## Failed cells\n\n");
    int nf = 0;
    for (int i = 0; i < s->ncells; i++) {
        if (s->ci[i].dup_of >= 0 || a->cr[i].status != 0) continue;
        const bfc_sweep_cell *c = &s->cells[i];
        fprintf(o, "- %s on %s, n = %d, seed %lld: %s (`cells/%s/`)\n", c->method, c->target, c->n,
                c->seed, a->cr[i].reason, c->key);
        nf++;
    }
    if (!nf) fprintf(o, "None.\n");
    if (nnot)
        fprintf(o,
                "\n%d cells were not run (the sweep was interrupted): rerun the same command to "
                "finish them.\n",
                nnot);
#undef META
    bfc_json_free(meta);
    return bfc_afile_commit(af);
}

/* ---- results ------------------------------------------------------------------------- */

static void jw_flags(bfc_jw *j, const flagv *f)
{
    bfc_jw_arr_begin(j);
    for (int i = 0; i < f->n; i++) {
        if (f->v[i].kind == FLAG_DELETE) {
            char *x = xprintf("(no --%s)", f->v[i].name);
            bfc_jw_str(j, x);
            free(x);
            continue;
        }
        char *x = xprintf("--%s", f->v[i].name);
        bfc_jw_str(j, x);
        free(x);
        if (f->v[i].kind == FLAG_VALUE) bfc_jw_str(j, f->v[i].value);
    }
    bfc_jw_arr_end(j);
}

static void jw_cmdargs(bfc_jw *j, const cmdargs *a)
{
    bfc_jw_obj_begin(j);
    for (int i = 0; i < a->n; i++) {
        bfc_jw_key(j, a->v[i].cmd);
        jw_flags(j, &a->v[i].f);
    }
    bfc_jw_obj_end(j);
}

static int write_sidecar(const agg *a, const bfc_sweep_summary *sum, const char *meta_json)
{
    const bfc_sweep *s = a->s;
    bfc_jw j;
    bfc_jw_init(&j);
    j.pretty = 1;
    bfc_jw_obj_begin(&j);
    bfc_jw_kv_str(&j, "name", bfc_sweep_name(s));
    bfc_jw_kv_str(&j, "config", s->what);
    if (s->description) bfc_jw_kv_str(&j, "description", s->description);
    bfc_jw_kv_bool(&j, "quick", s->quick);
    bfc_jw_key(&j, "seeds");
    bfc_jw_arr_begin(&j);
    for (int i = 0; i < s->nseeds; i++) bfc_jw_int(&j, s->seeds[i]);
    bfc_jw_arr_end(&j);
    bfc_jw_key(&j, "n");
    bfc_jw_int_array(&j, s->grid, (size_t)s->ngrid);
    bfc_jw_key(&j, "eps");
    bfc_jw_num_array(&j, s->eps, (size_t)s->neps);
    bfc_jw_kv_num(&j, "eps_vs_d", s->eps_vs_d);
    bfc_jw_kv_num(&j, "timeout_s", s->timeout_s);
    bfc_jw_key(&j, "args");
    jw_cmdargs(&j, &s->args);
    bfc_jw_key(&j, "override_args");
    jw_cmdargs(&j, &s->late_args);
    bfc_jw_key(&j, "targets");
    bfc_jw_arr_begin(&j);
    for (int ti = 0; ti < s->nt; ti++) {
        const target *t = &s->t[ti];
        if (!allowed(&s->only_t, s->has_only_t, t->name)) continue;
        bfc_jw_obj_begin(&j);
        bfc_jw_kv_str(&j, "name", t->name);
        bfc_jw_kv_str(&j, "group", t->group);
        bfc_jw_kv_int(&j, "d", t->tc.d);
        bfc_jw_kv_int(&j, "L", t->tc.L);
        int k[BFC_MAX_L];
        double al[BFC_MAX_L], sh[BFC_MAX_L];
        for (int l = 2; l <= t->tc.L; l++) {
            k[l - 2] = t->tc.k[l];
            al[l - 2] = t->tc.alpha[l];
            sh[l - 2] = target_share(a, ti, l);
        }
        bfc_jw_key(&j, "k");
        bfc_jw_int_array(&j, k, (size_t)(t->tc.L - 1));
        bfc_jw_key(&j, "alpha");
        bfc_jw_num_array(&j, al, (size_t)(t->tc.L - 1));
        bfc_jw_key(&j, "shares_median");
        bfc_jw_num_array(&j, sh, (size_t)(t->tc.L - 1));
        bfc_jw_key(&j, "target_seed");
        if (t->target_seed_fixed)
            bfc_jw_int(&j, (long long)t->tc.seed);
        else
            bfc_jw_str(&j, "seed");
        bfc_jw_key(&j, "problem_flags");
        jw_flags(&j, &t->problem);
        bfc_jw_key(&j, "args");
        jw_cmdargs(&j, &t->args);
        bfc_jw_key(&j, "n");
        if (t->grid)
            bfc_jw_int_array(&j, t->grid, (size_t)t->ngrid);
        else
            bfc_jw_int_array(&j, s->grid, (size_t)s->ngrid);
        bfc_jw_obj_end(&j);
    }
    bfc_jw_arr_end(&j);
    bfc_jw_key(&j, "methods");
    bfc_jw_arr_begin(&j);
    for (int mi = 0; mi < s->nm; mi++) {
        const method *m = &s->m[mi];
        if (!allowed(&s->only_m, s->has_only_m, m->name)) continue;
        bfc_jw_obj_begin(&j);
        bfc_jw_kv_str(&j, "name", m->name);
        bfc_jw_kv_str(&j, "command", m->command);
        bfc_jw_kv_str(&j, "role", m->role);
        bfc_jw_key(&j, "args");
        jw_flags(&j, &m->args);
        if (m->n_min) bfc_jw_kv_int(&j, "n_min", m->n_min);
        if (m->n_max) bfc_jw_kv_int(&j, "n_max", m->n_max);
        bfc_jw_obj_end(&j);
    }
    bfc_jw_arr_end(&j);
    int nok = 0, nfail = 0, nnot = 0, total = 0;
    for (int i = 0; i < s->ncells; i++) {
        if (s->ci[i].dup_of >= 0) continue;
        total++;
        nok += a->cr[i].status == 1;
        nfail += a->cr[i].status == 0;
        nnot += a->cr[i].status < 0;
    }
    bfc_jw_key(&j, "cells");
    bfc_jw_obj_begin(&j);
    bfc_jw_kv_int(&j, "total", total);
    bfc_jw_kv_int(&j, "finished", nok);
    bfc_jw_kv_int(&j, "failed", nfail);
    bfc_jw_kv_int(&j, "not_run", nnot);
    bfc_jw_kv_int(&j, "blas_threads_per_cell", 1);
    char commits[1024];
    cell_commits(a, commits, sizeof commits);
    bfc_jw_kv_str(&j, "commits", commits);
    bfc_jw_obj_end(&j);
    if (sum && sum->total) {
        bfc_jw_key(&j, "last_run");
        bfc_jw_obj_begin(&j);
        bfc_jw_kv_num(&j, "wall_s", sum->wall_s);
        bfc_jw_kv_int(&j, "cells_run", sum->total - sum->cached);
        bfc_jw_kv_int(&j, "cells_cached", sum->cached);
        bfc_jw_kv_int(&j, "failed", sum->failed);
        bfc_jw_kv_bool(&j, "interrupted", sum->interrupted);
        bfc_jw_kv_num(&j, "load_average_start", sum->load_start);
        bfc_jw_kv_num(&j, "load_average_end", sum->load_end);
        bfc_jw_kv_int(&j, "cpus", sum->ncpu);
        bfc_jw_obj_end(&j);
    }
    bfc_jw_key(&j, "failures");
    bfc_jw_arr_begin(&j);
    for (int i = 0; i < s->ncells; i++) {
        if (s->ci[i].dup_of >= 0 || a->cr[i].status != 0) continue;
        bfc_jw_obj_begin(&j);
        bfc_jw_kv_str(&j, "method", s->cells[i].method);
        bfc_jw_kv_str(&j, "target", s->cells[i].target);
        bfc_jw_kv_int(&j, "n", s->cells[i].n);
        bfc_jw_kv_int(&j, "seed", s->cells[i].seed);
        bfc_jw_kv_str(&j, "key", s->cells[i].key);
        bfc_jw_kv_str(&j, "reason", a->cr[i].reason);
        bfc_jw_obj_end(&j);
    }
    bfc_jw_arr_end(&j);
    bfc_jw_key(&j, "meta");
    bfc_jw_obj_begin(&j);
    bfc_jw_obj_end(&j);
    bfc_jw_obj_end(&j);
    /* splice the metadata object in place of the empty "meta" (the writer cannot nest text) */
    int st = BFC_OK;
    if (j.failed) st = bfc_fail(BFC_ENOMEM, "sweep.json: out of memory");
    char *text = NULL;
    if (!st) {
        char *at = strstr(j.buf, "\"meta\": {}");
        if (!at) at = strstr(j.buf, "\"meta\":{}");
        if (!at)
            st = bfc_fail(BFC_EIO, "sweep.json: internal layout");
        else {
            size_t head = (size_t)(at - j.buf);
            const char *tail = strchr(at, '}') + 1;
            text = xprintf("%.*s\"meta\": %s%s\n", (int)head, j.buf, meta_json, tail);
        }
    }
    if (!st) {
        char path[4352];
        pjoin(path, sizeof path, a->out, "sweep.json");
        st = bfc_write_file_atomic(path, text, strlen(text));
    }
    free(text);
    bfc_jw_free(&j);
    return st;
}

int bfc_sweep_write_results(const bfc_sweep *s, const char *out, const bfc_sweep_summary *sum)
{
    if (strlen(out) > OUT_MAX)
        return bfc_fail(BFC_EINVAL, "output directory name longer than %d characters", OUT_MAX);
    int st = bfc_check_writable_dir(out);
    if (st) return st;
    agg a;
    memset(&a, 0, sizeof a);
    a.s = s;
    a.out = out;
    a.cr = xrealloc(NULL, sizeof(cellres) * (size_t)(s->ncells + 1));
    char path[4352], dir[4352];
    pjoin(path, sizeof path, out, "results.csv");
    bfc_afile *rows = bfc_afile_open(path);
    if (!rows) {
        free(a.cr);
        return BFC_EIO;
    }
    a.rows = bfc_afile_fp(rows);
    fprintf(a.rows, "method,target,n,seed,metric,value\n");
    for (int i = 0; i < s->ncells; i++) {
        cellres *cr = &a.cr[i];
        memset(cr, 0, sizeof *cr);
        cr->test_error = cr->test_error_bulk = cr->wall = cr->cpu = NAN;
        cell_dir(out, &s->cells[i], dir, sizeof dir);
        cr->status = read_status(dir, &cr->wall, &cr->cpu, cr->reason, sizeof cr->reason);
        if (cr->status == 1) read_cell(&a, i, dir);
    }
    st = bfc_afile_commit(rows);
    a.rows = NULL;
    if (!st) build_series(&a);

    /* summary.csv and neps.csv */
    bfc_afile *af = NULL;
    if (!st) {
        pjoin(path, sizeof path, out, "summary.csv");
        if (!(af = bfc_afile_open(path))) st = BFC_EIO;
    }
    if (!st) {
        FILE *o = bfc_afile_fp(af);
        fprintf(o, "method,target,n,seeds,median,min,max,wall_median,cpu_median\n");
        for (int k = 0; k < a.nsr; k++)
            for (int j = 0; j < a.sr[k].nn; j++)
                if (a.sr[k].ok[j])
                    fprintf(o, "%s,%s,%d,%d,%.6g,%.6g,%.6g,%.6g,%.6g\n", s->m[a.sr[k].mi].name,
                            s->t[a.sr[k].ti].name, a.sr[k].n[j], a.sr[k].ok[j], a.sr[k].med[j],
                            a.sr[k].lo[j], a.sr[k].hi[j], a.sr[k].wall[j], a.sr[k].cpu[j]);
        st = bfc_afile_commit(af);
    }
    if (!st) {
        pjoin(path, sizeof path, out, "neps.csv");
        if (!(af = bfc_afile_open(path))) st = BFC_EIO;
    }
    if (!st) {
        FILE *o = bfc_afile_fp(af);
        fprintf(o, "method,target,eps,n_eps,t_eps,reached,n_max\n");
        for (int k = 0; k < a.nsr; k++) {
            const series *sr = &a.sr[k];
            int nmax = -1;
            for (int j = 0; j < sr->nn; j++)
                if (sr->ok[j]) nmax = sr->n[j];
            if (nmax < 0) continue;
            for (int e = 0; e < s->neps; e++) {
                int ne = bfc_sweep_n_eps(sr->n, sr->med, sr->nn, s->eps[e]);
                double t = NAN;
                for (int j = 0; ne > 0 && j < sr->nn; j++)
                    if (sr->n[j] == ne) t = sr->wall[j];
                fprintf(o, "%s,%s,%g,%d,%.6g,%d,%d\n", s->m[sr->mi].name, s->t[sr->ti].name,
                        s->eps[e], ne > 0 ? ne : nmax, t, ne > 0, nmax);
            }
        }
        st = bfc_afile_commit(af);
    }

    /* figure tables and their list */
    if (!st) {
        pjoin(path, sizeof path, out, "figures.txt");
        if (!(af = bfc_afile_open(path))) st = BFC_EIO;
    }
    if (!st) {
        figs f = {bfc_afile_fp(af), out};
        for (int ti = 0; !st && ti < s->nt; ti++) {
            if (!first_in_group(s, ti)) continue;
            int dd;
            int gs = group_size(s, ti, &dd);
            st = fig_error(&a, &f, ti, 0);
            if (!st) st = fig_error(&a, &f, ti, 1);
            if (!st && gs > 1 && dd) st = fig_neps_d(&a, &f, ti);
        }
        for (int ti = 0; !st && ti < s->nt; ti++) {
            st = fig_curves(&a, &f, ti);
            if (!st) st = fig_depth(&a, &f, ti);
        }
        if (!st)
            st = bfc_afile_commit(af);
        else
            bfc_afile_abort(af);
    }

    if (!st) {
        bfc_jw m;
        bfc_jw_init(&m);
        bfc_jw_obj_begin(&m);
        bfc_meta_write(&m);
        bfc_jw_obj_end(&m);
        if (m.failed) st = bfc_fail(BFC_ENOMEM, "out of memory");
        if (!st) st = write_sidecar(&a, sum, m.buf);
        if (!st) st = write_report(&a, sum, m.buf);
        bfc_jw_free(&m);
    }
    free(a.sr);
    free(a.cr);
    return st;
}
