/* bfc.h: common definitions of libbfc: status codes, error messages, timing.
 * Every public symbol of the suite is prefixed bfc_. */
#ifndef BFC_H
#define BFC_H

#include <stddef.h>
#include <stdint.h>

#define BFC_VERSION "0.1.0"

/* Status codes (GSL style): 0 is success; anything the caller can cause gets a
 * code and a message (bfc_last_error) that says what to change. */
typedef enum {
    BFC_OK = 0,
    BFC_EINVAL = 1,   /* invalid argument or configuration */
    BFC_ENOMEM = 2,   /* allocation failed or would not fit in memory */
    BFC_EIO = 3,      /* file could not be read or written */
    BFC_EFORMAT = 4,  /* file read but malformed */
    BFC_ENUMERIC = 5, /* numerical failure (non-PSD, singular, NaN) */
    BFC_EDIVERGED = 6,/* training diverged (optim.h: loss not finite or 1e6 × its start) */
    BFC_EINTR = 7     /* interrupted by a signal */
} bfc_status;

/* Record a formatted message for the last error of this thread and return code. */
int bfc_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The message of the last error recorded by this thread ("" if none). */
const char *bfc_last_error(void);
/* Human-readable name of a status code. */
const char *bfc_status_name(int code);

/* Programmer errors: abort with file:line. */
#define BFC_ASSERT(c)                                                          \
    do {                                                                       \
        if (!(c)) bfc_abort_(__FILE__, __LINE__, #c);                          \
    } while (0)
void bfc_abort_(const char *file, int line, const char *what) __attribute__((noreturn));

/* Wall-clock seconds from a monotonic clock, and process CPU seconds. */
double bfc_wall_seconds(void);
double bfc_cpu_seconds(void);
/* Peak resident set size of this process in bytes (0 if unknown). */
size_t bfc_peak_rss_bytes(void);
/* A duration for progress lines: "42s", "3m07s", "2h05m"; "?" when negative or not finite. */
void bfc_format_duration(double seconds, char *buf, size_t cap);

/* FNV-1a 64: h ← h folded with the n bytes at p. Start from BFC_FNV1A64_INIT. */
#define BFC_FNV1A64_INIT 14695981039346656037ull
uint64_t bfc_fnv1a64(uint64_t h, const void *p, size_t n);

/* Allocation: bfc_alloc_d returns n zeroed doubles, 64-byte aligned, NULL on failure; free
 * with bfc_free. */
double *bfc_alloc_d(size_t n);
void bfc_free(void *p);

#endif
