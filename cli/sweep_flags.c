/* sweep_flags.c: the vocabulary of a sweep's configuration: allocation that fails with
 * BFC_ENOMEM, string lists, flags and flags per command, and the typed readers of the JSON
 * configuration whose messages name the key ("cfg.json: targets[1] (L4).gap: ..."). */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "bfc.h"
#include "sweep_internal.h"

/* ---- allocation ---------------------------------------------------------------------- */

void *sw_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) bfc_fail(BFC_ENOMEM, "bfc sweep: out of memory (%zu bytes)", n);
    return q;
}

char *sw_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = sw_realloc(NULL, n);
    return d ? memcpy(d, s, n) : NULL;
}

char *sw_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = sw_realloc(NULL, (size_t)n + 1);
    if (!s) return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

/* ---- string lists -------------------------------------------------------------------- */

int strv_push(strv *a, const char *s)
{
    if (a->n == a->cap) {
        int cap = a->cap ? 2 * a->cap : 8;
        char **v = sw_realloc(a->v, sizeof(char *) * (size_t)cap);
        if (!v) return BFC_ENOMEM;
        a->v = v;
        a->cap = cap;
    }
    if (!(a->v[a->n] = sw_strdup(s))) return BFC_ENOMEM;
    a->n++;
    return BFC_OK;
}

int strv_find(const strv *a, const char *s)
{
    for (int i = 0; i < a->n; i++)
        if (!strcmp(a->v[i], s)) return i;
    return -1;
}

int strv_copy(strv *dst, const strv *src)
{
    strv_free(dst);
    for (int i = 0; i < src->n; i++)
        if (strv_push(dst, src->v[i])) return BFC_ENOMEM;
    return BFC_OK;
}

void strv_free(strv *a)
{
    for (int i = 0; i < a->n; i++) free(a->v[i]);
    free(a->v);
    memset(a, 0, sizeof *a);
}

/* ---- flags --------------------------------------------------------------------------- */

int flags_add(flagv *f, const char *name, const char *value, int kind)
{
    if (f->n == f->cap) {
        int cap = f->cap ? 2 * f->cap : 8;
        flag *v = sw_realloc(f->v, sizeof(flag) * (size_t)cap);
        if (!v) return BFC_ENOMEM;
        f->v = v;
        f->cap = cap;
    }
    flag *x = &f->v[f->n];
    x->name = sw_strdup(name);
    x->value = value ? sw_strdup(value) : NULL;
    x->kind = kind;
    if (!x->name || (value && !x->value)) {
        free(x->name);
        free(x->value);
        return BFC_ENOMEM;
    }
    f->n++;
    return BFC_OK;
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

void flags_free(flagv *f)
{
    for (int i = 0; i < f->n; i++) {
        free(f->v[i].name);
        free(f->v[i].value);
    }
    free(f->v);
    memset(f, 0, sizeof *f);
}

int flags_merge(flagv *dst, const flagv *src)
{
    for (int i = 0; i < src->n; i++) {
        int first = 1;
        for (int j = 0; j < i; j++)
            if (!strcmp(src->v[j].name, src->v[i].name)) first = 0;
        if (first) flags_del(dst, src->v[i].name);
    }
    for (int i = 0; i < src->n; i++)
        if (src->v[i].kind != FLAG_DELETE &&
            flags_add(dst, src->v[i].name, src->v[i].value, src->v[i].kind))
            return BFC_ENOMEM;
    return BFC_OK;
}

const char *flags_get(const flagv *f, const char *name)
{
    for (int i = f->n - 1; i >= 0; i--)
        if (!strcmp(f->v[i].name, name)) return f->v[i].kind == FLAG_VALUE ? f->v[i].value : "";
    return NULL;
}

flagv *cmdargs_for(cmdargs *a, const char *cmd)
{
    for (int i = 0; i < a->n; i++)
        if (!strcmp(a->v[i].cmd, cmd)) return &a->v[i].f;
    cmdflags *v = sw_realloc(a->v, sizeof(cmdflags) * (size_t)(a->n + 1));
    if (!v) return NULL;
    a->v = v;
    memset(&a->v[a->n], 0, sizeof(cmdflags));
    if (!(a->v[a->n].cmd = sw_strdup(cmd))) return NULL;
    return &a->v[a->n++].f;
}

const flagv *cmdargs_get(const cmdargs *a, const char *cmd)
{
    for (int i = 0; i < a->n; i++)
        if (!strcmp(a->v[i].cmd, cmd)) return &a->v[i].f;
    return NULL;
}

int cmdargs_append(cmdargs *dst, const cmdargs *src)
{
    for (int i = 0; i < src->n; i++) {
        flagv *f = cmdargs_for(dst, src->v[i].cmd);
        if (!f) return BFC_ENOMEM;
        for (int k = 0; k < src->v[i].f.n; k++) {
            const flag *x = &src->v[i].f.v[k];
            if (flags_add(f, x->name, x->value, x->kind)) return BFC_ENOMEM;
        }
    }
    return BFC_OK;
}

void cmdargs_free(cmdargs *a)
{
    for (int i = 0; i < a->n; i++) {
        free(a->v[i].cmd);
        flags_free(&a->v[i].f);
    }
    free(a->v);
    memset(a, 0, sizeof *a);
}

/* ---- reading the configuration ------------------------------------------------------- */

int cfail(const ctx *c, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (c->path[0]) return bfc_fail(BFC_EINVAL, "%s: %s: %s", c->what, c->path, msg);
    return bfc_fail(BFC_EINVAL, "%s: %s", c->what, msg);
}

size_t ctx_push(ctx *c, const char *fmt, ...)
{
    size_t len = strlen(c->path);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->path + len, sizeof c->path - len, fmt, ap);
    va_end(ap);
    return len;
}

