/* fuzz_cli.c: libFuzzer target for the command-line flags of bfc gen, train and fit:
 * bfc_opt_parse with each command's option tables, bfc_problem_option, bfc_problem_finish
 * and the commands' own checks. An input is split on NUL bytes into arguments; the first is
 * the subcommand (gen, train or fit), e.g. "train\0--d\0" "6\0--k=2,3". */
#include "bfc.h"
#include "fuzz_cli.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ARGS 256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    char *argv[MAX_ARGS + 3];
    int argc = 0;
    argv[argc++] = "bfc";
    for (size_t i = 0; i <= size && argc < MAX_ARGS + 2;) {
        argv[argc++] = buf + i;
        i += strlen(buf + i) + 1;
    }
    argv[argc] = NULL;
    int st = BFC_OK;
    if (!strcmp(argv[1], "gen"))
        st = fuzz_cli_gen(argc, argv);
    else if (!strcmp(argv[1], "train"))
        st = fuzz_cli_train(argc, argv);
    else if (!strcmp(argv[1], "fit"))
        st = fuzz_cli_fit(argc, argv);
    if (st != BFC_OK && bfc_last_error()[0] == '\0') {
        fprintf(stderr, "fuzz_cli: status %d without a message\n", st);
        abort();
    }
    free(buf);
    return 0;
}
