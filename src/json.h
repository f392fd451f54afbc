/* json.h: a small JSON writer (string builder with automatic commas) and a reader into a
 * read-only tree, with typed getters whose messages suit configuration loading.
 * Numbers are written in the shortest form that reads back to the same double.
 * Assumes the "C" numeric locale (the default unless the program calls setlocale).
 *
 * Parsing is Debian's Jansson (libjansson-dev), chosen over cJSON because it is strict where
 * configuration files need it: RFC 8259 only (cJSON hands any run of digits, signs, 'e' and
 * '.' to strtod, so it takes "01" and "1."), repeated keys refused (JSON_REJECT_DUPLICATES;
 * cJSON keeps both), invalid UTF-8 and "\u0000" refused, and every error carries a line and
 * column (cJSON gives a pointer only). This layer reads each document twice: with
 * JSON_DECODE_INT_AS_REAL, so that every number is strtod of its text (-0 stays negative,
 * integers beyond long long become doubles as any other literal), and with integers kept, so
 * that an integer literal is also known exactly (seeds beyond 2^53).
 * The writer is ours: Jansson prints reals with a fixed precision, not the shortest text that
 * reads back, and has no file-level atomicity. */
#ifndef BFC_JSON_H
#define BFC_JSON_H

#include <stddef.h>

/* ---- writer ---------------------------------------------------------------------------
 *
 *   bfc_jw j;
 *   bfc_jw_init(&j);                 j.pretty = 1 for two-space indentation
 *   bfc_jw_obj_begin(&j);
 *   bfc_jw_kv_int(&j, "n", 100);
 *   bfc_jw_key(&j, "err"); bfc_jw_num_array(&j, err, 3);
 *   bfc_jw_obj_end(&j);
 *   if (j.failed) ...                out of memory, nesting deeper than BFC_JW_MAX_DEPTH,
 *                                    or unbalanced begin/end
 *   use j.buf (NUL-terminated, j.len bytes), then bfc_jw_free(&j)
 *
 * Inside an object call bfc_jw_key before each value (or use the bfc_jw_kv_* helpers).
 * Errors are sticky: after one, further calls do nothing and failed stays set. */
#define BFC_JW_MAX_DEPTH 64

typedef struct {
    char *buf;  /* owned; NUL-terminated text so far (NULL before the first write) */
    size_t len; /* bytes in buf, without the NUL */
    size_t cap;
    int depth;                         /* open objects/arrays */
    int need_comma[BFC_JW_MAX_DEPTH]; /* per level: a value has been written */
    int failed;                        /* sticky error flag */
    int pretty;                        /* set to 1 for newlines and indentation */
} bfc_jw;

void bfc_jw_init(bfc_jw *j);
/* Free the buffer and reset j to the initial state. */
void bfc_jw_free(bfc_jw *j);
void bfc_jw_obj_begin(bfc_jw *j);
void bfc_jw_obj_end(bfc_jw *j);
void bfc_jw_arr_begin(bfc_jw *j);
void bfc_jw_arr_end(bfc_jw *j);
/* An object key (escaped); the next call writes its value. */
void bfc_jw_key(bfc_jw *j, const char *key);
/* A double in its shortest round-trip form; NaN and ±inf are written as null. */
void bfc_jw_num(bfc_jw *j, double v);
void bfc_jw_int(bfc_jw *j, long long v);
/* A string, escaped ("\"", "\\", control characters); NULL is written as null.
 * Bytes >= 0x80 are copied as they are (the text is assumed to be UTF-8). */
void bfc_jw_str(bfc_jw *j, const char *s);
void bfc_jw_bool(bfc_jw *j, int v);
void bfc_jw_null(bfc_jw *j);
/* [a[0], ..., a[n-1]] as bfc_jw_num / bfc_jw_int would write each. */
void bfc_jw_num_array(bfc_jw *j, const double *a, size_t n);
void bfc_jw_int_array(bfc_jw *j, const int *a, size_t n);
/* key then value. */
void bfc_jw_kv_num(bfc_jw *j, const char *key, double v);
void bfc_jw_kv_int(bfc_jw *j, const char *key, long long v);
void bfc_jw_kv_str(bfc_jw *j, const char *key, const char *s);
void bfc_jw_kv_bool(bfc_jw *j, const char *key, int v);
/* Write the text plus a final newline to path atomically (fsutil). BFC_ENOMEM if the
 * writer had failed (nothing is written then), BFC_EIO if the file cannot be written. */
int bfc_jw_write_file(const bfc_jw *j, const char *path);

