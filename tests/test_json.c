/* test_json.c: JSON writer output, writer -> parser round trips (bitwise for doubles),
 * numbers read as strtod reads them, escapes, and parse errors that point at line:column. */
#include "bfc.h"
#include "json.h"
#include "rng.h"

#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bfc_json *parse_ok(const char *text)
{
    char err[256];
    bfc_json *v = bfc_json_parse(text, err, sizeof err);
    cr_assert_not_null(v, "parse failed: %s\ninput: %s", err, text);
    return v;
}

/* Parse text that must fail; the message must start with want_pos ("line:col: ") and
 * contain want_text. */
static void parse_fails(const char *text, const char *want_pos, const char *want_text)
{
    char err[256];
    bfc_json *v = bfc_json_parse(text, err, sizeof err);
    cr_assert_null(v, "accepted: %s", text);
    cr_assert(strncmp(err, want_pos, strlen(want_pos)) == 0, "for %s\n got: %s\nwant: %s...",
              text, err, want_pos);
    cr_assert(strstr(err, want_text), "for %s\n got: %s\nwant it to mention: %s", text, err,
              want_text);
    cr_assert_str_eq(bfc_last_error(), err);
}

Test(json, writer_inserts_commas_and_nests)
{
    bfc_jw j;
    bfc_jw_init(&j);
    bfc_jw_obj_begin(&j);
    bfc_jw_kv_str(&j, "name", "bfc");
    bfc_jw_kv_int(&j, "n", -42);
    bfc_jw_kv_num(&j, "lr", 0.1);
    bfc_jw_kv_bool(&j, "ok", 1);
    bfc_jw_key(&j, "none");
    bfc_jw_null(&j);
    bfc_jw_key(&j, "k");
    int k[3] = {1, 2, 3};
    bfc_jw_int_array(&j, k, 3);
    bfc_jw_key(&j, "empty");
    bfc_jw_arr_begin(&j);
    bfc_jw_arr_end(&j);
    bfc_jw_key(&j, "rows");
    bfc_jw_arr_begin(&j);
    bfc_jw_obj_begin(&j);
    bfc_jw_obj_end(&j);
    bfc_jw_num(&j, 100.0);
    bfc_jw_arr_end(&j);
    bfc_jw_obj_end(&j);
    cr_assert_not(j.failed);
    cr_assert_str_eq(j.buf, "{\"name\":\"bfc\",\"n\":-42,\"lr\":0.1,\"ok\":true,\"none\":null,"
                            "\"k\":[1,2,3],\"empty\":[],\"rows\":[{},100]}");
    cr_assert_eq(j.len, strlen(j.buf));
    bfc_jw_free(&j);
    cr_assert_null(j.buf);
}

Test(json, pretty_output_is_indented_and_parses_to_the_same_tree)
{
    bfc_jw j;
    bfc_jw_init(&j);
    j.pretty = 1;
    bfc_jw_obj_begin(&j);
    bfc_jw_kv_int(&j, "a", 1);
    bfc_jw_key(&j, "b");
    double b[2] = {0.5, 2};
    bfc_jw_num_array(&j, b, 2);
    bfc_jw_key(&j, "c");
    bfc_jw_obj_begin(&j);
    bfc_jw_kv_str(&j, "d", "x");
    bfc_jw_obj_end(&j);
    bfc_jw_obj_end(&j);
    cr_assert_not(j.failed);
    cr_assert_str_eq(j.buf, "{\n  \"a\": 1,\n  \"b\": [0.5, 2],\n  \"c\": {\n    \"d\": \"x\"\n  }\n}");
    bfc_json *v = parse_ok(j.buf);
    cr_assert_str_eq(bfc_json_string(bfc_json_get(bfc_json_get(v, "c"), "d")), "x");
    bfc_json_free(v);
    bfc_jw_free(&j);
}

