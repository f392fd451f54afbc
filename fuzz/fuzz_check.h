/* fuzz_check.h: the invariant check of every fuzz target: on failure it names the file, line
 * and expression on stderr and aborts, so that libFuzzer keeps the input as a crash. */
#ifndef BFC_FUZZ_CHECK_H
#define BFC_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(c)                                                                          \
    do {                                                                                  \
        if (!(c)) {                                                                       \
            fprintf(stderr, "fuzz: check failed at %s:%d: %s\n", __FILE__, __LINE__, #c); \
            abort();                                                                      \
        }                                                                                 \
    } while (0)

#endif
