/* fuzz_npy.c: libFuzzer target for the .npy reader (bfc_npy_load). The reader takes a path,
 * so each input is written to a file in /dev/shm (TMPDIR when /dev/shm is missing). On
 * success the result must describe exactly the bytes given: the header's shape times the
 * element size is the rest of the file, and every value is the one stored there. */
#include "bfc.h"
#include "npy.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "fuzz_check.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[512];

static void remove_file(void) { unlink(path); }

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/bfc-fuzz-npy-%ld.npy", dir && *dir ? dir : "/tmp",
             (long)getpid());
    atexit(remove_file);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    CHECK(fwrite(data, 1, size, f) == size);
    CHECK(fclose(f) == 0);
    double *a = NULL;
    int nd = -1;
    size_t shape[2] = {7, 7};
    int st = bfc_npy_load(path, &a, &nd, shape);
    if (st) {
        CHECK(a == NULL);
        CHECK(bfc_last_error()[0] != '\0');
        return 0;
    }
    CHECK(nd == 1 || nd == 2);
    CHECK(nd == 2 || shape[1] == 1);
    CHECK(a != NULL);
    /* the data are what follows the header; their size fixes the element size */
    CHECK(size >= 10);
    size_t lenbytes = data[6] == 1 ? 2 : 4;
    size_t hlen = (size_t)data[8] | (size_t)data[9] << 8;
    if (lenbytes == 4) hlen |= (size_t)data[10] << 16 | (size_t)data[11] << 24;
    size_t off = 8 + lenbytes + hlen, count = shape[0] * shape[1];
    CHECK(off <= size);
    size_t have = size - off, elsize = count ? have / count : 8;
    CHECK(count ? have % count == 0 && (elsize == 4 || elsize == 8) : have == 0);
    const uint8_t *raw = data + size - count * elsize;
    for (size_t i = 0; i < count; i++) {
        double want;
        if (elsize == 8) {
            memcpy(&want, raw + 8 * i, 8);
        } else {
            float x;
            memcpy(&x, raw + 4 * i, 4);
            want = x;
        }
        CHECK(memcmp(&want, &a[i], sizeof want) == 0 || (want != want && a[i] != a[i]));
    }
    bfc_free(a);
    return 0;
}