Test(json, numbers_are_short_and_non_finite_values_become_null)
{
    bfc_jw j;
    bfc_jw_init(&j);
    double a[8] = {0.1, 100.0, 1e-7, -0.0, 1.0 / 3.0, NAN, INFINITY, -INFINITY};
    bfc_jw_num_array(&j, a, 8);
    cr_assert_str_eq(j.buf, "[0.1,100,1e-07,-0,0.3333333333333333,null,null,null]");
    bfc_jw_free(&j);
}

Test(json, strings_written_are_valid_utf8_whatever_the_bytes)
{
    bfc_jw j;
    bfc_jw_init(&j);
    /* well-formed UTF-8 (é, ∑, 😀) is kept; a stray continuation byte, a lead byte without
     * its continuation, an overlong form, a surrogate and 0xFF become U+FFFD */
    bfc_jw_str(&j, "\xc3\xa9 \xe2\x88\x91 \xf0\x9f\x98\x80 \x80 \xc3 \xc0\xaf \xed\xa0\x80 \xff");
    cr_assert_str_eq(j.buf, "\"\xc3\xa9 \xe2\x88\x91 \xf0\x9f\x98\x80 \\ufffd \\ufffd "
                            "\\ufffd\\ufffd \\ufffd\\ufffd\\ufffd \\ufffd\"");
    bfc_json *v = parse_ok(j.buf);
    cr_assert_not_null(bfc_json_string(v));
    bfc_json_free(v);
    bfc_jw_free(&j);
}

Test(json, random_doubles_round_trip_bitwise)
{
    enum { N = 20000 };
    double *a = bfc_alloc_d(N);
    size_t n = 0;
    const double special[] = {0.0, -0.0, DBL_MIN, DBL_MAX, -DBL_MAX, DBL_TRUE_MIN,
                              DBL_EPSILON, 1e300, 5e-324, 0.1, 0.2, 0.3, 9007199254740993.0};
    for (size_t i = 0; i < sizeof special / sizeof *special; i++) a[n++] = special[i];
    uint64_t s = 12345;
    while (n < N) {
        uint64_t bits = bfc_mix64(s++);
        double d;
        memcpy(&d, &bits, sizeof d);
        if (!isfinite(d)) continue;
        /* every other one from a "typical" range, where most numbers live */
        if (n % 2) d = ldexp((double)(bits >> 11) / 9007199254740992.0, (int)(bits % 40) - 20);
        a[n++] = d;
    }
    bfc_jw j;
    bfc_jw_init(&j);
    bfc_jw_obj_begin(&j);
    bfc_jw_key(&j, "x");
    bfc_jw_num_array(&j, a, N);
    bfc_jw_obj_end(&j);
    cr_assert_not(j.failed);
    char err[256];
    bfc_json *v = bfc_json_parse(j.buf, err, sizeof err);
    cr_assert_not_null(v, "%s", err);
    double *b;
    size_t m;
    cr_assert_eq(bfc_json_get_num_array(v, "x", &b, &m, "test"), BFC_OK, "%s", bfc_last_error());
    cr_assert_eq(m, (size_t)N);
    for (size_t i = 0; i < m; i++)
        cr_assert_eq(memcmp(&a[i], &b[i], sizeof(double)), 0, "a[%zu] = %.17g read as %.17g", i,
                     a[i], b[i]);
    bfc_free(b);
    bfc_free(a);
    bfc_json_free(v);
    bfc_jw_free(&j);
}

