/* test_fuzz_regressions.c: inputs found by the fuzz targets (fuzz/) or while writing them that
 * crashed a parser, made it misreport the input, or were accepted when they should not be.
 * Each test feeds the input to the parser and asserts a clean error naming the problem. */
#include "bfc.h"
#include "cli.h"
#include "fsutil.h"
#include "learner.h"
#include "npy.h"
#include "rng.h"
#include "target.h"
#include "train.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char scratch[512];

static void make_scratch(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(scratch, sizeof scratch, "%s/bfc_fuzzreg_XXXXXX", t && *t ? t : "/tmp");
    cr_assert_not_null(mkdtemp(scratch), "mkdtemp: %s", strerror(errno));
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(p);
}

static void remove_scratch(void) { nftw(scratch, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

static const char *in_scratch(const char *name)
{
    static char buf[4][1024];
    static int k;
    k = (k + 1) % 4;
    cr_assert_eq(bfc_path_join(buf[k], sizeof buf[k], scratch, name), BFC_OK);
    return buf[k];
}

static void write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "cannot write %s", path);
    cr_assert_eq(fwrite(p, 1, n, f), n);
    cr_assert_eq(fclose(f), 0);
}

/* A valid saved target (d = 2, L = 2, k = 2) as bfc_target_save writes it, with its two
 * weight matrices; tests change one field of the text. */
static const char target_json[] =
    "{\"format\":\"bfc-target-1\",\"d\":2,\"L\":2,\"k\":[2],\"J\":[[0,1]],\"gap\":0.1,"
    "\"alpha_explicit\":false,\"alpha\":[1],\"noise\":0,\"input\":\"gaussian\","
    "\"weights\":\"gaussian\",\"task\":\"regression\",\"n_ref\":1000,\"seed\":0,"
    "\"shares\":[1],\"variance\":2,\"median\":1,"
    "\"standardisation\":[{\"layer\":2,\"mean\":[0,0],\"scale\":[1,1]}]}";

/* Write target_json with the first occurrence of from replaced by to, and the weights. */
static void write_target(const char *from, const char *to)
{
    const char *at = strstr(target_json, from);
    cr_assert_not_null(at, "fixture has no '%s'", from);
    char text[2048];
    snprintf(text, sizeof text, "%.*s%s%s", (int)(at - target_json), target_json, to,
             at + strlen(from));
    write_bytes(in_scratch("target.json"), text, strlen(text));
    const double W[4] = {1, 0.5, -0.25, 2};
    const size_t shape[2] = {2, 2};
    cr_assert_eq(bfc_npy_save(in_scratch("W_2_0.npy"), W, 2, shape), BFC_OK);
    cr_assert_eq(bfc_npy_save(in_scratch("W_2_1.npy"), W, 2, shape), BFC_OK);
}

/* Loading the scratch target must fail with BFC_EFORMAT and a message that starts with
 * the file's path and says "invalid configuration" at most once; returns the message. */
static const char *target_load_fails(void)
{
    int st = -1;
    bfc_target *t = bfc_target_load(scratch, &st);
    bfc_target_free(t);
    cr_assert_null(t, "the target loaded");
    cr_assert_eq(st, BFC_EFORMAT, "status %d: %s", st, bfc_last_error());
    const char *msg = bfc_last_error(), *path = in_scratch("target.json");
    cr_assert(strncmp(msg, path, strlen(path)) == 0, "message does not start with %s: %s",
              path, msg);
    const char *inv = strstr(msg, "invalid configuration");
    cr_assert(!inv || !strstr(inv + 1, "invalid configuration"), "garbled message: %s", msg);
    return msg;
}

TestSuite(fuzz_regressions, .init = make_scratch, .fini = remove_scratch);

Test(fuzz_regressions, target_fixture_loads)
{
    write_target("\"d\":2", "\"d\":2");
    int st = -1;
    bfc_target *t = bfc_target_load(scratch, &st);
    cr_assert_not_null(t, "%s", bfc_last_error());
    cr_assert_eq(bfc_target_config_of(t)->task, BFC_TASK_REGRESSION);
    bfc_target_free(t);
}

/* Writing fuzz_target: parse_config formatted its "invalid configuration: %s" message with
 * bfc_last_error() as an argument, i.e. into the buffer it was reading (overlapping
 * vsnprintf, undefined), and printed e.g. "target.json: invalid configuration:
 * target.json: invalid configuration:  and 64 (got 100)". */
