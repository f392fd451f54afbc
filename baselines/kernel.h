/* kernel.h: one interface for the kernels of the baselines (polynomial, RBF, Laplace,
 * NTK, NNGP, or any custom function of (<x,y>, ‖x‖², ‖y‖²)), and their kernel matrices.
 *
 * Every kernel here is a function of the inner product and the two squared norms, so a
 * kernel matrix is a BLAS-3 product (DGEMM, tile by tile) followed by an element-wise
 * map. Distances are ‖x‖² + ‖y‖² − 2<x,y>, clamped at 0.
 *   poly     (offset + scale·<x,y>)^p        default offset 1, scale 1/d, p = 4
 *   rbf      exp(−‖x−y‖² / (2 s²))            default s² = d
 *   laplace  exp(−‖x−y‖ / s)                  default s² = d
 *   ntk      Θ^L of ntk.h                     default ReLU, depth 2, no bias
 *   nngp     Σ^L of ntk.h
 *   custom   fn(<x,y>, ‖x‖², ‖y‖², fn_params)
 * Data are row-major arrays X (n × d). */
#ifndef BFC_KERNEL_H
#define BFC_KERNEL_H

#include <stddef.h>

#include "ntk.h"

typedef enum {
    BFC_KERNEL_POLY = 0,
    BFC_KERNEL_RBF = 1,
    BFC_KERNEL_LAPLACE = 2,
    BFC_KERNEL_NTK = 3,
    BFC_KERNEL_NNGP = 4,
    BFC_KERNEL_CUSTOM = 5
} bfc_kernel_kind;

/* A custom kernel: value from xy = <x,y>, xx = ‖x‖², yy = ‖y‖²; params is fn_params.
 * It must be pure (it is called once per matrix entry, in any order). */
typedef double (*bfc_kernel_fn)(double xy, double xx, double yy, const void *params);

/* Largest degree accepted for the polynomial kernel, whatever the data. */
#define BFC_KERNEL_MAX_DEGREE 512
/* Kernel values above this are refused: a Cholesky of K squares them. */
#define BFC_KERNEL_MAX_VALUE 1e150

typedef struct {
    bfc_kernel_kind kind;
    int degree;         /* poly: p ≥ 1 */
    double scale;       /* poly: > 0 */
    double offset;      /* poly: ≥ 0 */
    double bandwidth2;  /* rbf, laplace: s² > 0 */
    bfc_ntk_config net; /* ntk, nngp: activation, depth, bias variance, c_σ */
    bfc_kernel_fn fn;   /* custom: the function, its parameters and a short name */
    const void *fn_params;
    const char *fn_name;
} bfc_kernel;

/* Fill k with poly-4 and the defaults of every kind for input dimension d (scale 1/d,
 * offset 1, s² = d, network as bfc_ntk_defaults); change kind and fields after. */
void bfc_kernel_defaults(bfc_kernel *k, int d);

/* BFC_OK, or BFC_EINVAL with a message: unknown kind, degree < 1 or > BFC_KERNEL_MAX_DEGREE,
 * non-positive scale or bandwidth, negative offset, bad network, custom without fn, d < 1.
 * Values that would overflow on the data are caught by the matrix functions. */
int bfc_kernel_validate(const bfc_kernel *k, int d);

/* A short name into buf (at most len bytes, NUL-terminated), returned: "poly-4", "rbf",
 * "laplace", "ntk-relu-3", "nngp-quad-2", or the custom fn_name ("custom" if NULL). */
const char *bfc_kernel_name(const bfc_kernel *k, char *buf, size_t len);

/* The kernel value for one pair from xy = <x,y>, xx = ‖x‖², yy = ‖y‖² (k must be valid). */
double bfc_kernel_eval(const bfc_kernel *k, double xy, double xx, double yy, int d);

/* K (n × m) = k(X_i, Z_j) for X (n × d), Z (m × d), built in cache-sized tiles: a DGEMM of
 * 64 rows × 16 to 1024 columns (64 · columns · d ≤ 2^18, so OpenBLAS runs it on the calling
 * thread), then the map on it while it is in cache; the tiles are shared out over as many
 * threads as OpenBLAS uses (for d > 256, one, and OpenBLAS threads each product), with the
 * same tiling for any count (the result is bitwise independent of the thread count).
 * Returns BFC_EINVAL for a bad kernel or when the values would exceed BFC_KERNEL_MAX_VALUE on
 * this data (checked before the product, at the largest norm), BFC_ENUMERIC if an entry is
 * not finite (NaN or inf in the data, or a custom kernel's), BFC_ENOMEM. Allocates n + m
 * doubles of norms. */
int bfc_kernel_matrix(const bfc_kernel *k, const double *X, int n, const double *Z, int m,
                      int d, double *K);

/* out (n) += K(X, Z) a for X (n × d), Z (m × d), a (m), without forming K(X, Z): each tile
 * of bfc_kernel_matrix is reduced against a while it is in cache. Errors as
 * bfc_kernel_matrix; allocates bfc_kernel_matvec_bytes(n, m, d) bytes (norms and one tile
 * per thread). */
int bfc_kernel_matvec(const bfc_kernel *k, const double *X, int n, const double *Z, int m,
                      int d, const double *a, double *out);
size_t bfc_kernel_matvec_bytes(int n, int m, int d);

/* The upper triangle (j ≥ i) of K (n × n, row-major) = k(X_i, X_j), by the tiles of
 * bfc_kernel_matrix over the upper triangle only; the diagonal inner products are the norms
 * ‖X_i‖² themselves, so the distance of a point to itself is exactly 0. Nothing below the
 * diagonal is read or written (the pages that hold only such entries are never touched).
 * Row-major upper is column-major lower: LAPACK's "L" routines read it as is. Errors as
 * bfc_kernel_matrix; allocates n doubles and one tile per thread. */
int bfc_kernel_gram_upper(const bfc_kernel *k, const double *X, int n, int d, double *K);

/* K (n × n) = k(X_i, X_j), symmetric with both triangles filled: bfc_kernel_gram_upper,
 * then a blocked mirror. Exactly symmetric. Errors and allocations as above. */
int bfc_kernel_gram(const bfc_kernel *k, const double *X, int n, int d, double *K);

#endif
