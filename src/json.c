/* json.c: JSON writer (shortest round-trip numbers, automatic commas, optional indentation)
 * and the reader: Jansson parses, this file copies its values into a read-only tree with
 * typed getters (json.h says why Jansson and what the layer adds). */
#include "json.h"

#include "bfc.h"
#include "fsutil.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ======================================================================== writer ===== */

/* need_comma[level] holds these flags for each open container. */
enum { JW_HAS_VALUE = 1, JW_IS_OBJECT = 2, JW_KEY_PENDING = 4 };

void bfc_jw_init(bfc_jw *j) { memset(j, 0, sizeof *j); }

void bfc_jw_free(bfc_jw *j)
{
    free(j->buf);
    int pretty = j->pretty;
    bfc_jw_init(j);
    j->pretty = pretty;
}

static void jw_put(bfc_jw *j, const char *s, size_t n)
{
    if (j->failed) return;
    if (j->len + n + 1 > j->cap) {
        size_t cap = j->cap ? j->cap : 256;
        while (cap < j->len + n + 1) {
            if (cap > SIZE_MAX / 2) {
                j->failed = 1;
                return;
            }
            cap *= 2;
        }
        char *b = realloc(j->buf, cap);
        if (!b) {
            j->failed = 1;
            return;
        }
        j->buf = b;
        j->cap = cap;
    }
    memcpy(j->buf + j->len, s, n);
    j->len += n;
    j->buf[j->len] = '\0';
}

static void jw_puts(bfc_jw *j, const char *s) { jw_put(j, s, strlen(s)); }

static void jw_newline(bfc_jw *j)
{
    if (!j->pretty) return;
    jw_put(j, "\n", 1);
    for (int i = 0; i < j->depth; i++) jw_put(j, "  ", 2);
}

/* Everything that comes before a value: a comma and indentation in an array, nothing after
 * a key. Sets failed on misuse (value in an object without a key, second top-level value). */
static void jw_before_value(bfc_jw *j)
{
    if (j->failed) return;
    if (j->depth == 0) {
        if (j->len > 0) j->failed = 1;
        return;
    }
    int *f = &j->need_comma[j->depth - 1];
    if (*f & JW_IS_OBJECT) {
        if (!(*f & JW_KEY_PENDING)) j->failed = 1;
        *f &= ~JW_KEY_PENDING;
        return;
    }
    if (*f & JW_HAS_VALUE) jw_put(j, ",", 1);
    *f |= JW_HAS_VALUE;
    jw_newline(j);
}

/* Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlong forms, no surrogates,
 * at most U+10FFFF), 0 if the bytes there are not one. */
static int utf8_len(const unsigned char *s)
{
    const unsigned c = s[0];
    int n;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else
        return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (int k = 2; k < n; k++)
        if (s[k] < 0x80 || s[k] > 0xBF) return 0;
    return n;
}

/* A JSON string: escapes as RFC 8259 requires, and every byte that is not part of well-formed
 * UTF-8 (a stderr line or a path in another encoding) as U+FFFD, so that the file written is
 * always valid JSON. */
static void jw_escaped(bfc_jw *j, const char *s)
{
    jw_put(j, "\"", 1);
    const char *run = s;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        const char *esc = NULL;
        char u[8];
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        default:
            if (c < 0x20) {
                snprintf(u, sizeof u, "\\u%04x", c);
                esc = u;
            } else if (c >= 0x80) {
                const int n = utf8_len((const unsigned char *)s);
                if (n) {
                    s += n - 1; /* copied with the run */
                    continue;
                }
                esc = "\\ufffd";
            }
        }
        if (esc) {
            jw_put(j, run, (size_t)(s - run));
            jw_puts(j, esc);
            run = s + 1;
        }
    }
    jw_put(j, run, (size_t)(s - run));
    jw_put(j, "\"", 1);
}

static void jw_open(bfc_jw *j, const char *brace, int is_object)
{
    jw_before_value(j);
    if (j->failed) return;
    if (j->depth >= BFC_JW_MAX_DEPTH) {
        j->failed = 1;
        return;
    }
    jw_puts(j, brace);
    j->need_comma[j->depth++] = is_object ? JW_IS_OBJECT : 0;
}

