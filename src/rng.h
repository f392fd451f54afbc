/* rng.h: seeded random streams. Each consumer (target weights, reference sample, training
 * data, test set, initialisation, minibatch order, ...) draws from its own stream derived
 * from (seed, stream id), so adding a method never shifts another's data. */
#ifndef BFC_RNG_H
#define BFC_RNG_H

#include <gsl/gsl_rng.h>
#include <stdint.h>

enum bfc_stream {
    BFC_STREAM_TARGET = 1,    /* target weights W*, R of the target */
    BFC_STREAM_REFERENCE = 2, /* reference sample for standardisation constants */
    BFC_STREAM_TRAIN = 3,     /* training inputs and label noise */
    BFC_STREAM_TEST = 4,      /* test inputs */
    BFC_STREAM_INIT = 5,      /* learner initialisation (weights and fixed R_j) */
    BFC_STREAM_BATCH = 6,     /* minibatch order */
    BFC_STREAM_VAL = 7,       /* validation split (baselines) */
    BFC_STREAM_BASELINE = 8   /* baseline-specific randomness (random features, MC) */
};

/* splitmix64 finaliser: a well-mixed 64-bit hash of x. */
uint64_t bfc_mix64(uint64_t x);

/* A new Mersenne-twister generator seeded from (seed, stream); free with gsl_rng_free.
 * Returns NULL on allocation failure. */
gsl_rng *bfc_rng_new(uint64_t seed, int stream);

/* Fill a (n) with i.i.d. N(0, sd^2). */
void bfc_rng_normal(gsl_rng *r, double *a, size_t n, double sd);

#endif