Test(json, nested_objects_round_trip_through_the_parser)
{
    bfc_jw j;
    bfc_jw_init(&j);
    bfc_jw_obj_begin(&j);
    bfc_jw_kv_str(&j, "format", "bfc-run-1");
    bfc_jw_key(&j, "layers");
    bfc_jw_arr_begin(&j);
    for (int l = 0; l < 3; l++) {
        bfc_jw_obj_begin(&j);
        bfc_jw_kv_int(&j, "layer", l);
        bfc_jw_kv_num(&j, "scale", 0.25 * l);
        bfc_jw_kv_bool(&j, "last", l == 2);
        bfc_jw_obj_end(&j);
    }
    bfc_jw_arr_end(&j);
    bfc_jw_kv_int(&j, "seed", 9007199254740993LL); /* 2^53 + 1: exact only as an integer */
    bfc_jw_obj_end(&j);
    cr_assert_not(j.failed);

    bfc_json *v = parse_ok(j.buf);
    cr_assert_eq(bfc_json_type(v), BFC_JSON_OBJECT);
    cr_assert_eq(bfc_json_len(v), 3);
    cr_assert_str_eq(bfc_json_key_at(v, 0), "format");
    cr_assert_str_eq(bfc_json_key_at(v, 2), "seed");
    cr_assert_null(bfc_json_key_at(v, 3));
    const bfc_json *layers = bfc_json_get(v, "layers");
    cr_assert_eq(bfc_json_type(layers), BFC_JSON_ARRAY);
    cr_assert_eq(bfc_json_len(layers), 3);
    for (size_t l = 0; l < 3; l++) {
        const bfc_json *o = bfc_json_at(layers, l);
        double x;
        int last;
        cr_assert_eq(bfc_json_get_int(o, "layer", &x, "layer"), BFC_OK);
        cr_assert_eq(x, (double)l);
        cr_assert_eq(bfc_json_get_num(o, "scale", &x, "layer"), BFC_OK);
        cr_assert_eq(x, 0.25 * (double)l);
        cr_assert_eq(bfc_json_get_bool(o, "last", &last, "layer"), BFC_OK);
        cr_assert_eq(last, l == 2);
    }
    cr_assert_null(bfc_json_at(layers, 3));
    long long seed;
    cr_assert_eq(bfc_json_get_int64(v, "seed", &seed, "run"), BFC_OK);
    cr_assert_eq(seed, 9007199254740993LL);
    double dseed;
    cr_assert_eq(bfc_json_get_int(v, "seed", &dseed, "run"), BFC_EFORMAT,
                 "beyond 2^53 a double would silently round");
    bfc_json_free(v);
    bfc_jw_free(&j);
}

Test(json, strings_are_escaped_and_unescaped)
{
    const char *nasty = "quote\" back\\ nl\n tab\t ctl\x01 slash/ utf8 \xc3\xa9";
    bfc_jw j;
    bfc_jw_init(&j);
    bfc_jw_arr_begin(&j);
    bfc_jw_str(&j, nasty);
    bfc_jw_arr_end(&j);
    cr_assert_str_eq(j.buf, "[\"quote\\\" back\\\\ nl\\n tab\\t ctl\\u0001 slash/ utf8 \xc3\xa9\"]");
    bfc_json *v = parse_ok(j.buf);
    cr_assert_str_eq(bfc_json_string(bfc_json_at(v, 0)), nasty);
    bfc_json_free(v);
    bfc_jw_free(&j);

    v = parse_ok("[\"\\u00e9\\u20ac\\ud83d\\ude00\\/\\b\\f\\r\", \"\"]");
    cr_assert_str_eq(bfc_json_string(bfc_json_at(v, 0)),
                     "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80/\b\f\r");
    cr_assert_str_eq(bfc_json_string(bfc_json_at(v, 1)), "");
    bfc_json_free(v);
}