void ctx_pop(ctx *c, size_t len) { c->path[len] = '\0'; }

/* Reject keys of obj not in the NULL-terminated list. */
int check_keys(ctx *c, const bfc_json *obj, const char *const *known)
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

int want_type(ctx *c, const bfc_json *v, int type)
{
    if (bfc_json_type(v) != type)
        return cfail(c, "must be %s (got %s)", bfc_json_type_name(type),
                     bfc_json_type_name(bfc_json_type(v)));
    return BFC_OK;
}

int check_name(ctx *c, const char *s)
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

int get_string(ctx *c, const bfc_json *obj, const char *key, char **out, int required)
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
    char *d = sw_strdup(bfc_json_string(v));
    if (!d) return BFC_ENOMEM;
    free(*out);
    *out = d;
    return BFC_OK;
}

int get_number(ctx *c, const bfc_json *v, double lo, double hi, int integral, double *out)
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

/* A non-empty array of numbers into a new array *out (integral when asked). */
static int get_numbers(ctx *c, const bfc_json *v, double lo, double hi, int integral,
                       double **out, int *n)
{
    if (want_type(c, v, BFC_JSON_ARRAY)) return BFC_EINVAL;
    size_t m = bfc_json_len(v);
    if (m == 0) return cfail(c, "empty list");
    double *a = sw_realloc(NULL, sizeof(double) * m);
    if (!a) return BFC_ENOMEM;
    for (size_t i = 0; i < m; i++) {
        size_t len = ctx_push(c, "[%zu]", i);
        int st = get_number(c, bfc_json_at(v, i), lo, hi, integral, &a[i]);
        ctx_pop(c, len);
        if (st) {
            free(a);
            return st;
        }
    }
    *out = a;
    *n = (int)m;
    return BFC_OK;
}

int get_grid(ctx *c, const bfc_json *v, int **out, int *n)
{
    double *x = NULL;
    int m = 0;
    int st = get_numbers(c, v, 1, 1e8, 1, &x, &m);
    if (st) return st;
    for (int i = 1; i < m; i++)
        if (x[i] <= x[i - 1]) {
            size_t len = ctx_push(c, "[%d]", i);
            st = cfail(c, "the list must be strictly increasing");
            ctx_pop(c, len);
            free(x);
            return st;
        }
    int *g = sw_realloc(NULL, sizeof(int) * (size_t)m);
    if (!g) {
        free(x);
        return BFC_ENOMEM;
    }
    for (int i = 0; i < m; i++) g[i] = (int)x[i];
    free(x);
    free(*out);
    *out = g;
    *n = m;
    return BFC_OK;
}

int get_eps(ctx *c, const bfc_json *v, double **out, int *n)
{
    double *x = NULL;
    int m = 0;
    int st = get_numbers(c, v, 1e-300, 1e300, 0, &x, &m);
    if (st) return st;
    free(*out);
    *out = x;
    *n = m;
    return BFC_OK;
}

int seeds_from_values(ctx *c, const double *x, int m, int index_in_path, long long **out,
                      int *n)
{
    if (m == 0) return cfail(c, "empty list");
    long long *a = sw_realloc(NULL, sizeof(long long) * (size_t)m);
    if (!a) return BFC_ENOMEM;
    int st = BFC_OK;
    for (int i = 0; !st && i < m; i++) {
        size_t len = index_in_path ? ctx_push(c, "[%d]", i) : strlen(c->path);
        if (x[i] != floor(x[i]) || fabs(x[i]) > 9007199254740992.0)
            st = cfail(c, "must be an integer (got %.17g)", x[i]);
        else if (!(x[i] >= 0 && x[i] <= 9007199254740992.0))
            st = cfail(c, "must be between 0 and 2^53 (got %.17g)", x[i]);
        for (int j = 0; !st && j < i; j++)
            if (a[j] == (long long)x[i]) st = cfail(c, "%lld is repeated", (long long)x[i]);
        a[i] = (long long)x[i];
        ctx_pop(c, len);
    }
    if (st) {
        free(a);
        return st;
    }
    free(*out);
    *out = a;
    *n = m;
    return BFC_OK;
}

