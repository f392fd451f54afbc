/* json.c: JSON writer (shortest round-trip numbers, automatic commas, optional indentation)
 * and a strict recursive-descent parser into a tree with line:column error messages. */
#include "json.h"

#include "bfc.h"
#include "fsutil.h"

#include <errno.h>
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

struct bfc_json {
    int type;
    int boolean;
    int is_int;       /* number written as an integer literal that fits in long long */
    double num;
    long long ival;
    char *str;        /* STRING */
    size_t n, cap;    /* ARRAY/OBJECT: children */
    bfc_json *items;  /* ARRAY/OBJECT: values */
    char **keys;      /* OBJECT: keys, parallel to items */
};

typedef struct {
    const char *start;
    const char *p;
    int depth;
    char msg[300];
    int failed;
} parser;

static void line_col(const char *start, const char *at, int *line, int *col)
{
    int l = 1, c = 1;
    for (const char *q = start; q < at && *q; q++) {
        if (*q == '\n') {
            l++;
            c = 1;
        } else {
            c++;
        }
    }
    *line = l;
    *col = c;
}

__attribute__((format(printf, 3, 4))) static void perr(parser *ps, const char *at,
                                                       const char *fmt, ...)
{
    if (ps->failed) return;
    ps->failed = 1;
    int line, col;
    line_col(ps->start, at, &line, &col);
    int m = snprintf(ps->msg, sizeof ps->msg, "%d:%d: ", line, col);
    if (m < 0) m = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ps->msg + m, sizeof ps->msg - (size_t)m, fmt, ap);
    va_end(ap);
}

/* A printable description of the character at p, for "found ..." parts of messages. */
static const char *found(const char *p, char *buf, size_t cap)
{
    unsigned char c = (unsigned char)*p;
    if (c == 0) return "end of input";
    if (c >= 0x20 && c < 0x7f)
        snprintf(buf, cap, "'%c'", c);
    else
        snprintf(buf, cap, "byte 0x%02x", c);
    return buf;
}

static void skip_ws(parser *ps)
{
    while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r') ps->p++;
}

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

static void parse_value(parser *ps, bfc_json *v);

static int hex4(const char *p, unsigned *out)
{
    unsigned u = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            d = (unsigned)(c - 'A' + 10);
        else
            return -1;
        u = u * 16 + d;
    }
    *out = u;
    return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Parse a string at ps->p (which is '"'); returns a malloc'd C string or NULL. The decoded
 * text is never longer than the source (an escape of k bytes yields at most k bytes). */
