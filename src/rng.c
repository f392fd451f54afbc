/* rng.c: seeded random streams over GSL's MT19937. */
#include "rng.h"

#include <gsl/gsl_randist.h>

uint64_t bfc_mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

gsl_rng *bfc_rng_new(uint64_t seed, int stream)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    if (!r) return NULL;
    uint64_t s = bfc_mix64(bfc_mix64(seed) ^ (0x5851f42d4c957f2dULL * (uint64_t)stream));
    /* MT19937 takes an unsigned long seed; 0 selects GSL's default seed, avoid it. */
    unsigned long us = (unsigned long)(s & 0xffffffffUL);
    gsl_rng_set(r, us ? us : 1UL);
    return r;
}

void bfc_rng_normal(gsl_rng *r, double *a, size_t n, double sd)
{
    for (size_t i = 0; i < n; i++) a[i] = gsl_ran_gaussian_ziggurat(r, sd);
}
