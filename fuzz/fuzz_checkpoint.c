/* fuzz_checkpoint.c: libFuzzer target for the checkpoint loader behind `bfc train --resume`
 * (ckpt_load in src/train.c, reached through bfc_train). The first byte of an input picks
 * the mode:
 *   odd:  the rest is the whole checkpoint file, as found on disk (magic, header, checksum:
 *         the fuzzer must get past them by itself);
 *   even: the rest is the body after the 48-byte header, and the harness writes a correct
 *         magic, header (configuration hash and sizes of the run below) and checksum around
 *         it, so that every input reaches the checks of the loop position, the results and
 *         the state, and an accepted one resumes training.
 * A rejected file must leave a message; an accepted one must resume into results that are
 * consistent (stages done within the plan, strings terminated) or stop with a numerical
 * error and its message (a checksum-valid file may hold parameters no training can use). The run is tiny (d = 3,
 * L = 3, 12 training points, 3 steps per stage) so that a resumed run takes microseconds.
 *
 * FUZZ_CHECKPOINT_VERBOSE=1 prints each input's outcome.
 * Seeds: FUZZ_CHECKPOINT_SEEDS=DIR build-fuzz/fuzz_checkpoint writes real checkpoints of
 * this run, interrupted at several steps, as even-mode inputs into DIR and exits. */
#include "bfc.h"
#include "fsutil.h"
#include "learner.h"
#include "rng.h"
#include "target.h"
#include "train.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "fuzz_check.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HASH 0x5eedc0de12345678ULL
#define HDR (8 + 5 * sizeof(uint64_t))

static char path[600];
static bfc_target *t;
static bfc_data train, test;
static bfc_learner *lr;
static double *theta0;
static size_t np;

static void cleanup(void)
{
    unlink(path);
    bfc_learner_free(lr);
    bfc_data_free(&train);
    bfc_data_free(&test);
    bfc_target_free(t);
    free(theta0);
}

static void config(bfc_train_config *c)
{
    bfc_train_defaults(c);
    c->steps = 3;
    c->batch = 4;
    c->eval_every = 2;
    c->seed = 1;
    c->checkpoint = path;
    c->config_hash = HASH;
}

static uint64_t fnv(const unsigned char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

static void put(const unsigned char *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    CHECK(fwrite(p, 1, n, f) == n);
    CHECK(fclose(f) == 0);
}

typedef struct {
    volatile sig_atomic_t *flag;
    long at;
} stopper;

static void stop_at(const bfc_train_point *pt, void *ctx)
{
    stopper *s = ctx;
    if (pt->global_step >= s->at) *s->flag = 1;
}

/* Real checkpoints of the run, interrupted after `at` steps, as even-mode seeds. */
static void write_seeds(const char *dir)
{
    const long at[] = {2, 4, 3};
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
        bfc_train_config c;
        config(&c);
        volatile sig_atomic_t flag = 0;
        stopper s = {&flag, at[i]};
        c.stop = &flag;
        if (i == 2) c.checkpoint_every = 1, s.at = 100; /* the stage-end checkpoint */
        memcpy(bfc_learner_params(lr), theta0, np * sizeof(double));
        bfc_train_result res;
        int st = bfc_train(lr, t, &train, &test, &c, stop_at, &s, &res);
        CHECK(st == BFC_EINTR || st == BFC_OK);
        size_t len = 0;
        unsigned char *b = (unsigned char *)bfc_read_file(path, &len);
        CHECK(b != NULL && len > HDR + 8);
        char out[700];
        snprintf(out, sizeof out, "%s/resume_%zu", dir, i);
        FILE *f = fopen(out, "wb");
        CHECK(f != NULL);
        fputc(0, f);
        CHECK(fwrite(b + HDR, 1, len - HDR - 8, f) == len - HDR - 8);
        CHECK(fclose(f) == 0);
        free(b);
        if (i == 2) break;
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/bfc-fuzz-ckpt-%d.bin", base && *base ? base : "/tmp",
             (int)getpid());
    bfc_target_config tc;
    bfc_target_defaults(&tc);
    tc.d = 3;
    tc.L = 3;
    tc.k[2] = tc.k[3] = 2;
    tc.n_ref = 1000;
    bfc_target_resolve(&tc);
    int st = 0;
    t = bfc_target_new(&tc, &st);
    if (!t) fprintf(stderr, "fuzz_checkpoint: %s\n", bfc_last_error());
    CHECK(t != NULL);
    CHECK(bfc_data_make(t, 12, 1, BFC_STREAM_TRAIN, &train) == BFC_OK);
    CHECK(bfc_data_make(t, 8, 1, BFC_STREAM_TEST, &test) == BFC_OK);
    bfc_learner_config lc;
    bfc_learner_defaults(&lc);
    lc.m = 3;
    lc.seed = 1;
    CHECK((lr = bfc_learner_new(&tc, &lc, 4, &st)) != NULL);
    np = bfc_learner_nparams(lr);
    CHECK((theta0 = malloc(np * sizeof(double))) != NULL);
    memcpy(theta0, bfc_learner_params(lr), np * sizeof(double));
    atexit(cleanup);
    const char *seeds = getenv("FUZZ_CHECKPOINT_SEEDS");
    if (seeds && *seeds) {
        write_seeds(seeds);
        exit(0);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    if (data[0] & 1) {
        put(data + 1, size - 1);
    } else {
        const size_t body = size - 1, len = HDR + body + 8;
        unsigned char *b = malloc(len);
        CHECK(b != NULL);
        memcpy(b, "BFCCKPT1", 8);
        gsl_rng *r = bfc_rng_new(0, BFC_STREAM_BATCH);
        CHECK(r != NULL);
        const uint64_t hdr[5] = {HASH, np, (uint64_t)train.n, gsl_rng_size(r),
                                 sizeof(bfc_train_result)};
        gsl_rng_free(r);
        memcpy(b + 8, hdr, sizeof hdr);
        memcpy(b + HDR, data + 1, body);
        const uint64_t h = fnv(b, HDR + body);
        memcpy(b + HDR + body, &h, sizeof h);
        put(b, len);
        free(b);
    }
    bfc_train_config c;
    config(&c);
    c.resume = 1;
    memcpy(bfc_learner_params(lr), theta0, np * sizeof(double));
    bfc_train_result res;
    bfc_fail(BFC_OK, "%s", ""); /* a rejection must leave its own message */
    int st = bfc_train(lr, t, &train, &test, &c, NULL, NULL, &res);
    if (getenv("FUZZ_CHECKPOINT_VERBOSE"))
        fprintf(stderr, "fuzz_checkpoint: %s (%s)\n", bfc_status_name(st),
                st == BFC_OK || st == BFC_EDIVERGED ? res.message : bfc_last_error());
    if (st == BFC_OK || st == BFC_EDIVERGED) {
        CHECK(res.n_stages == 2);
        CHECK(res.stages_done >= 0 && res.stages_done <= res.n_stages);
        CHECK(res.stage_top[0] == 2 && res.stage_top[1] == 3);
        CHECK(memchr(res.message, 0, sizeof res.message) != NULL);
        CHECK(memchr(res.ckpt_error, 0, sizeof res.ckpt_error) != NULL);
        CHECK(res.steps >= 0 && res.steps <= 6);
        if (st == BFC_OK) CHECK(res.stages_done == 2);
    } else {
        /* refused, or accepted with numbers (parameters, moments) that training cannot use:
         * a clean error with a message either way */
        CHECK(st == BFC_EFORMAT || st == BFC_EIO || st == BFC_ENUMERIC);
        CHECK(bfc_last_error()[0] != '\0');
    }
    return 0;
}