static void jw_close(bfc_jw *j, const char *brace, int is_object)
{
    if (j->failed) return;
    if (j->depth == 0) {
        j->failed = 1;
        return;
    }
    int f = j->need_comma[j->depth - 1];
    if (!!(f & JW_IS_OBJECT) != is_object || (f & JW_KEY_PENDING)) {
        j->failed = 1;
        return;
    }
    j->depth--;
    if (f & JW_HAS_VALUE) jw_newline(j);
    jw_puts(j, brace);
}

void bfc_jw_obj_begin(bfc_jw *j) { jw_open(j, "{", 1); }
void bfc_jw_obj_end(bfc_jw *j) { jw_close(j, "}", 1); }
void bfc_jw_arr_begin(bfc_jw *j) { jw_open(j, "[", 0); }
void bfc_jw_arr_end(bfc_jw *j) { jw_close(j, "]", 0); }

void bfc_jw_key(bfc_jw *j, const char *key)
{
    if (j->failed) return;
    if (j->depth == 0 || !key) {
        j->failed = 1;
        return;
    }
    int *f = &j->need_comma[j->depth - 1];
    if (!(*f & JW_IS_OBJECT) || (*f & JW_KEY_PENDING)) {
        j->failed = 1;
        return;
    }
    if (*f & JW_HAS_VALUE) jw_put(j, ",", 1);
    *f |= JW_HAS_VALUE | JW_KEY_PENDING;
    jw_newline(j);
    jw_escaped(j, key);
    jw_puts(j, j->pretty ? ": " : ":");
}

/* Shortest of %.15g, %.16g, %.17g that reads back as v. If some decimal of at most 15
 * significant digits reads back as v, %.15g prints exactly it (v is within half an ulp,
 * far below half a unit of the 15th digit), so this is the shortest up to 15 digits. */
static void format_double(char *out, size_t cap, double v)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(out, cap, "%.*g", prec, v);
        if (prec == 17 || strtod(out, NULL) == v) return;
    }
}

static void jw_num_raw(bfc_jw *j, double v)
{
    if (!isfinite(v)) {
        jw_puts(j, "null");
        return;
    }
    char s[40];
    format_double(s, sizeof s, v);
    jw_puts(j, s);
}

void bfc_jw_num(bfc_jw *j, double v)
{
    jw_before_value(j);
    jw_num_raw(j, v);
}

void bfc_jw_int(bfc_jw *j, long long v)
{
    char s[32];
    snprintf(s, sizeof s, "%lld", v);
    jw_before_value(j);
    jw_puts(j, s);
}

void bfc_jw_str(bfc_jw *j, const char *s)
{
    jw_before_value(j);
    if (s)
        jw_escaped(j, s);
    else
        jw_puts(j, "null");
}

void bfc_jw_bool(bfc_jw *j, int v)
{
    jw_before_value(j);
    jw_puts(j, v ? "true" : "false");
}

void bfc_jw_null(bfc_jw *j)
{
    jw_before_value(j);
    jw_puts(j, "null");
}

/* Arrays of scalars stay on one line even when pretty. */
void bfc_jw_num_array(bfc_jw *j, const double *a, size_t n)
{
    jw_before_value(j);
    jw_put(j, "[", 1);
    for (size_t i = 0; i < n; i++) {
        if (i) jw_puts(j, j->pretty ? ", " : ",");
        jw_num_raw(j, a[i]);
    }
    jw_put(j, "]", 1);
}

void bfc_jw_int_array(bfc_jw *j, const int *a, size_t n)
{
    jw_before_value(j);
    jw_put(j, "[", 1);
    for (size_t i = 0; i < n; i++) {
        char s[16];
        snprintf(s, sizeof s, "%s%d", i == 0 ? "" : (j->pretty ? ", " : ","), a[i]);
        jw_puts(j, s);
    }
    jw_put(j, "]", 1);
}

void bfc_jw_kv_num(bfc_jw *j, const char *key, double v)
{
    bfc_jw_key(j, key);
    bfc_jw_num(j, v);
}

void bfc_jw_kv_int(bfc_jw *j, const char *key, long long v)
{
    bfc_jw_key(j, key);
    bfc_jw_int(j, v);
}

void bfc_jw_kv_str(bfc_jw *j, const char *key, const char *s)
{
    bfc_jw_key(j, key);
    bfc_jw_str(j, s);
}

void bfc_jw_kv_bool(bfc_jw *j, const char *key, int v)
{
    bfc_jw_key(j, key);
    bfc_jw_bool(j, v);
}

