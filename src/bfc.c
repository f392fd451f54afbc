/* bfc.c: status codes, thread-local error messages, clocks, durations, hashing and aligned
 * allocation. */
#define _POSIX_C_SOURCE 200809L
#include "bfc.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static _Thread_local char last_error[1024];

int bfc_fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return code;
}

const char *bfc_last_error(void) { return last_error; }

const char *bfc_status_name(int code)
{
    switch (code) {
    case BFC_OK: return "ok";
    case BFC_EINVAL: return "invalid argument";
    case BFC_ENOMEM: return "out of memory";
    case BFC_EIO: return "input/output error";
    case BFC_EFORMAT: return "malformed file";
    case BFC_ENUMERIC: return "numerical failure";
    case BFC_EDIVERGED: return "diverged";
    case BFC_EINTR: return "interrupted";
    default: return "unknown error";
    }
}

void bfc_abort_(const char *file, int line, const char *what)
{
    fprintf(stderr, "bfc: internal error at %s:%d: assertion '%s' failed\n", file, line, what);
    abort();
}

double bfc_wall_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

double bfc_cpu_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

size_t bfc_peak_rss_bytes(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (size_t)ru.ru_maxrss * 1024u; /* Linux reports kilobytes */
}

double *bfc_alloc_d(size_t n)
{
    void *p = NULL;
    size_t bytes = (n ? n : 1) * sizeof(double);
    bytes = (bytes + 63u) & ~(size_t)63u;
    if (posix_memalign(&p, 64, bytes) != 0) return NULL;
    memset(p, 0, bytes);
    return p;
}

void bfc_free(void *p) { free(p); }

void bfc_format_duration(double s, char *buf, size_t cap)
{
    if (!(s >= 0) || !isfinite(s))
        snprintf(buf, cap, "?");
    else if (s < 60)
        snprintf(buf, cap, "%.0fs", s);
    else if (s < 3600)
        snprintf(buf, cap, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
    else
        snprintf(buf, cap, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
}

uint64_t bfc_fnv1a64(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ull;
    return h;
}
