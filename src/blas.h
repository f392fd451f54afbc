/* blas.h: which OpenBLAS kernels run, fixing a misdetected core by re-executing with
 * OPENBLAS_CORETYPE, and the run metadata (version, commit, compiler, BLAS, CPU, date)
 * that every result file's JSON sidecar carries.
 *
 * Why: some OpenBLAS builds (e.g. Debian's 0.3.21) do not know recent AVX-512 CPUs and
 * fall back to "Prescott" SSE3 kernels, 4-5x slower DGEMM. OPENBLAS_CORETYPE=<core> picks
 * the kernels, but OpenBLAS reads it only when the library loads, so the process sets it
 * and re-executes itself (once) before doing any work. */
#ifndef BFC_BLAS_H
#define BFC_BLAS_H

#include <stddef.h>

#include "json.h"

/* Call first thing in main(), before any threads or output. Environment:
 *   BFC_BLAS_AUTOFIX=0     do nothing (status "disabled")
 *   OPENBLAS_CORETYPE=X    respected as it is (status "env: OPENBLAS_CORETYPE=X"); if the
 *                          CPU supports a faster core, one note on stderr says so (when
 *                          stderr is a terminal)
 *   otherwise              if bfc_blas_better_core() names a faster core for this CPU, set
 *                          OPENBLAS_CORETYPE to it, BFC_BLAS_REEXEC=1 and
 *                          BFC_BLAS_ORIG_CORE=<old core>, flush stdio and
 *                          execv("/proc/self/exe", argv). The new process sees
 *                          BFC_BLAS_REEXEC and reports "auto: <old> -> <new>"; it never
 *                          re-executes again. If exec fails the three variables are removed,
 *                          a warning goes to stderr and the program goes on (slower).
 *                          With nothing to fix the status is "detected".
 *   BFC_BLAS_ASSUME_CORE=X test hook: act as if OpenBLAS were running core X.
 * argv must be main's (argv[argc] == NULL). */
void bfc_blas_autofix(int argc, char **argv);

/* What bfc_blas_autofix decided: "not run" before it is called, "disabled", "detected",
 * "env: OPENBLAS_CORETYPE=Haswell", "auto: Prescott -> SkylakeX", or a sentence saying
 * what went wrong. Static storage. */
const char *bfc_blas_fix_status(void);

/* The decision, as a pure function. running: OpenBLAS core name (case-insensitive);
 * has_avx2_fma: CPU has AVX2 and FMA; has_avx512_skx: AVX-512 F, BW, VL and DQ;
 * has_avx512_bf16: AVX512_BF16 too. Returns NULL when the running core is fine (or
 * unknown to this table: never touch what we do not understand), else the core to use:
 *   pre-AVX2 core (Prescott, Core2, Nehalem, Sandybridge, Bulldozer family, ...)
 *       on AVX-512  -> "Cooperlake" with bf16, else "SkylakeX"
 *       on AVX2+FMA -> "Haswell"
 *   Haswell or Zen on AVX-512 -> "Cooperlake" / "SkylakeX"
 *   SkylakeX, Cooperlake, SapphireRapids -> NULL (same double-precision kernels). */
const char *bfc_blas_better_core(const char *running, int has_avx2_fma, int has_avx512_skx,
                                 int has_avx512_bf16);

/* What bfc_blas_autofix would do now, without doing it: 1 and the core in core_out (cap
 * bytes) if it would re-execute, 0 otherwise (core_out = ""). Reads the same
 * environment, including the test hook. */
int bfc_blas_plan(char *core_out, size_t cap);

/* The CPU's instruction sets as bfc_blas_better_core wants them (cpuid via the compiler's
 * __builtin_cpu_supports; all 0 on non-x86). */
void bfc_cpu_isa(int *has_avx2_fma, int *has_avx512_skx, int *has_avx512_bf16);

/* OpenBLAS core running in this process, e.g. "Haswell" (owned by OpenBLAS). */
const char *bfc_blas_core(void);
/* OpenBLAS thread count, and setting it (n <= 0: one per online core). */
int bfc_blas_threads(void);
void bfc_blas_set_threads(int n);
/* "model name" from /proc/cpuinfo, or "unknown". Static storage. */
const char *bfc_cpu_model(void);
/* The git commit the binary was built from (12 hex digits, "-dirty" if tracked files were
 * modified; "unknown" outside a git work tree), written at every build. */
const char *bfc_git_commit(void);

/* The run's metadata: the strings are static storage, the date is now (ISO 8601, seconds). */
typedef struct {
    const char *bfc_version, *commit, *compiler, *blas_core, *blas_fix, *cpu;
    int blas_threads;
    char date_utc[32];
} bfc_meta;
void bfc_meta_get(bfc_meta *m);
/* Write m into the currently open JSON object: the keys "bfc_version", "commit", "compiler",
 * "blas_core", "blas_threads", "blas_fix", "cpu" and "date_utc". */
void bfc_meta_put(bfc_jw *j, const bfc_meta *m);
/* bfc_meta_put of bfc_meta_get. */
void bfc_meta_write(bfc_jw *j);

#endif
