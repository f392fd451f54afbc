/* fuzz_target.c: libFuzzer target for loading a saved target (bfc_target_load), which reads
 * DIR/target.json and the weight matrices DIR/W_<l>_<j>.npy. An input is the text of
 * target.json, optionally followed by a NUL byte and the bytes of one .npy file, which every
 * W_<l>_<j>.npy of the directory points to (symbolic links made once); without a NUL there
 * are no weight files. A target that loads is evaluated on two inputs, so that an object
 * inconsistent with its configuration shows up as a memory error. */
#include "bfc.h"
#include "rng.h"
#include "target.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "fuzz_check.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[512], json_path[600], w_path[600];

static void put(const char *path, const uint8_t *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    CHECK(fwrite(p, 1, n, f) == n);
    CHECK(fclose(f) == 0);
}

static void remove_dir(void)
{
    char p[700];
    for (int l = 2; l <= BFC_MAX_L; l++)
        for (int j = 0; j < l; j++) {
            snprintf(p, sizeof p, "%s/W_%d_%d.npy", dir, l, j);
            unlink(p);
        }
    unlink(json_path);
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/bfc-fuzz-target-XXXXXX", base && *base ? base : "/tmp");
    CHECK(mkdtemp(dir) != NULL);
    atexit(remove_dir);
    snprintf(json_path, sizeof json_path, "%s/target.json", dir);
    snprintf(w_path, sizeof w_path, "%s/W_2_0.npy", dir);
    char p[700];
    for (int l = 2; l <= BFC_MAX_L; l++)
        for (int j = 0; j < l; j++) {
            if (l == 2 && j == 0) continue;
            snprintf(p, sizeof p, "%s/W_%d_%d.npy", dir, l, j);
            CHECK(symlink("W_2_0.npy", p) == 0 || errno == EEXIST);
        }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t jlen = nul ? (size_t)(nul - data) : size;
    put(json_path, data, jlen);
    if (nul)
        put(w_path, nul + 1, size - jlen - 1);
    else
        unlink(w_path);
    int st = -1;
    bfc_target *t = bfc_target_load(dir, &st);
    if (!t) {
        CHECK(st != BFC_OK);
        CHECK(bfc_last_error()[0] != '\0');
        return 0;
    }
    CHECK(st == BFC_OK);
    const bfc_target_config *c = bfc_target_config_of(t);
    CHECK(bfc_target_validate(c) == BFC_OK);
    double *X = bfc_alloc_d(2 * (size_t)c->d), g[2];
    double *S[BFC_MAX_L + 1] = {0};
    for (int l = 2; l <= c->L; l++) S[l] = bfc_alloc_d(2 * (size_t)c->k[l]);
    gsl_rng *r = bfc_rng_new(1, BFC_STREAM_TEST);
    CHECK(X && r);
    bfc_target_sample_x(t, r, 2, X);
    CHECK(bfc_target_eval(t, X, 2, g, S) == BFC_OK);
    gsl_rng_free(r);
    for (int l = 2; l <= c->L; l++) bfc_free(S[l]);
    bfc_free(X);
    bfc_target_free(t);
    return 0;
}
