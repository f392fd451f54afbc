/* dense_solve.h: the one dense solve of every kernel method (krr.h, entk.h), the symmetric
 * eigendecomposition they and seqkernel.h share, and the square matrix they work in.
 *
 * Solve: (K + λI) x = b for a symmetric positive semi-definite K (n × n, double precision).
 * The matrix is row-major and only its upper triangle is read and written (= column-major
 * lower, as LAPACK sees it). Fallbacks, in this order, each failure saying why and the result
 * recording which step solved (bfc_dense_report):
 *   0. Cholesky (dpotrf, dpotrs) of K + λI. It fails when dpotrf does, when a pivot² is at
 *      most ε·max diag (numerically singular), or when the solution is not finite;
 *   1. the same with jitter j·mean diag added to λ, j = 1e-10, 1e-8, 1e-6 in turn;
 *   2. eigendecomposition pseudo-solve x = V (Λ + λ)⁻¹ Vᵀ b, eigenvalues Λ_i + λ ≤ n·ε·max|Λ|
 *      dropped. It fills the whole matrix, so it runs only when the lower half fits in the
 *      room given (else BFC_ENOMEM saying so): by dsyevd when its workspace (2n² doubles)
 *      fits as well, else by dsyev in place (slow, O(n) extra).
 * A failed dpotrf overwrites K, so every retry first calls the caller's restore, which
 * rewrites the unshifted upper triangle (krr rebuilds the Gram from its inputs, entk copies
 * it from its own Gram): no second n × n matrix is kept.
 * Costs: n³/3 flops per Cholesky; dsyevd about 20 Choleskys. */
#ifndef BFC_DENSE_SOLVE_H
#define BFC_DENSE_SOLVE_H

#include <stddef.h>

/* Jitters of fallback 1, relative to the mean diagonal of K, added to λ. */
#define BFC_DENSE_N_JITTER 3
extern const double bfc_dense_jitter[BFC_DENSE_N_JITTER];

typedef struct {
    int fallback;            /* 0 Cholesky; 1 Cholesky with jitter; 2 eigen pseudo-solve */
    double jitter;           /* diagonal added to λ by fallback 1 (absolute) */
    char what[320];          /* what failed and what was done ("" when fallback = 0) */
    double seconds_cholesky; /* the first dpotrf */
} bfc_dense_report;

/* Rewrite the upper triangle of K (n × n) with the unshifted matrix; 0 or a status. */
typedef int (*bfc_dense_restore_fn)(void *ctx, double *K, int n);

/* x (n) = (K + ridge·I)⁻¹ b (n) with the fallbacks above. K holds the unshifted matrix's
 * upper triangle on entry and is destroyed. room: bytes that may be allocated beyond what
 * the caller counted (for the eigen fallback). who names the method in the warning that a
 * fallback prints on stderr ("bfc <who>: warning: ..."). Allocates n doubles. BFC_OK,
 * BFC_ENOMEM, BFC_ENUMERIC (a non-finite x is never returned), or restore's status. */
int bfc_dense_solve(double *K, int n, double ridge, const double *b, double *x, double room,
                    bfc_dense_restore_fn restore, void *ctx, const char *who,
                    bfc_dense_report *rep);

/* One Cholesky attempt: K (n × n, upper, already shifted) factored in place, rhs (n)
 * overwritten by the solution. maxd: the largest shifted diagonal entry. 0 on success; 1 with
 * the reason in why (len bytes) otherwise. *seconds (if not NULL): the dpotrf time. */
int bfc_dense_cholesky(double *K, int n, double *rhs, double maxd, double *seconds, char *why,
                       size_t len);

/* A (n × n, upper triangle read) = V Λ Vᵀ in place by LAPACK dsyevd: w (n) the eigenvalues
 * ascending, A then holds V column-major (row i of the row-major view is eigenvector i).
 * work and iwork of at least bfc_eigen_work_doubles(n) and bfc_eigen_iwork_ints(n) entries,
 * or both NULL: then dsyevd's optimal workspace is queried and allocated here.
 * BFC_ENOMEM, BFC_ENUMERIC (dsyevd failed). */
int bfc_eigen_sym(double *A, int n, double *w, double *work, int *iwork);
/* dsyevd's minimum workspace with eigenvectors: 1 + 6n + 2n² doubles, 3 + 5n ints. */
size_t bfc_eigen_work_doubles(int n);
size_t bfc_eigen_iwork_ints(int n);

/* The square matrix: n × n doubles, page-aligned, zero until written, NULL on failure or
 * overflow; free with bfc_square_free(A, n). Mapped without reserving commit for all of it
 * (MAP_NORESERVE): the kernel charges the pages touched, and a solve touches only the upper
 * triangle, about half. Without it Linux's default heuristic refuses one allocation larger
 * than RAM + swap although half of it would be used (n = 60000: 27466 MiB mapped for
 * 13.7 GiB touched, refused on a 24 GiB machine). Transparent huge pages are declined so
 * that the pages below the triangle stay untouched whatever the system's default. */
double *bfc_square_alloc(int n);
void bfc_square_free(double *A, int n);
/* Resident bytes of a bfc_square_alloc matrix whose upper triangle alone is touched: the
 * triangle plus at most one page per row, never more than n² doubles; n² doubles under strict
 * overcommit accounting (vm.overcommit_memory = 2), where MAP_NORESERVE has no effect. */
double bfc_square_upper_bytes(int n);

/* Peak bytes of a process that holds `arrays` bytes of counted arrays and factors an n × n
 * matrix: arrays + BFC_DENSE_BASE_BYTES + BFC_DENSE_PACK_BYTES_PER_ROW · n, saturated at
 * SIZE_MAX. The two constants are measured (dense_solve.c); tests/test_memory.c checks the
 * estimates built on them against the peak RSS of `bfc fit`. */
size_t bfc_dense_process_bytes(double arrays, int n);

/* The largest n ≤ n_max with estimate(ctx, n) ≤ limit (estimate non-decreasing in n), 0 if
 * none. */
int bfc_largest_n(size_t (*estimate)(const void *ctx, int n), const void *ctx, int n_max,
                  size_t limit);

#endif