int bfc_jw_write_file(const bfc_jw *j, const char *path)
{
    if (j->failed || j->depth != 0 || !j->buf)
        return bfc_fail(BFC_ENOMEM, "cannot write %s: the JSON writer failed (out of memory, "
                                    "nesting too deep or unbalanced)",
                        path);
    bfc_afile *f = bfc_afile_open(path);
    if (!f) return BFC_EIO;
    fwrite(j->buf, 1, j->len, bfc_afile_fp(f));
    fputc('\n', bfc_afile_fp(f));
    return bfc_afile_commit(f);
}

/* ======================================================================== parser ===== */

/* The tree handed out: Jansson's values copied into arrays (O(1) access by index, members in
 * file order) with each number's double and, for an integer literal, its exact value. */
struct bfc_json {
    int type;
    int boolean;
    int is_int;       /* number written as an integer literal that fits in long long */
    double num;
    long long ival;
    char *str;        /* STRING */
    size_t n;         /* ARRAY/OBJECT: children */
    bfc_json *items;  /* ARRAY/OBJECT: values */
    char **keys;      /* OBJECT: keys, parallel to items */
};

static void free_contents(bfc_json *v)
{
    if (!v) return;
    free(v->str);
    for (size_t i = 0; i < v->n; i++) {
        free_contents(&v->items[i]);
        if (v->keys) free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
}

void bfc_json_free(bfc_json *v)
{
    free_contents(v);
    free(v);
}

/* Copy Jansson's value a into v. a comes from the pass that reads every number with strtod
 * (JSON_DECODE_INT_AS_REAL); b, the same document read with integers kept apart, gives the
 * integer literals (NULL: unknown, none is marked). 0, -1 out of memory, -2 too deep. */
static int convert(bfc_json *v, const json_t *a, const json_t *b, int depth)
{
    memset(v, 0, sizeof *v);
    if (depth > BFC_JSON_MAX_DEPTH) return -2; /* Jansson's own limit is the same */
    switch (json_typeof(a)) {
    case JSON_NULL: v->type = BFC_JSON_NULL; return 0;
    case JSON_TRUE:
    case JSON_FALSE:
        v->type = BFC_JSON_BOOL;
        v->boolean = json_is_true(a);
        return 0;
    case JSON_INTEGER: /* not produced with JSON_DECODE_INT_AS_REAL */
    case JSON_REAL:
        v->type = BFC_JSON_NUMBER;
        v->num = json_number_value(a);
        v->is_int = json_is_integer(b);
        v->ival = v->is_int ? (long long)json_integer_value(b) : 0;
        return 0;
    case JSON_STRING:
        v->type = BFC_JSON_STRING;
        v->str = strdup(json_string_value(a)); /* no \u0000: Jansson refuses it by default */
        return v->str ? 0 : -1;
    case JSON_ARRAY:
    case JSON_OBJECT: break;
    }
    const int obj = json_is_object(a);
    v->type = obj ? BFC_JSON_OBJECT : BFC_JSON_ARRAY;
    const size_t n = obj ? json_object_size(a) : json_array_size(a);
    if (n == 0) return 0;
    v->items = calloc(n, sizeof *v->items);
    v->keys = obj ? calloc(n, sizeof *v->keys) : NULL;
    if (!v->items || (obj && !v->keys)) return -1;
    if (!obj) {
        for (size_t i = 0; i < n; i++, v->n++) {
            const int st = convert(&v->items[i], json_array_get(a, i), json_array_get(b, i),
                                   depth + 1);
            if (st) return st;
        }
        return 0;
    }
    const char *key;
    json_t *m;
    json_object_foreach((json_t *)a, key, m) { /* insertion (file) order */
        if (!(v->keys[v->n] = strdup(key))) return -1;
        bfc_json *c = &v->items[v->n++];
        const int st = convert(c, m, json_object_get(b, key), depth + 1);
        if (st) return st;
    }
    return 0;
}

/* Jansson reports a trailing comma as an unexpected ']' or '}' (e->position: bytes read,
 * the bracket last); say what it is. */
static const char *trailing_comma(const char *text, const json_error_t *e)
{
    size_t p = e->position > 0 ? (size_t)e->position : 0;
    if (p == 0 || p > strlen(text) || (text[p - 1] != ']' && text[p - 1] != '}')) return "";
    size_t q = p - 1;
    while (q > 0 && strchr(" \t\r\n", text[q - 1])) q--;
    return q > 0 && text[q - 1] == ',' ? " (trailing comma)" : "";
}

static void set_err(char *err, size_t errlen, const char *msg)
{
    if (err && errlen) snprintf(err, errlen, "%s", msg);
}

bfc_json *bfc_json_parse(const char *text, char *err, size_t errlen)
{
    set_err(err, errlen, "");
    if (!text) text = "";
    const size_t flags = JSON_DECODE_ANY | JSON_REJECT_DUPLICATES;
    json_error_t e;
    json_t *a = json_loads(text, flags | JSON_DECODE_INT_AS_REAL, &e);
    if (!a) {
        bfc_fail(json_error_code(&e) == json_error_out_of_memory ? BFC_ENOMEM : BFC_EFORMAT,
                 "%d:%d: %s%s", e.line > 0 ? e.line : 1, e.column > 0 ? e.column : 1, e.text,
                 trailing_comma(text, &e));
        set_err(err, errlen, bfc_last_error());
        return NULL;
    }
    /* the integer literals; this fails only on one beyond long long (then none is marked) */
    json_t *b = json_loads(text, flags, &e);
    bfc_json *root = calloc(1, sizeof *root);
    const int bad = root ? convert(root, a, b, 1) : -1;
    json_decref(a);
    json_decref(b);
    if (bad) {
        bfc_json_free(root);
        if (bad == -2)
            bfc_fail(BFC_EFORMAT, "nesting deeper than %d levels", BFC_JSON_MAX_DEPTH);
        else
            bfc_fail(BFC_ENOMEM, "out of memory reading JSON");
        set_err(err, errlen, bfc_last_error());
        return NULL;
    }
    return root;
}

bfc_json *bfc_json_parse_file(const char *path, char *err, size_t errlen)
{
    size_t len;
    char *text = bfc_read_file(path, &len);
    if (!text) {
        set_err(err, errlen, bfc_last_error());
        return NULL;
    }
    bfc_json *v = NULL;
    size_t nul = strlen(text);
    if (nul != len) {
        bfc_fail(BFC_EFORMAT, "%s: NUL byte at offset %zu", path, nul);
    } else {
        char msg[512];
        v = bfc_json_parse(text, msg, sizeof msg);
        if (!v) bfc_fail(BFC_EFORMAT, "%s:%s", path, msg);
    }
    free(text);
    if (!v) set_err(err, errlen, bfc_last_error());
    return v;
}

int bfc_json_type(const bfc_json *v) { return v ? v->type : BFC_JSON_NONE; }

const char *bfc_json_type_name(int type)
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

const bfc_json *bfc_json_get(const bfc_json *obj, const char *key)
{
    if (!obj || obj->type != BFC_JSON_OBJECT || !key) return NULL;
    for (size_t i = 0; i < obj->n; i++)
        if (strcmp(obj->keys[i], key) == 0) return &obj->items[i];
    return NULL;
}

size_t bfc_json_len(const bfc_json *v)
{
    return v && (v->type == BFC_JSON_ARRAY || v->type == BFC_JSON_OBJECT) ? v->n : 0;
}

const bfc_json *bfc_json_at(const bfc_json *v, size_t i)
{
    return i < bfc_json_len(v) ? &v->items[i] : NULL;
}

const char *bfc_json_key_at(const bfc_json *obj, size_t i)
{
    return obj && obj->type == BFC_JSON_OBJECT && i < obj->n ? obj->keys[i] : NULL;
}

int bfc_json_number(const bfc_json *v, double *out)
{
    if (!v || v->type != BFC_JSON_NUMBER) return BFC_EFORMAT;
    *out = v->num;
    return BFC_OK;
}

int bfc_json_int64(const bfc_json *v, long long *out)
{
    if (!v || v->type != BFC_JSON_NUMBER || !v->is_int) return BFC_EFORMAT;
    *out = v->ival;
    return BFC_OK;
}

const char *bfc_json_string(const bfc_json *v)
{
    return v && v->type == BFC_JSON_STRING ? v->str : NULL;
}

int bfc_json_bool(const bfc_json *v, int *out)
{
    if (!v || v->type != BFC_JSON_BOOL) return BFC_EFORMAT;
    *out = v->boolean;
    return BFC_OK;
}

/* The member key of obj, which must be of type want; NULL with a message otherwise. */
static const bfc_json *typed_member(const bfc_json *obj, const char *key, int want,
                                    const char *what)
{
    if (!what) what = "JSON";
    if (bfc_json_type(obj) != BFC_JSON_OBJECT) {
        bfc_fail(BFC_EFORMAT, "%s: expected an object holding key '%s', found %s", what, key,
                 bfc_json_type_name(bfc_json_type(obj)));
        return NULL;
    }
    const bfc_json *v = bfc_json_get(obj, key);
    if (!v) {
        bfc_fail(BFC_EFORMAT, "%s: key '%s' missing", what, key);
        return NULL;
    }
    if (v->type != want) {
        bfc_fail(BFC_EFORMAT, "%s: key '%s' is %s, not %s", what, key,
                 bfc_json_type_name(v->type), bfc_json_type_name(want));
        return NULL;
    }
    return v;
}

int bfc_json_get_num(const bfc_json *obj, const char *key, double *out, const char *what)
{
    const bfc_json *v = typed_member(obj, key, BFC_JSON_NUMBER, what);
    if (!v) return BFC_EFORMAT;
    *out = v->num;
    return BFC_OK;
}

int bfc_json_get_int(const bfc_json *obj, const char *key, double *out, const char *what)
{
    const bfc_json *v = typed_member(obj, key, BFC_JSON_NUMBER, what);
    if (!v) return BFC_EFORMAT;
    if (!what) what = "JSON";
    if (v->num != floor(v->num))
        return bfc_fail(BFC_EFORMAT, "%s: key '%s' = %.17g is not an integer", what, key,
                        v->num);
    /* Beyond 2^53 not every integer is a double: judge by the literal when it is one. */
    const long long two53 = 9007199254740992LL;
    if (v->is_int ? (v->ival > two53 || v->ival < -two53) : fabs(v->num) >= 0x1p53)
        return v->is_int ? bfc_fail(BFC_EFORMAT, "%s: key '%s' = %lld is beyond 2^53 and "
                                                 "cannot be held exactly", what, key, v->ival)
                         : bfc_fail(BFC_EFORMAT, "%s: key '%s' = %.17g is beyond 2^53 and "
                                                 "cannot be held exactly", what, key, v->num);
    *out = v->num;
    return BFC_OK;
}

int bfc_json_get_int64(const bfc_json *obj, const char *key, long long *out, const char *what)
{
    const bfc_json *v = typed_member(obj, key, BFC_JSON_NUMBER, what);
    if (!v) return BFC_EFORMAT;
    if (!v->is_int)
        return bfc_fail(BFC_EFORMAT, "%s: key '%s' must be an integer without fraction or "
                                     "exponent within ±9223372036854775807",
                        what ? what : "JSON", key);
    *out = v->ival;
    return BFC_OK;
}

int bfc_json_get_bool(const bfc_json *obj, const char *key, int *out, const char *what)
{
    const bfc_json *v = typed_member(obj, key, BFC_JSON_BOOL, what);
    if (!v) return BFC_EFORMAT;
    *out = v->boolean;
    return BFC_OK;
}

int bfc_json_get_str(const bfc_json *obj, const char *key, char *buf, size_t cap,
                     const char *what)
{
    if (cap) buf[0] = '\0';
    const bfc_json *v = typed_member(obj, key, BFC_JSON_STRING, what);
    if (!v) return BFC_EFORMAT;
    size_t n = strlen(v->str);
    if (n >= cap)
        return bfc_fail(BFC_EFORMAT, "%s: key '%s' is longer than %zu characters",
                        what ? what : "JSON", key, cap ? cap - 1 : 0);
    memcpy(buf, v->str, n + 1);
    return BFC_OK;
}

int bfc_json_get_num_array(const bfc_json *obj, const char *key, double **out, size_t *n,
                           const char *what)
{
    *out = NULL;
    *n = 0;
    const bfc_json *v = typed_member(obj, key, BFC_JSON_ARRAY, what);
    if (!v) return BFC_EFORMAT;
    for (size_t i = 0; i < v->n; i++)
        if (v->items[i].type != BFC_JSON_NUMBER)
            return bfc_fail(BFC_EFORMAT, "%s: key '%s'[%zu] is %s, not a number",
                            what ? what : "JSON", key, i,
                            bfc_json_type_name(v->items[i].type));
    double *a = bfc_alloc_d(v->n);
    if (!a)
        return bfc_fail(BFC_ENOMEM, "%s: out of memory for key '%s' (%zu numbers)",
                        what ? what : "JSON", key, v->n);
    for (size_t i = 0; i < v->n; i++) a[i] = v->items[i].num;
    *out = a;
    *n = v->n;
    return BFC_OK;
}