static char *parse_string(parser *ps)
{
    const char *open = ps->p++;
    const char *q = ps->p;
    while (*q && *q != '"') q += (*q == '\\' && q[1]) ? 2 : 1;
    char *out = malloc((size_t)(q - ps->p) + 1);
    if (!out) {
        perr(ps, open, "out of memory");
        return NULL;
    }
    size_t n = 0;
    for (;;) {
        const char *at = ps->p;
        unsigned char c = (unsigned char)*ps->p;
        if (c == '"') {
            ps->p++;
            break;
        }
        if (c == 0) {
            int l, col;
            line_col(ps->start, open, &l, &col);
            perr(ps, at, "unterminated string (opened at %d:%d): expected '\"'", l, col);
            goto fail;
        }
        if (c < 0x20) {
            perr(ps, at, "control character 0x%02x in string (missing closing '\"'?)", c);
            goto fail;
        }
        if (c != '\\') {
            out[n++] = (char)c;
            ps->p++;
            continue;
        }
        char e = ps->p[1];
        ps->p += 2;
        switch (e) {
        case '"': out[n++] = '"'; break;
        case '\\': out[n++] = '\\'; break;
        case '/': out[n++] = '/'; break;
        case 'b': out[n++] = '\b'; break;
        case 'f': out[n++] = '\f'; break;
        case 'n': out[n++] = '\n'; break;
        case 'r': out[n++] = '\r'; break;
        case 't': out[n++] = '\t'; break;
        case 'u': {
            unsigned cp, lo;
            if (hex4(ps->p, &cp)) {
                perr(ps, at, "expected 4 hex digits after \\u");
                goto fail;
            }
            ps->p += 4;
            if (cp >= 0xdc00 && cp <= 0xdfff) {
                perr(ps, at, "unpaired low surrogate \\u%04x", cp);
                goto fail;
            }
            if (cp >= 0xd800 && cp <= 0xdbff) {
                if (ps->p[0] != '\\' || ps->p[1] != 'u' || hex4(ps->p + 2, &lo) ||
                    lo < 0xdc00 || lo > 0xdfff) {
                    perr(ps, at, "high surrogate \\u%04x must be followed by a low "
                                 "surrogate \\udc00..\\udfff", cp);
                    goto fail;
                }
                ps->p += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            }
            if (cp == 0) {
                perr(ps, at, "\\u0000 is not supported in strings");
                goto fail;
            }
            n += put_utf8(out + n, cp); /* <= 4 bytes from >= 6 source bytes */
            break;
        }
        default: {
            char fb[16];
            perr(ps, at, "invalid escape: expected one of \\\" \\\\ \\/ \\b \\f \\n \\r \\t "
                         "\\u after '\\', found %s", found(at + 1, fb, sizeof fb));
            goto fail;
        }
        }
    }
    out[n] = '\0';
    return out;
fail:
    free(out);
    return NULL;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

static void parse_number(parser *ps, bfc_json *v)
{
    const char *s = ps->p, *q = s;
    char fb[16];
    int integral = 1;
    if (*q == '-') q++;
    if (*q == '0') {
        q++;
        if (is_digit(*q)) {
            perr(ps, q, "leading zeros are not allowed in numbers");
            return;
        }
    } else if (is_digit(*q)) {
        while (is_digit(*q)) q++;
    } else {
        perr(ps, q, "expected a digit in number, found %s", found(q, fb, sizeof fb));
        return;
    }
    if (*q == '.') {
        integral = 0;
        q++;
        if (!is_digit(*q)) {
            perr(ps, q, "expected a digit after '.', found %s", found(q, fb, sizeof fb));
            return;
        }
        while (is_digit(*q)) q++;
    }
    if (*q == 'e' || *q == 'E') {
        integral = 0;
        q++;
        if (*q == '+' || *q == '-') q++;
        if (!is_digit(*q)) {
            perr(ps, q, "expected a digit in exponent, found %s", found(q, fb, sizeof fb));
            return;
        }
        while (is_digit(*q)) q++;
    }
    /* strtod on a copy, so that it cannot read beyond the JSON number ("0x1" etc.). */
    size_t len = (size_t)(q - s);
    char small[64];
    char *buf = len < sizeof small ? small : malloc(len + 1);
    if (!buf) {
        perr(ps, s, "out of memory");
        return;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    double d = strtod(buf, NULL);
    int range = errno == ERANGE && isinf(d);
    long long iv = 0;
    int is_int = 0;
    if (integral) {
        errno = 0;
        iv = strtoll(buf, NULL, 10);
        is_int = errno != ERANGE;
    }
    if (buf != small) free(buf);
    if (range) {
        perr(ps, s, "number %.*s is out of the range of a double", (int)(len > 40 ? 40 : len),
             s);
        return;
    }
    v->type = BFC_JSON_NUMBER;
    v->num = d;
    v->is_int = is_int;
    v->ival = iv;
    ps->p = q;
}

static bfc_json *add_child(parser *ps, bfc_json *v)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 4;
        bfc_json *items = realloc(v->items, cap * sizeof *items);
        if (!items) {
            perr(ps, ps->p, "out of memory");
            return NULL;
        }
        v->items = items;
        if (v->type == BFC_JSON_OBJECT) {
            char **keys = realloc(v->keys, cap * sizeof *keys);
            if (!keys) {
                perr(ps, ps->p, "out of memory");
                return NULL;
            }
            v->keys = keys;
        }
        v->cap = cap;
    }
    bfc_json *c = &v->items[v->n];
    memset(c, 0, sizeof *c);
    if (v->keys) v->keys[v->n] = NULL;
    v->n++;
    return c;
}

static void parse_array(parser *ps, bfc_json *v)
{
    char fb[16];
    v->type = BFC_JSON_ARRAY;
    ps->p++; /* '[' */
    skip_ws(ps);
    if (*ps->p == ']') {
        ps->p++;
        return;
    }
    for (;;) {
        bfc_json *c = add_child(ps, v);
        if (!c) return;
        parse_value(ps, c);
        if (ps->failed) return;
        skip_ws(ps);
        if (*ps->p == ']') {
            ps->p++;
            return;
        }
        if (*ps->p != ',') {
            perr(ps, ps->p, "expected ',' or ']' after array element, found %s",
                 found(ps->p, fb, sizeof fb));
            return;
        }
        ps->p++;
        skip_ws(ps);
        if (*ps->p == ']') {
            perr(ps, ps->p, "trailing comma: expected a value before ']'");
            return;
        }
    }
}