/* ---- parser ---------------------------------------------------------------------------
 *
 * The tree is read-only and owned by its root: free it with bfc_json_free(root); every
 * pointer obtained from it (children, keys, strings) lives as long as the root.
 * Strict RFC 8259: no comments, no trailing commas, no NaN, nothing after the value, UTF-8
 * only. Objects with a repeated key are rejected (in a config file that is a mistake).
 * Strings may not contain \u0000 (they are handed out as C strings). A number out of the
 * range of a double (1e999) is rejected; one that underflows reads as 0 or a subnormal, as
 * strtod gives it. */
typedef struct bfc_json bfc_json;

enum {
    BFC_JSON_NONE = 0, /* bfc_json_type(NULL) */
    BFC_JSON_NULL,
    BFC_JSON_BOOL,
    BFC_JSON_NUMBER,
    BFC_JSON_STRING,
    BFC_JSON_ARRAY,
    BFC_JSON_OBJECT
};

/* Nesting deeper than this is rejected (Jansson's JSON_PARSER_MAX_DEPTH). */
#define BFC_JSON_MAX_DEPTH 2048

/* Parse NUL-terminated text. NULL on failure with "line:column: what is wrong near 'text'"
 * in err (errlen bytes, may be NULL) and in bfc_last_error(); the column (in characters) is
 * that of the last character Jansson read, the end of the offending token. */
bfc_json *bfc_json_parse(const char *text, char *err, size_t errlen);
/* Read and parse a file; messages are prefixed by the path ("cfg.json:3:7: ..."). */
bfc_json *bfc_json_parse_file(const char *path, char *err, size_t errlen);
void bfc_json_free(bfc_json *v);

/* One of BFC_JSON_*, BFC_JSON_NONE for NULL. */
int bfc_json_type(const bfc_json *v);
/* Name of a type for messages ("number", "array", ...). */
const char *bfc_json_type_name(int type);
/* Member of an object by key; NULL if v is not an object or has no such key. */
const bfc_json *bfc_json_get(const bfc_json *obj, const char *key);
/* Number of elements of an array or members of an object, 0 for anything else. */
size_t bfc_json_len(const bfc_json *v);
/* i-th element of an array or value of the i-th member of an object (in file order);
 * NULL when out of range. */
const bfc_json *bfc_json_at(const bfc_json *v, size_t i);
/* Key of the i-th member of an object; NULL when out of range or not an object. */
const char *bfc_json_key_at(const bfc_json *obj, size_t i);
/* 0 and *out set if v is a number, BFC_EFORMAT otherwise (no message recorded). */
int bfc_json_number(const bfc_json *v, double *out);
/* 0 and *out set if v is a number written as an integer literal (no '.', no exponent)
 * that fits in long long: exact, also beyond 2^53. BFC_EFORMAT otherwise, and for every
 * number of a document holding an integer literal beyond long long (Jansson refuses such a
 * document in integer mode; its numbers are then known as doubles only). */
int bfc_json_int64(const bfc_json *v, long long *out);
/* The string (owned by the tree) if v is a string, NULL otherwise. */
const char *bfc_json_string(const bfc_json *v);
/* 0 and *out = 0/1 if v is a boolean, BFC_EFORMAT otherwise. */
int bfc_json_bool(const bfc_json *v, int *out);

/* Typed getters for configuration loading. Each returns 0 on success and otherwise
 * BFC_EFORMAT with a message such as "<what>: key 'lr' missing" or "<what>: key 'lr' is a
 * string, not a number" (also when obj is not an object). what names the file or
 * section for the reader, e.g. "run.json" or "run.json: schedule". */
int bfc_json_get_num(const bfc_json *obj, const char *key, double *out, const char *what);
/* A number that is integral and exactly representable (|v| <= 2^53). */
int bfc_json_get_int(const bfc_json *obj, const char *key, double *out, const char *what);
/* An integer literal fitting in long long, exactly (use for seeds). */
int bfc_json_get_int64(const bfc_json *obj, const char *key, long long *out,
                       const char *what);
int bfc_json_get_bool(const bfc_json *obj, const char *key, int *out, const char *what);
/* Copies the string into buf (cap bytes); an error if it does not fit. */
int bfc_json_get_str(const bfc_json *obj, const char *key, char *buf, size_t cap,
                     const char *what);
/* An array of numbers: *out is allocated with bfc_alloc_d (free with bfc_free) and holds
 * *n values; BFC_ENOMEM if the allocation fails. On error *out is NULL and *n is 0. */
int bfc_json_get_num_array(const bfc_json *obj, const char *key, double **out, size_t *n,
                           const char *what);

#endif