int get_seeds(ctx *c, const bfc_json *v, long long **out, int *n)
{
    double *x = NULL;
    int m = 0;
    int st = get_numbers(c, v, -INFINITY, INFINITY, 0, &x, &m);
    if (!st) st = seeds_from_values(c, x, m, 1, out, n);
    free(x);
    return st;
}

int get_names(ctx *c, const bfc_json *v, strv *out)
{
    if (want_type(c, v, BFC_JSON_ARRAY)) return BFC_EINVAL;
    if (bfc_json_len(v) == 0) return cfail(c, "empty list");
    strv_free(out);
    for (size_t i = 0; i < bfc_json_len(v); i++) {
        size_t len = ctx_push(c, "[%zu]", i);
        int st = want_type(c, bfc_json_at(v, i), BFC_JSON_STRING);
        if (!st) st = check_name(c, bfc_json_string(bfc_json_at(v, i)));
        ctx_pop(c, len);
        if (!st) st = strv_push(out, bfc_json_string(bfc_json_at(v, i)));
        if (st) return st;
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

int flag_name(ctx *c, const char *key, char *out, size_t cap)
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

static const char *const reserved_flags[] = {"n",     "seed", "out",  "json",
                                             "quiet", "data", "help", NULL};

int is_reserved(const char *name)
{
    for (int i = 0; reserved_flags[i]; i++)
        if (!strcmp(name, reserved_flags[i])) return 1;
    return 0;
}

/* number → "--name 3000"; string → "--name s"; true → "--name"; false/null → remove the flag;
 * array of numbers → "--name 1,0.1"; array of strings → the flag once per string (for
 * repeatable flags such as --J). */
int flag_from_json(ctx *c, flagv *f, const char *name, const bfc_json *v)
{
    char num[40];
    switch (bfc_json_type(v)) {
    case BFC_JSON_NUMBER: {
        double x;
        bfc_json_number(v, &x);
        format_number(x, num, sizeof num);
        return flags_add(f, name, num, FLAG_VALUE);
    }
    case BFC_JSON_STRING:
        if (!bfc_json_string(v)[0]) return cfail(c, "an empty string is not a flag value");
        if (strchr(bfc_json_string(v), '\n')) return cfail(c, "a flag value cannot hold a newline");
        return flags_add(f, name, bfc_json_string(v), FLAG_VALUE);
    case BFC_JSON_BOOL: {
        int b;
        bfc_json_bool(v, &b);
        return flags_add(f, name, NULL, b ? FLAG_BARE : FLAG_DELETE);
    }
    case BFC_JSON_NULL: return flags_add(f, name, NULL, FLAG_DELETE);
    case BFC_JSON_ARRAY: {
        size_t m = bfc_json_len(v);
        if (m == 0) return cfail(c, "an empty list is not a flag value");
        int type = bfc_json_type(bfc_json_at(v, 0));
        if (type != BFC_JSON_NUMBER && type != BFC_JSON_STRING)
            return cfail(c, "a list must hold numbers or strings (got %s)",
                         bfc_json_type_name(type));
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
        char *joined = sw_strdup("");
        for (size_t i = 0; joined && i < m; i++) {
            double x;
            bfc_json_number(bfc_json_at(v, i), &x);
            format_number(x, num, sizeof num);
            char *j = sw_printf("%s%s%s", joined, i ? "," : "", num);
            free(joined);
            joined = j;
        }
        int st = joined ? flags_add(f, name, joined, FLAG_VALUE) : BFC_ENOMEM;
        free(joined);
        return st;
    }
    default:
        return cfail(c, "a flag value must be a number, string, boolean, null or list (got %s)",
                     bfc_json_type_name(bfc_json_type(v)));
    }
}

int flags_from_object(ctx *c, const bfc_json *obj, flagv *f)
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

int cmdargs_from_object(ctx *c, const bfc_json *obj, cmdargs *a)
{
    if (want_type(c, obj, BFC_JSON_OBJECT)) return BFC_EINVAL;
    for (size_t i = 0; i < bfc_json_len(obj); i++) {
        const char *cmd = bfc_json_key_at(obj, i);
        size_t len = ctx_push(c, ".%s", cmd);
        int st = check_name(c, cmd);
        flagv *f = NULL;
        if (!st && !(f = cmdargs_for(a, cmd))) st = BFC_ENOMEM;
        if (!st) st = flags_from_object(c, bfc_json_at(obj, i), f);
        ctx_pop(c, len);
        if (st) return st;
    }
    return BFC_OK;
}
