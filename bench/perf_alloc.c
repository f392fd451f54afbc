/* perf_alloc.c: counts every heap allocation of the bfc_perf process (ours, OpenBLAS's,
 * libc's) by interposing malloc and its siblings and forwarding to glibc's own entry
 * points (__libc_malloc, ...). A relaxed atomic increment per call: no measurable cost.
 * While tracing is on, the calling sites are also recorded (return address and bytes, in a
 * fixed table: recording allocates nothing) and named afterwards with dladdr, so a count
 * can be attributed to the library that made it. Used by perf_memory. glibc only. */
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perf.h"

#ifdef __GLIBC__
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void *__libc_memalign(size_t align, size_t n);
extern void __libc_free(void *p);

static atomic_ulong calls;
static atomic_int tracing;
static atomic_flag site_lock = ATOMIC_FLAG_INIT;

#define MAX_SITES 16
static struct {
    void *at;
    unsigned long n;
    size_t bytes;
} sites[MAX_SITES];
static unsigned long untraced; /* calls beyond MAX_SITES distinct sites */

unsigned long perf_alloc_calls(void) { return atomic_load_explicit(&calls, memory_order_relaxed); }

static void record(void *at, size_t bytes)
{
    while (atomic_flag_test_and_set_explicit(&site_lock, memory_order_acquire)) {
    }
    int i = 0;
    while (i < MAX_SITES && sites[i].at && sites[i].at != at) i++;
    if (i == MAX_SITES) {
        untraced++;
    } else {
        sites[i].at = at;
        sites[i].n++;
        sites[i].bytes += bytes;
    }
    atomic_flag_clear_explicit(&site_lock, memory_order_release);
}

#define count(bytes)                                                                             \
    do {                                                                                         \
        atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);                              \
        if (atomic_load_explicit(&tracing, memory_order_relaxed))                                \
            record(__builtin_return_address(0), (bytes));                                        \
    } while (0)

void perf_alloc_trace(int on)
{
    if (on) {
        memset(sites, 0, sizeof sites);
        untraced = 0;
    }
    atomic_store(&tracing, on);
}

unsigned long perf_alloc_sites(char *buf, size_t cap, const char *prefix)
{
    size_t len = 0;
    unsigned long matched = 0;
    buf[0] = 0;
    for (int i = 0; i < MAX_SITES && sites[i].at && len < cap; i++) {
        Dl_info info;
        const char *obj = "?", *sym = "?";
        if (dladdr(sites[i].at, &info)) {
            if (info.dli_fname) {
                const char *slash = strrchr(info.dli_fname, '/');
                obj = slash ? slash + 1 : info.dli_fname;
            }
            if (info.dli_sname) sym = info.dli_sname;
        }
        if (prefix && strncmp(obj, prefix, strlen(prefix)) == 0) matched += sites[i].n;
        const int w = snprintf(buf + len, cap - len, "%s%s:%s x%lu (%zu B each)", i ? "; " : "", obj,
                               sym, sites[i].n, sites[i].n ? sites[i].bytes / sites[i].n : 0);
        if (w < 0) break;
        len += (size_t)w;
    }
    if (untraced && len < cap) snprintf(buf + len, cap - len, "; %lu more", untraced);
    return matched;
}

void *malloc(size_t n)
{
    count(n);
    return __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
    count(n * size);
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
    count(n);
    return __libc_realloc(p, n);
}

void free(void *p) { __libc_free(p); }

void *memalign(size_t align, size_t n)
{
    count(n);
    return __libc_memalign(align, n);
}

void *aligned_alloc(size_t align, size_t n)
{
    count(n);
    return __libc_memalign(align, n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
    count(n);
    if (align < sizeof(void *) || (align & (align - 1))) return EINVAL;
    void *p = __libc_memalign(align, n);
    if (!p && n) return ENOMEM;
    *out = p;
    return 0;
}
#else
unsigned long perf_alloc_calls(void) { return 0; }
void perf_alloc_trace(int on) { (void)on; }
unsigned long perf_alloc_sites(char *buf, size_t cap, const char *prefix)
{
    (void)prefix;
    if (cap) buf[0] = 0;
    return 0;
}
#endif