Test(json, parses_literals_numbers_and_whitespace)
{
    bfc_json *v = parse_ok(" \t\r\n[true, false, null, -0, 1.5e3, 2E-2, 12345678901234567890]\n");
    int b;
    double x;
    long long i;
    cr_assert_eq(bfc_json_bool(bfc_json_at(v, 0), &b), 0);
    cr_assert_eq(b, 1);
    cr_assert_eq(bfc_json_bool(bfc_json_at(v, 1), &b), 0);
    cr_assert_eq(b, 0);
    cr_assert_eq(bfc_json_type(bfc_json_at(v, 2)), BFC_JSON_NULL);
    cr_assert_eq(bfc_json_number(bfc_json_at(v, 3), &x), 0);
    cr_assert(x == 0 && signbit(x));
    cr_assert_eq(bfc_json_number(bfc_json_at(v, 4), &x), 0);
    cr_assert_eq(x, 1500.0);
    cr_assert_eq(bfc_json_number(bfc_json_at(v, 5), &x), 0);
    cr_assert_eq(x, 0.02);
    cr_assert_eq(bfc_json_int64(bfc_json_at(v, 4), &i), BFC_EFORMAT, "1.5e3 is no integer literal");
    cr_assert_eq(bfc_json_int64(bfc_json_at(v, 6), &i), BFC_EFORMAT, "too large for long long");
    cr_assert_eq(bfc_json_number(bfc_json_at(v, 6), &x), 0);
    cr_assert_eq(x, 12345678901234567890.0);
    cr_assert_eq(bfc_json_number(bfc_json_at(v, 0), &x), BFC_EFORMAT);
    cr_assert_null(bfc_json_string(bfc_json_at(v, 0)));
    cr_assert_eq(bfc_json_type(NULL), BFC_JSON_NONE);
    bfc_json_free(v);
    v = parse_ok("7");
    cr_assert_eq(bfc_json_int64(v, &i), 0);
    cr_assert_eq(i, 7);
    bfc_json_free(v);
    bfc_json_free(NULL);
}

/* Jansson's messages; the column is that of the last character read (the end of the
 * offending token). */
Test(json, errors_point_at_line_and_column)
{
    parse_fails("{\"a\": \"abc", "1:10: ", "premature end of input near '\"abc'");
    parse_fails("[1, 2,]", "1:7: ", "(trailing comma)");
    parse_fails("{\"a\":1,}", "1:8: ", "(trailing comma)");
    parse_fails("{\"a\":1 ,\n }", "2:2: ", "(trailing comma)");
    parse_fails("{\n  \"a\" 1\n}", "2:7: ", "':' expected near '1'");
    parse_fails("{\"a\": 1} x", "1:10: ", "end of file expected near 'x'");
    parse_fails("[1 2]", "1:4: ", "']' expected near '2'");
    parse_fails("{\"a\": 1 \"b\": 2}", "1:11: ", "'}' expected near '\"b\"'");
    parse_fails("{1: 2}", "1:2: ", "string or '}' expected near '1'");
    parse_fails("", "1:1: ", "unexpected token near end of file");
    parse_fails("[tru]", "1:4: ", "invalid token near 'tru'");
    parse_fails("[01]", "1:2: ", "invalid token near '0'");
    parse_fails("[1.]", "1:3: ", "invalid token near '1.'");
    parse_fails("[-]", "1:2: ", "invalid token near '-'");
    parse_fails("[1e400]", "1:6: ", "real number overflow near '1e400'");
    parse_fails("[-1e999]", "1:7: ", "real number overflow");
    parse_fails("[NaN]", "1:4: ", "invalid token near 'NaN'");
    parse_fails("[\"a\nb\"]", "1:3: ", "unexpected newline");
    parse_fails("[\"\\x\"]", "1:4: ", "invalid escape");
    parse_fails("[\"\\u12g4\"]", "1:7: ", "invalid escape");
    parse_fails("[\"\\ud83d\"]", "1:9: ", "invalid Unicode '\\uD83D'");
    parse_fails("[\"\\ude00\"]", "1:9: ", "invalid Unicode '\\uDE00'");
    parse_fails("[\"\\u0000\"]", "1:9: ", "\\u0000 is not allowed");
    parse_fails("{\"a\": 1, \"a\": 2}", "1:12: ", "duplicate object key near '\"a\"'");
    parse_fails("[\"\xff\"]", "1:2: ", "unable to decode byte 0xff");
    parse_fails("[1] // comment", "1:5: ", "end of file expected near '/'");
}

