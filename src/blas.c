/* blas.c: OpenBLAS core detection and the OPENBLAS_CORETYPE re-exec fix, thread count,
 * CPU model and the run metadata written next to every result. */
#include "blas.h"

#include "bfc.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* bfc_commit.h is written at every build (scripts/commit.cmake); builds without it, such as
 * the fuzzers', record "unknown". */
#if defined(__has_include)
#if __has_include("bfc_commit.h")
#include "bfc_commit.h"
#endif
#endif
#ifndef BFC_GIT_COMMIT
#define BFC_GIT_COMMIT "unknown"
#endif
#ifndef BFC_COMPILER
#define BFC_COMPILER "unknown"
#endif

/* OpenBLAS extensions (declared here so that this file needs no cblas.h). */
char *openblas_get_corename(void);
int openblas_get_num_threads(void);
void openblas_set_num_threads(int num_threads);

#define ENV_AUTOFIX "BFC_BLAS_AUTOFIX"
#define ENV_REEXEC "BFC_BLAS_REEXEC"
#define ENV_ORIG "BFC_BLAS_ORIG_CORE"
#define ENV_ASSUME "BFC_BLAS_ASSUME_CORE"
#define ENV_CORETYPE "OPENBLAS_CORETYPE"

static char fix_status[256] = "not run";

/* ------------------------------------------------------------------ the decision --- */

static int in_list(const char *name, const char *const *list)
{
    for (; *list; list++)
        if (strcasecmp(name, *list) == 0) return 1;
    return 0;
}

/* OpenBLAS x86 core names whose kernels use at most AVX (no AVX2/FMA GEMM kernels). */
static const char *const PRE_AVX2[] = {
    "Unknown", "Generic", "Katmai", "Coppermine", "Northwood", "Prescott", "Banias", "Atom",
    "Core2", "Penryn", "Dunnington", "Nehalem", "Athlon", "Opteron", "Opteron_SSE3",
    "Barcelona", "Nano", "Sandybridge", "Bobcat", "Bulldozer", "Piledriver", "Steamroller",
    "Excavator", NULL};
/* Cores with AVX2+FMA kernels but no AVX-512 ones. */
static const char *const AVX2_ONLY[] = {"Haswell", "Zen", NULL};

const char *bfc_blas_better_core(const char *running, int has_avx2_fma, int has_avx512_skx,
                                 int has_avx512_bf16)
{
    if (!running) return NULL;
    const char *avx512 = has_avx512_bf16 ? "Cooperlake" : "SkylakeX";
    if (in_list(running, PRE_AVX2)) {
        if (has_avx512_skx) return avx512;
        if (has_avx2_fma) return "Haswell";
        return NULL;
    }
    if (in_list(running, AVX2_ONLY) && has_avx512_skx) return avx512;
    return NULL;
}

/* 1 if /proc/cpuinfo's first "flags" line holds the word flag. */
static int cpuinfo_has_flag(const char *flag)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return 0;
    char line[8192];
    int found = 0;
    size_t n = strlen(flag);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "flags", 5) != 0) continue;
        for (char *p = strstr(line, flag); p; p = strstr(p + 1, flag))
            if (p[-1] == ' ' && (p[n] == ' ' || p[n] == '\n' || p[n] == '\0')) found = 1;
        break;
    }
    fclose(f);
    return found;
}

/* GCC >= 11 and Clang >= 14 know "avx512bf16" in __builtin_cpu_supports. */
#if defined(__clang__)
#define BFC_BUILTIN_BF16 (__clang_major__ >= 14)
#elif defined(__GNUC__)
#define BFC_BUILTIN_BF16 (__GNUC__ >= 11)
#else
#define BFC_BUILTIN_BF16 0
#endif

void bfc_cpu_isa(int *has_avx2_fma, int *has_avx512_skx, int *has_avx512_bf16)
{
    *has_avx2_fma = *has_avx512_skx = *has_avx512_bf16 = 0;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    *has_avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    *has_avx512_skx = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
#if BFC_BUILTIN_BF16
    *has_avx512_bf16 = *has_avx512_skx && __builtin_cpu_supports("avx512bf16");
#else
    *has_avx512_bf16 = *has_avx512_skx && cpuinfo_has_flag("avx512_bf16");
#endif
#endif
    (void)cpuinfo_has_flag; /* used only without the builtin */
}

const char *bfc_blas_core(void)
{
    const char *s = openblas_get_corename();
    return s ? s : "unknown";
}