static void parse_object(parser *ps, bfc_json *v)
{
    char fb[16];
    v->type = BFC_JSON_OBJECT;
    ps->p++; /* '{' */
    skip_ws(ps);
    if (*ps->p == '}') {
        ps->p++;
        return;
    }
    for (;;) {
        if (*ps->p != '"') {
            perr(ps, ps->p, "expected a string key, found %s", found(ps->p, fb, sizeof fb));
            return;
        }
        const char *key_at = ps->p;
        char *key = parse_string(ps);
        if (!key) return;
        for (size_t i = 0; i < v->n; i++) {
            if (strcmp(v->keys[i], key) == 0) {
                perr(ps, key_at, "duplicate key '%.100s' in object", key);
                free(key);
                return;
            }
        }
        bfc_json *c = add_child(ps, v);
        if (!c) {
            free(key);
            return;
        }
        v->keys[v->n - 1] = key;
        skip_ws(ps);
        if (*ps->p != ':') {
            perr(ps, ps->p, "expected ':' after key '%.100s', found %s", key,
                 found(ps->p, fb, sizeof fb));
            return;
        }
        ps->p++;
        parse_value(ps, c);
        if (ps->failed) return;
        skip_ws(ps);
        if (*ps->p == '}') {
            ps->p++;
            return;
        }
        if (*ps->p != ',') {
            perr(ps, ps->p, "expected ',' or '}' after object member, found %s",
                 found(ps->p, fb, sizeof fb));
            return;
        }
        ps->p++;
        skip_ws(ps);
        if (*ps->p == '}') {
            perr(ps, ps->p, "trailing comma: expected a string key before '}'");
            return;
        }
    }
}

static void parse_value(parser *ps, bfc_json *v)
{
    char fb[16];
    skip_ws(ps);
    const char *p = ps->p;
    switch (*p) {
    case '{':
    case '[':
        if (ps->depth >= BFC_JSON_MAX_DEPTH) {
            perr(ps, p, "nesting deeper than %d levels", BFC_JSON_MAX_DEPTH);
            return;
        }
        ps->depth++;
        if (*p == '{')
            parse_object(ps, v);
        else
            parse_array(ps, v);
        ps->depth--;
        return;
    case '"':
        v->str = parse_string(ps);
        if (v->str) v->type = BFC_JSON_STRING;
        return;
    case 't':
        if (strncmp(p, "true", 4) == 0) {
            v->type = BFC_JSON_BOOL;
            v->boolean = 1;
            ps->p += 4;
            return;
        }
        break;
    case 'f':
        if (strncmp(p, "false", 5) == 0) {
            v->type = BFC_JSON_BOOL;
            ps->p += 5;
            return;
        }
        break;
    case 'n':
        if (strncmp(p, "null", 4) == 0) {
            v->type = BFC_JSON_NULL;
            ps->p += 4;
            return;
        }
        break;
    default:
        if (*p == '-' || is_digit(*p)) {
            parse_number(ps, v);
            return;
        }
    }
    perr(ps, p, "expected a value (object, array, string, number, true, false or null), "
                "found %s", found(p, fb, sizeof fb));
}

static void set_err(char *err, size_t errlen, const char *msg)
{
    if (err && errlen) snprintf(err, errlen, "%s", msg);
}

bfc_json *bfc_json_parse(const char *text, char *err, size_t errlen)
{
    set_err(err, errlen, "");
    if (!text) text = "";
    parser ps = {.start = text, .p = text};
    bfc_json *root = calloc(1, sizeof *root);
    if (!root) {
        bfc_fail(BFC_ENOMEM, "out of memory parsing JSON");
        set_err(err, errlen, bfc_last_error());
        return NULL;
    }
    parse_value(&ps, root);
    if (!ps.failed) {
        skip_ws(&ps);
        char fb[16];
        if (*ps.p) perr(&ps, ps.p, "expected end of input after the JSON value, found %s",
                        found(ps.p, fb, sizeof fb));
    }
    if (ps.failed) {
        bfc_json_free(root);
        bfc_fail(BFC_EFORMAT, "%s", ps.msg);
        set_err(err, errlen, ps.msg);
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