Test(json, numbers_read_exactly_as_strtod_reads_their_text)
{
    const char *lit[] = {"-0", "0", "-0.0", "1e-400", "4.9e-324", "2.2250738585072011e-308",
                         "9007199254740993", "-9223372036854775808", "9223372036854775808",
                         "123456789012345678901234567890", "0.1", "1.7976931348623157e308"};
    const size_t n = sizeof lit / sizeof *lit;
    char text[1024] = "[";
    for (size_t i = 0; i < n; i++) {
        strcat(text, lit[i]);
        strcat(text, i + 1 < n ? "," : "]");
    }
    bfc_json *v = parse_ok(text);
    for (size_t i = 0; i < n; i++) {
        double x, want = strtod(lit[i], NULL);
        cr_assert_eq(bfc_json_number(bfc_json_at(v, i), &x), BFC_OK);
        cr_assert_eq(memcmp(&x, &want, sizeof x), 0, "%s read as %.17g", lit[i], x);
    }
    bfc_json_free(v);
    /* integer literals are exact where they fit in long long */
    v = parse_ok("[-9223372036854775808, 9223372036854775807, -0, 1e3, 1.0]");
    long long i;
    cr_assert_eq(bfc_json_int64(bfc_json_at(v, 0), &i), BFC_OK);
    cr_assert_eq(i, INT64_MIN);
    cr_assert_eq(bfc_json_int64(bfc_json_at(v, 1), &i), BFC_OK);
    cr_assert_eq(i, INT64_MAX);
    cr_assert_eq(bfc_json_int64(bfc_json_at(v, 2), &i), BFC_OK);
    cr_assert_eq(i, 0);
    cr_assert_eq(bfc_json_int64(bfc_json_at(v, 3), &i), BFC_EFORMAT);
    cr_assert_eq(bfc_json_int64(bfc_json_at(v, 4), &i), BFC_EFORMAT);
    bfc_json_free(v);
    /* beside a literal beyond long long, numbers are known as doubles only (json.h) */
    v = parse_ok("{\"seed\": 7, \"big\": 9223372036854775808}");
    double x;
    cr_assert_eq(bfc_json_get_int64(v, "seed", &i, "doc"), BFC_EFORMAT);
    cr_assert_eq(bfc_json_get_int(v, "seed", &x, "doc"), BFC_OK);
    cr_assert_eq(x, 7.0);
    bfc_json_free(v);
}

Test(json, nesting_deeper_than_the_limit_is_rejected)
{
    char *deep = malloc(2 * BFC_JSON_MAX_DEPTH + 10);
    size_t n = 0;
    for (int i = 0; i < BFC_JSON_MAX_DEPTH; i++) deep[n++] = '[';
    for (int i = 0; i < BFC_JSON_MAX_DEPTH; i++) deep[n++] = ']';
    deep[n] = '\0';
    bfc_json *v = parse_ok(deep); /* exactly at the limit */
    bfc_json_free(v);
    free(deep);

    char *deeper = malloc(100001);
    memset(deeper, '[', 100000);
    deeper[100000] = '\0';
    char want[32];
    snprintf(want, sizeof want, "1:%d: ", BFC_JSON_MAX_DEPTH + 1);
    parse_fails(deeper, want, "maximum parsing depth reached");
    free(deeper);
}

