/* fuzz_json.c: libFuzzer target for the JSON reader (bfc_json_parse: Jansson's parser, then
 * the copy into our tree with each number's double and integer literal). Besides looking for
 * memory and UB errors it checks two facts on every input the parser accepts: each accessor
 * agrees with the tree, and writing the tree back with bfc_jw and parsing the text again
 * gives the same tree (numbers compare as doubles, -0 and 0 kept apart). */
#include "bfc.h"
#include "json.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Write v into j as bfc_jw would a document built by hand. */
static void write_value(bfc_jw *j, const bfc_json *v)
{
    double x;
    int b;
    switch (bfc_json_type(v)) {
    case BFC_JSON_NULL: bfc_jw_null(j); break;
    case BFC_JSON_BOOL: CHECK(bfc_json_bool(v, &b) == BFC_OK); bfc_jw_bool(j, b); break;
    case BFC_JSON_NUMBER: CHECK(bfc_json_number(v, &x) == BFC_OK); bfc_jw_num(j, x); break;
    case BFC_JSON_STRING: bfc_jw_str(j, bfc_json_string(v)); break;
    case BFC_JSON_ARRAY:
        bfc_jw_arr_begin(j);
        for (size_t i = 0; i < bfc_json_len(v); i++) write_value(j, bfc_json_at(v, i));
        bfc_jw_arr_end(j);
        break;
    case BFC_JSON_OBJECT:
        bfc_jw_obj_begin(j);
        for (size_t i = 0; i < bfc_json_len(v); i++) {
            bfc_jw_key(j, bfc_json_key_at(v, i));
            write_value(j, bfc_json_at(v, i));
        }
        bfc_jw_obj_end(j);
        break;
    default: CHECK(!"a parsed value has no type");
    }
}

/* Structural equality; also exercises the typed getters on every object member. */
static int same(const bfc_json *a, const bfc_json *b)
{
    int t = bfc_json_type(a);
    if (t != bfc_json_type(b)) return 0;
    double x, y;
    int p, q;
    switch (t) {
    case BFC_JSON_NULL: return 1;
    case BFC_JSON_BOOL: bfc_json_bool(a, &p); bfc_json_bool(b, &q); return p == q;
    case BFC_JSON_NUMBER:
        bfc_json_number(a, &x);
        bfc_json_number(b, &y);
        return x == y && signbit(x) == signbit(y);
    case BFC_JSON_STRING: return strcmp(bfc_json_string(a), bfc_json_string(b)) == 0;
    case BFC_JSON_ARRAY:
    case BFC_JSON_OBJECT:
        if (bfc_json_len(a) != bfc_json_len(b)) return 0;
        for (size_t i = 0; i < bfc_json_len(a); i++) {
            if (t == BFC_JSON_OBJECT) {
                const char *k = bfc_json_key_at(a, i);
                if (strcmp(k, bfc_json_key_at(b, i)) != 0) return 0;
                CHECK(bfc_json_get(a, k) == bfc_json_at(a, i)); /* keys are unique */
                double d;
                long long ll;
                int bb;
                char s[8];
                (void)bfc_json_get_num(a, k, &d, "fuzz");
                (void)bfc_json_get_int(a, k, &d, "fuzz");
                (void)bfc_json_get_int64(a, k, &ll, "fuzz");
                (void)bfc_json_get_bool(a, k, &bb, "fuzz");
                (void)bfc_json_get_str(a, k, s, sizeof s, "fuzz");
                double *arr = NULL;
                size_t n = 99;
                int st = bfc_json_get_num_array(a, k, &arr, &n, "fuzz");
                CHECK(st == BFC_OK ? n == bfc_json_len(bfc_json_at(a, i)) : (!arr && n == 0));
                bfc_free(arr);
            }
            if (!same(bfc_json_at(a, i), bfc_json_at(b, i))) return 0;
        }
        CHECK(bfc_json_at(a, bfc_json_len(a)) == NULL);
        return 1;
    default: return 0;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char err[256];
    bfc_json *v = bfc_json_parse(text, err, sizeof err);
    if (!v) {
        CHECK(err[0] != '\0'); /* a rejection always says why */
        free(text);
        return 0;
    }
    bfc_jw j;
    bfc_jw_init(&j);
    write_value(&j, v);
    /* the writer nests at most BFC_JW_MAX_DEPTH levels, the parser more: skip those */
    if (!j.failed) {
        bfc_json *w = bfc_json_parse(j.buf, err, sizeof err);
        if (!w) fprintf(stderr, "fuzz_json: the written text does not parse: %s\n%s\n", err, j.buf);
        CHECK(w != NULL);
        CHECK(same(v, w));
        bfc_json_free(w);
    }
    bfc_jw_free(&j);
    bfc_json_free(v);
    free(text);
    return 0;
}