static const char *env_nonempty(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

typedef struct {
    int reexec;           /* 1: re-execute with OPENBLAS_CORETYPE=target */
    char running[64];     /* core OpenBLAS runs (or the test hook's) */
    char target[64];      /* core to re-execute with */
    char better[64];      /* with OPENBLAS_CORETYPE set: faster core the CPU supports, or "" */
    char status[256];
} plan;

static void make_plan(plan *p)
{
    memset(p, 0, sizeof *p);
    const char *assume = env_nonempty(ENV_ASSUME);
    snprintf(p->running, sizeof p->running, "%s", assume ? assume : bfc_blas_core());
    const char *autofix = getenv(ENV_AUTOFIX);
    if (autofix && strcmp(autofix, "0") == 0) {
        snprintf(p->status, sizeof p->status, "disabled");
        return;
    }
    const char *coretype = env_nonempty(ENV_CORETYPE);
    if (env_nonempty(ENV_REEXEC)) { /* we are the re-executed process: never again */
        const char *orig = env_nonempty(ENV_ORIG);
        const char *now = bfc_blas_core(); /* what really runs, whatever the test hook says */
        if (!coretype || !orig)
            snprintf(p->status, sizeof p->status, "detected (%s set, not re-executing)",
                     ENV_REEXEC);
        else if (strcasecmp(coretype, now) == 0)
            snprintf(p->status, sizeof p->status, "auto: %s -> %s", orig, coretype);
        else
            snprintf(p->status, sizeof p->status,
                     "auto: %s -> %s requested, but OpenBLAS runs %s", orig, coretype, now);
        return;
    }
    int avx2, skx, bf16;
    bfc_cpu_isa(&avx2, &skx, &bf16);
    const char *better = bfc_blas_better_core(p->running, avx2, skx, bf16);
    if (coretype) {
        snprintf(p->status, sizeof p->status, "env: %s=%s", ENV_CORETYPE, coretype);
        if (better) snprintf(p->better, sizeof p->better, "%s", better);
        return;
    }
    if (!better) {
        snprintf(p->status, sizeof p->status, "detected");
        return;
    }
    p->reexec = 1;
    snprintf(p->target, sizeof p->target, "%s", better);
    snprintf(p->status, sizeof p->status, "auto: %s -> %s", p->running, better);
}

int bfc_blas_plan(char *core_out, size_t cap)
{
    plan p;
    make_plan(&p);
    if (core_out && cap) snprintf(core_out, cap, "%s", p.reexec ? p.target : "");
    return p.reexec;
}

void bfc_blas_autofix(int argc, char **argv)
{
    plan p;
    make_plan(&p);
    snprintf(fix_status, sizeof fix_status, "%s", p.status);
    if (p.better[0] && isatty(STDERR_FILENO)) /* once, for a person at a terminal */
        fprintf(stderr,
                "bfc: note: %s=%s is set, but this CPU supports the faster %s kernels; unset "
                "%s to let bfc choose\n",
                ENV_CORETYPE, getenv(ENV_CORETYPE), p.better, ENV_CORETYPE);
    if (!p.reexec) return;

    int err = EINVAL;
    if (argc >= 1 && argv && argv[argc] == NULL) {
        if (setenv(ENV_CORETYPE, p.target, 1) == 0 && setenv(ENV_REEXEC, "1", 1) == 0 &&
            setenv(ENV_ORIG, p.running, 1) == 0) {
            fflush(NULL); /* buffered output must not be written twice */
            execv("/proc/self/exe", argv);
        }
        err = errno;
    }
    unsetenv(ENV_CORETYPE);
    unsetenv(ENV_REEXEC);
    unsetenv(ENV_ORIG);
    fprintf(stderr,
            "bfc: warning: OpenBLAS runs %s kernels but this CPU supports %s; restarting with "
            "%s=%s failed (%s); continuing with the slower kernels (set %s=%s yourself)\n",
            p.running, p.target, ENV_CORETYPE, p.target, strerror(err), ENV_CORETYPE, p.target);
    snprintf(fix_status, sizeof fix_status, "failed: %s -> %s re-exec failed (%s)", p.running,
             p.target, strerror(err));
}

const char *bfc_blas_fix_status(void) { return fix_status; }

const char *bfc_git_commit(void) { return BFC_GIT_COMMIT; }

/* ------------------------------------------------------------ threads, CPU, meta --- */

int bfc_blas_threads(void) { return openblas_get_num_threads(); }

void bfc_blas_set_threads(int n)
{
    if (n <= 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        n = c > 0 && c < 4096 ? (int)c : 1;
    }
    openblas_set_num_threads(n);
}

static char cpu_model[256] = "unknown";
static pthread_once_t cpu_model_once = PTHREAD_ONCE_INIT;

static void read_cpu_model(void)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) != 0) continue;
        char *v = strchr(line, ':');
        if (!v) continue;
        v++;
        while (*v == ' ' || *v == '\t') v++;
        size_t n = strcspn(v, "\r\n");
        while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t')) n--;
        if (n > 0) snprintf(cpu_model, sizeof cpu_model, "%.*s", (int)n, v);
        break;
    }
    fclose(f);
}

const char *bfc_cpu_model(void)
{
    pthread_once(&cpu_model_once, read_cpu_model);
    return cpu_model;
}

void bfc_meta_get(bfc_meta *m)
{
    snprintf(m->date_utc, sizeof m->date_utc, "unknown");
    time_t now = time(NULL);
    struct tm tm;
    if (gmtime_r(&now, &tm)) strftime(m->date_utc, sizeof m->date_utc, "%Y-%m-%dT%H:%M:%SZ", &tm);
    m->bfc_version = BFC_VERSION;
    m->commit = bfc_git_commit();
    m->compiler = BFC_COMPILER;
    m->blas_core = bfc_blas_core();
    m->blas_threads = bfc_blas_threads();
    m->blas_fix = bfc_blas_fix_status();
    m->cpu = bfc_cpu_model();
}

void bfc_meta_put(bfc_jw *j, const bfc_meta *m)
{
    bfc_jw_kv_str(j, "bfc_version", m->bfc_version);
    bfc_jw_kv_str(j, "commit", m->commit);
    bfc_jw_kv_str(j, "compiler", m->compiler);
    bfc_jw_kv_str(j, "blas_core", m->blas_core);
    bfc_jw_kv_int(j, "blas_threads", m->blas_threads);
    bfc_jw_kv_str(j, "blas_fix", m->blas_fix);
    bfc_jw_kv_str(j, "cpu", m->cpu);
    bfc_jw_kv_str(j, "date_utc", m->date_utc);
}

void bfc_meta_write(bfc_jw *j)
{
    bfc_meta m;
    bfc_meta_get(&m);
    bfc_meta_put(j, &m);
}