Test(json, typed_getters_explain_what_is_wrong)
{
    bfc_json *v = parse_ok("{\"lr\": \"fast\", \"n\": 2.5, \"name\": \"abcdef\", "
                           "\"xs\": [1, \"two\"], \"flag\": 1}");
    double x;
    char s[4];
    int b;
    cr_assert_eq(bfc_json_get_num(v, "missing", &x, "run.json"), BFC_EFORMAT);
    cr_assert_str_eq(bfc_last_error(), "run.json: key 'missing' missing");
    cr_assert_eq(bfc_json_get_num(v, "lr", &x, "run.json"), BFC_EFORMAT);
    cr_assert_str_eq(bfc_last_error(), "run.json: key 'lr' is a string, not a number");
    cr_assert_eq(bfc_json_get_int(v, "n", &x, "run.json"), BFC_EFORMAT);
    cr_assert_str_eq(bfc_last_error(), "run.json: key 'n' = 2.5 is not an integer");
    cr_assert_eq(bfc_json_get_str(v, "name", s, sizeof s, "run.json"), BFC_EFORMAT);
    cr_assert_str_eq(bfc_last_error(), "run.json: key 'name' is longer than 3 characters");
    cr_assert_eq(bfc_json_get_bool(v, "flag", &b, "run.json"), BFC_EFORMAT);
    cr_assert_str_eq(bfc_last_error(), "run.json: key 'flag' is a number, not a boolean");
    double *a = (double *)&x;
    size_t n = 9;
    cr_assert_eq(bfc_json_get_num_array(v, "xs", &a, &n, "run.json"), BFC_EFORMAT);
    cr_assert_str_eq(bfc_last_error(), "run.json: key 'xs'[1] is a string, not a number");
    cr_assert_null(a);
    cr_assert_eq(n, 0);
    cr_assert_eq(bfc_json_get_num(bfc_json_get(v, "xs"), "k", &x, "run.json: xs"), BFC_EFORMAT);
    cr_assert_str_eq(bfc_last_error(), "run.json: xs: expected an object holding key 'k', found "
                                       "an array");
    char ok[8];
    cr_assert_eq(bfc_json_get_str(v, "name", ok, sizeof ok, "run.json"), BFC_OK);
    cr_assert_str_eq(ok, "abcdef");
    bfc_json_free(v);
}

Test(json, writer_flags_misuse_instead_of_writing_invalid_json)
{
    bfc_jw j;
    bfc_jw_init(&j);
    bfc_jw_obj_begin(&j);
    bfc_jw_int(&j, 1); /* a value in an object needs a key */
    cr_assert(j.failed);
    bfc_jw_free(&j);

    bfc_jw_init(&j);
    bfc_jw_arr_begin(&j);
    bfc_jw_obj_end(&j); /* mismatched */
    cr_assert(j.failed);
    bfc_jw_free(&j);

    bfc_jw_init(&j);
    bfc_jw_int(&j, 1);
    bfc_jw_int(&j, 2); /* two top-level values */
    cr_assert(j.failed);
    bfc_jw_free(&j);

    bfc_jw_init(&j);
    for (int i = 0; i <= BFC_JW_MAX_DEPTH; i++) bfc_jw_arr_begin(&j);
    cr_assert(j.failed, "nesting beyond BFC_JW_MAX_DEPTH");
    cr_assert_eq(bfc_jw_write_file(&j, "never-written.json"), BFC_ENOMEM);
    cr_assert_eq(access("never-written.json", F_OK), -1);
    bfc_jw_free(&j);
}

Test(json, files_are_written_and_parse_errors_name_the_file)
{
    char dir[256], path[300], err[512];
    const char *t = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/bfc_json_XXXXXX", t && *t ? t : "/tmp");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/meta.json", dir);

    bfc_jw j;
    bfc_jw_init(&j);
    bfc_jw_obj_begin(&j);
    bfc_jw_kv_num(&j, "x", 1.25);
    bfc_jw_obj_end(&j);
    cr_assert_eq(bfc_jw_write_file(&j, path), BFC_OK, "%s", bfc_last_error());
    bfc_jw_free(&j);
    bfc_json *v = bfc_json_parse_file(path, err, sizeof err);
    cr_assert_not_null(v, "%s", err);
    double x;
    cr_assert_eq(bfc_json_get_num(v, "x", &x, path), 0);
    cr_assert_eq(x, 1.25);
    bfc_json_free(v);

    FILE *f = fopen(path, "w");
    fputs("{\n  \"x\": 1,\n  \"y\": [1, 2,]\n}\n", f);
    fclose(f);
    cr_assert_null(bfc_json_parse_file(path, err, sizeof err));
    char want[400];
    snprintf(want, sizeof want, "%s:3:14: unexpected token near ']' (trailing comma)", path);
    cr_assert(strncmp(err, want, strlen(want)) == 0, "got: %s\nwant: %s", err, want);

    unlink(path);
    cr_assert_null(bfc_json_parse_file(path, err, sizeof err));
    cr_assert(strstr(err, path) && strstr(err, "No such file"), "got: %s", err);
    rmdir(dir);
}
