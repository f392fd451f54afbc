/* fuzz_cellfile.c: libFuzzer target for the sweep's reader of a cell's result.csv
 * (bfc_sweep_read_result), the file whose numbers the aggregation takes. An accepted file
 * must have given a finite test error and written exactly its data rows; a refused one must
 * say why and write nothing. */
#include "bfc.h"
#include "sweep.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char *out = NULL, reason[512];
    size_t len = 0;
    FILE *rows = open_memstream(&out, &len);
    if (!rows) {
        free(text);
        return 0;
    }
    bfc_sweep_result r;
    int st = bfc_sweep_read_result(text, &r, "m,t,1,0", rows, reason, sizeof reason);
    fclose(rows);
    if (st == BFC_OK) {
        CHECK(isfinite(r.test_error));
        CHECK(r.rows >= 2); /* the status and test_error rows at least */
        int lines = 0;
        for (const char *p = out; *p; p++) lines += *p == '\n';
        CHECK(lines == r.rows);
        for (int l = 0; l <= BFC_MAX_L; l++) CHECK(isnan(r.share[l]) || isfinite(r.share[l]));
    } else {
        CHECK(st == BFC_EFORMAT);
        CHECK(reason[0] != '\0');
        CHECK(len == 0);
    }
    free(out);
    free(text);
    return 0;
}