Test(fuzz_regressions, target_invalid_configuration_message_is_not_garbled)
{
    write_target("\"k\":[2]", "\"k\":[100]");
    const char *msg = target_load_fails();
    cr_assert(strstr(msg, "invalid configuration: --k: width of layer 2 must be between 1 and "
                          "64 (got 100)"),
              "message: %s", msg);
}

/* fuzz_target: {"k":[2,29223372036854775807]} ran (int)v on a double beyond int, undefined
 * behaviour (UBSan float-cast-overflow in get_int_array); so do d and L in parse_config. On
 * x86-64 the conversion gives INT_MIN, and the message then reported -2147483648, a number
 * that is not in the file. */
Test(fuzz_regressions, target_integers_beyond_int_are_rejected_as_written)
{
    const char *cases[][2] = {{"\"k\":[2]", "\"k\":[29223372036854775807]"},
                              {"\"k\":[2]", "\"k\":[-1e10]"},
                              {"\"d\":2", "\"d\":1e10"},
                              {"\"L\":2", "\"L\":4294967298"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_target(cases[i][0], cases[i][1]);
        const char *msg = target_load_fails();
        cr_assert(!strstr(msg, "2147483648") && !strstr(msg, "2147483646"),
                  "%s: the message reports a wrapped value: %s", cases[i][1], msg);
    }
}

/* Review of parse_config: "input", "weights" and "task" other than the two known names were
 * read as the default (gaussian, gaussian, regression), so a misspelt "classification" ran
 * a regression task without a word. */
Test(fuzz_regressions, target_unknown_input_weights_or_task_is_rejected)
{
    const char *cases[][3] = {{"\"input\":\"gaussian\"", "\"input\":\"spherical\"", "spherical"},
                              {"\"weights\":\"gaussian\"", "\"weights\":\"orthogonal\"", "orthogonal"},
                              {"\"task\":\"regression\"", "\"task\":\"classificaton\"", "classificaton"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_target(cases[i][0], cases[i][1]);
        const char *msg = target_load_fails();
        cr_assert(strstr(msg, cases[i][2]), "the message does not name '%s': %s", cases[i][2],
                  msg);
    }
}

/* Review of the .npy header parser (hshape): the overflow check ran after v = 10 v + digit,
 * so a dimension of 2^64 + 4 wrapped to 4 and a file holding 4 doubles loaded as shape (4,). */
Test(fuzz_regressions, npy_dimension_beyond_2_64_is_rejected_not_wrapped)
{
    const char dict[] = "{'descr': '<f8', 'fortran_order': False, "
                        "'shape': (18446744073709551620,), }";
    char header[128];
    size_t dl = strlen(dict), hl = 128 - 10;
    memset(header, ' ', hl);
    memcpy(header, dict, dl);
    header[hl - 1] = '\n';
    unsigned char file[128 + 32] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                                    (unsigned char)hl, 0};
    memcpy(file + 10, header, hl);
    const double data[4] = {1, 2, 3, 4};
    memcpy(file + 128, data, sizeof data);
    const char *path = in_scratch("wrap.npy");
    write_bytes(path, file, sizeof file);
    double *a = NULL;
    int nd = 0;
    size_t shape[2] = {0, 0};
    int st = bfc_npy_load(path, &a, &nd, shape);
    bfc_free(a);
    cr_assert_eq(st, BFC_EFORMAT, "status %d, shape (%zu, %zu): %s", st, shape[0], shape[1],
                 st ? bfc_last_error() : "loaded");
    cr_assert_null(a);
}

/* Review of bfc_data_load: only X was checked for NaN/inf, so `bfc train --data` on a set
 * whose train_y.npy held a NaN reported "training diverged ... try a smaller --lr". */
Test(fuzz_regressions, data_with_non_finite_labels_or_targets_is_rejected)
{
    const char *which[2] = {"y", "g"};
    for (int w = 0; w < 2; w++) {
        const double X[6] = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6};
        double y[3] = {1, 2, 3}, g[3] = {1, 2, 3};
        (w == 0 ? y : g)[1] = w == 0 ? NAN : INFINITY;
        const size_t shx[2] = {3, 2}, shy[1] = {3};
        cr_assert_eq(bfc_npy_save(in_scratch("train_x.npy"), X, 2, shx), BFC_OK);
        cr_assert_eq(bfc_npy_save(in_scratch("train_y.npy"), y, 1, shy), BFC_OK);
        cr_assert_eq(bfc_npy_save(in_scratch("train_g.npy"), g, 1, shy), BFC_OK);
        bfc_data D;
        int st = bfc_data_load(scratch, "train", 2, &D);
        if (!st) bfc_data_free(&D);
        cr_assert_eq(st, BFC_EFORMAT, "a non-finite %s loaded (status %d)", which[w], st);
        char file[32];
        snprintf(file, sizeof file, "train_%s.npy", which[w]);
        cr_assert(strstr(bfc_last_error(), file), "message does not name %s: %s", file,
                  bfc_last_error());
    }
}

