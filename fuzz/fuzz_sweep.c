/* fuzz_sweep.c: libFuzzer target for the sweep configuration (bfc_sweep_parse). A
 * configuration that parses is expanded into cells (after its "quick" block when the last
 * byte of the input is odd), and every cell must be well formed: argv NULL-terminated, a
 * key of 16 hex digits, a command line starting with "bfc ". */
#include "bfc.h"
#include "sweep.h"

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
    int st = -1;
    bfc_sweep *s = bfc_sweep_parse(text, "fuzz.json", &st);
    free(text);
    if (!s) {
        CHECK(st != BFC_OK);
        CHECK(bfc_last_error()[0] != '\0');
        return 0;
    }
    CHECK(st == BFC_OK);
    (void)bfc_sweep_name(s);
    if (size && (data[size - 1] & 1)) (void)bfc_sweep_quick(s);
    if (bfc_sweep_expand(s) == BFC_OK) {
        int n = bfc_sweep_ncells(s);
        CHECK(n > 0);
        for (int i = 0; i < n; i++) {
            const bfc_sweep_cell *c = bfc_sweep_cell_at(s, i);
            CHECK(c && c->argc >= 1 && c->argv[c->argc] == NULL);
            CHECK(strlen(c->key) == 16 && strspn(c->key, "0123456789abcdef") == 16);
            CHECK(strncmp(c->cmdline, "bfc ", 4) == 0);
        }
        CHECK(bfc_sweep_cell_at(s, n) == NULL);
    }
    bfc_sweep_free(s);
    return 0;
}