/* Review of bfc_parse_u64: it refused a leading '-' but strtoull skips white space and
 * negates, so --seed " -1" was read as 18446744073709551615. */
Test(fuzz_regressions, seed_with_space_before_minus_is_rejected)
{
    uint64_t u = 7;
    cr_assert_neq(bfc_parse_u64("--seed", " -1", &u), BFC_OK, "read as %llu",
                  (unsigned long long)u);
    cr_assert_neq(bfc_parse_u64("--seed", "\t-5", &u), BFC_OK, "read as %llu",
                  (unsigned long long)u);
    cr_assert_eq(bfc_parse_u64("--seed", "18446744073709551615", &u), BFC_OK);
    cr_assert_eq(u, UINT64_MAX);
}

/* A checkpoint whose checksum is right but whose generator state has its table index out of
 * range (written for the checkpoint fuzz target: fuzz/corpus/checkpoint/rng_index_negative)
 * crashed the first draw after --resume inside GSL; it is refused, naming the state. */
static void stop_after_two(const bfc_train_point *pt, void *ctx)
{
    if (pt->global_step >= 2) *(volatile sig_atomic_t *)ctx = 1;
}

Test(fuzz_regressions, checkpoint_with_rng_index_out_of_range_is_refused)
{
    bfc_target_config tc;
    bfc_target_defaults(&tc);
    tc.d = 3;
    tc.L = 3;
    tc.k[2] = tc.k[3] = 2;
    tc.n_ref = 1000;
    bfc_target_resolve(&tc);
    int st = 0;
    bfc_target *t = bfc_target_new(&tc, &st);
    cr_assert_not_null(t, "%s", bfc_last_error());
    bfc_data train, test;
    cr_assert_eq(bfc_data_make(t, 12, 1, BFC_STREAM_TRAIN, &train), BFC_OK);
    cr_assert_eq(bfc_data_make(t, 8, 1, BFC_STREAM_TEST, &test), BFC_OK);
    bfc_learner_config lc;
    bfc_learner_defaults(&lc);
    lc.m = 3;
    bfc_learner *lr = bfc_learner_new(&tc, &lc, 4, &st);
    cr_assert_not_null(lr);
    bfc_train_config c;
    bfc_train_defaults(&c);
    c.steps = 3;
    c.batch = 4;
    c.eval_every = 1;
    c.checkpoint = in_scratch("checkpoint.bin");
    c.config_hash = 7;
    volatile sig_atomic_t flag = 0;
    c.stop = &flag;
    bfc_train_result res;
    cr_assert_eq(bfc_train(lr, t, &train, &test, &c, stop_after_two, (void *)&flag, &res),
                 BFC_EINTR);
    size_t len = 0;
    unsigned char *b = (unsigned char *)bfc_read_file(c.checkpoint, &len);
    cr_assert_not_null(b);
    /* the state ends the file before the checksum: {unsigned long mt[624]; int mti;} */
    const size_t mti = len - 8 - (624 * sizeof(unsigned long) + 8) + 624 * sizeof(unsigned long);
    const int bad = -1000000;
    memcpy(b + mti, &bad, sizeof bad);
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len - 8; i++) h = (h ^ b[i]) * 0x100000001b3ULL;
    memcpy(b + len - 8, &h, sizeof h);
    FILE *f = fopen(c.checkpoint, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(b, 1, len, f), len);
    fclose(f);
    free(b);
    c.resume = 1;
    c.stop = NULL;
    cr_expect_eq(bfc_train(lr, t, &train, &test, &c, NULL, NULL, &res), BFC_EFORMAT);
    cr_expect_not_null(strstr(bfc_last_error(), "random number generator state"), "%s",
                       bfc_last_error());
    bfc_learner_free(lr);
    bfc_data_free(&train);
    bfc_data_free(&test);
    bfc_target_free(t);
}
