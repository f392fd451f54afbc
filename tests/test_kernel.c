/* test_kernel.c: kernel configuration, validation, and kernel matrices against their formulas. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <string.h>

#include "bfc.h"
#include "kernel.h"
#include "lapack.h"
#include "rng.h"

/* entries computed by the BLAS product and by a direct loop differ by rounding of <x,y>,
 * amplified at most p-fold by the power: a few hundred ulps */
#define ENTRY_TOL 1e-12
/* positive semi-definite to rounding: smallest eigenvalue ≥ −PSD_TOL · largest */
#define PSD_TOL 1e-10
/* the ReLU NTK has a square-root singularity at x = y (θ = arccos ρ): a rounding δ of the
 * inner product moves it by about √δ, so the diagonal agrees only to about √ε */
#define NTK_DIAG_TOL 1e-7

static double *random_data(int n, int d, uint64_t seed)
{
    double *X = bfc_alloc_d((size_t)n * (size_t)d);
    gsl_rng *r = bfc_rng_new(seed, BFC_STREAM_TRAIN);
    bfc_rng_normal(r, X, (size_t)n * (size_t)d, 1.0);
    gsl_rng_free(r);
    return X;
}

static double dot(const double *x, const double *y, int d)
{
    double s = 0.0;
    for (int i = 0; i < d; i++) s += x[i] * y[i];
    return s;
}

static double sqdist(const double *x, const double *y, int d)
{
    double s = 0.0;
    for (int i = 0; i < d; i++) s += (x[i] - y[i]) * (x[i] - y[i]);
    return s;
}

/* the kernel written out directly from its definition in kernel.h */
static double direct(const bfc_kernel *k, const double *x, const double *y, int d)
{
    switch (k->kind) {
    case BFC_KERNEL_POLY: return pow(k->offset + k->scale * dot(x, y, d), k->degree);
    case BFC_KERNEL_RBF: return exp(-sqdist(x, y, d) / (2.0 * k->bandwidth2));
    case BFC_KERNEL_LAPLACE: return exp(-sqrt(sqdist(x, y, d)) / sqrt(k->bandwidth2));
    default: cr_assert_fail("no direct formula"); return NAN;
    }
}

Test(kernel, defaults_are_poly_4_with_offset_1_scale_1_over_d_and_bandwidth_d)
{
    bfc_kernel k;
    bfc_kernel_defaults(&k, 20);
    char name[32];
    cr_expect_str_eq(bfc_kernel_name(&k, name, sizeof name), "poly-4");
    cr_expect(k.kind == BFC_KERNEL_POLY && k.degree == 4 && k.offset == 1.0);
    cr_expect(k.scale == 1.0 / 20.0 && k.bandwidth2 == 20.0);
    cr_expect_eq(bfc_kernel_validate(&k, 20), BFC_OK);
    k.kind = BFC_KERNEL_NTK;
    k.net.depth = 3;
    cr_expect_str_eq(bfc_kernel_name(&k, name, sizeof name), "ntk-relu-3");
    k.kind = BFC_KERNEL_RBF;
    cr_expect_str_eq(bfc_kernel_name(&k, name, sizeof name), "rbf");
    k.kind = BFC_KERNEL_LAPLACE;
    cr_expect_str_eq(bfc_kernel_name(&k, name, sizeof name), "laplace");
}

Test(kernel, gram_and_cross_matrix_match_the_formulas_entry_by_entry)
{
    const int n = 23, m = 17, d = 6;
    double *X = random_data(n, d, 1), *Z = random_data(m, d, 2);
    double *G = bfc_alloc_d((size_t)n * n), *K = bfc_alloc_d((size_t)n * m);
    const bfc_kernel_kind kinds[] = {BFC_KERNEL_POLY, BFC_KERNEL_RBF, BFC_KERNEL_LAPLACE};
    for (int t = 0; t < 3; t++) {
        bfc_kernel k;
        bfc_kernel_defaults(&k, d);
        k.kind = kinds[t];
        k.degree = 5;
        k.offset = 0.5;
        cr_assert_eq(bfc_kernel_gram(&k, X, n, d, G), BFC_OK, "%s", bfc_last_error());
        cr_assert_eq(bfc_kernel_matrix(&k, X, n, Z, m, d, K), BFC_OK, "%s", bfc_last_error());
        double err = 0.0;
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                const double ref = direct(&k, X + i * d, X + j * d, d);
                err = fmax(err, fabs(G[i * n + j] - ref) / fabs(ref));
            }
            for (int j = 0; j < m; j++) {
                const double ref = direct(&k, X + i * d, Z + j * d, d);
                err = fmax(err, fabs(K[i * m + j] - ref) / fabs(ref));
            }
        }
        cr_expect(err <= ENTRY_TOL, "kind %d: largest relative error %.3g", (int)kinds[t], err);
    }
    bfc_free(X), bfc_free(Z), bfc_free(G), bfc_free(K);
}

Test(kernel, cross_matrix_of_the_data_with_itself_equals_the_gram)
{
    const int n = 31, d = 5;
    double *X = random_data(n, d, 3);
    double *G = bfc_alloc_d((size_t)n * n), *K = bfc_alloc_d((size_t)n * n);
    bfc_kernel k;
    bfc_kernel_defaults(&k, d);
    k.kind = BFC_KERNEL_NTK;
    cr_assert_eq(bfc_kernel_gram(&k, X, n, d, G), BFC_OK);
    cr_assert_eq(bfc_kernel_matrix(&k, X, n, X, n, d, K), BFC_OK);
    for (int i = 0; i < n * n; i++)
        cr_expect(fabs(G[i] - K[i]) <= (i % (n + 1) ? ENTRY_TOL : NTK_DIAG_TOL) * fabs(G[i]),
                  "entry %d: %.17g vs %.17g", i, G[i], K[i]);
    bfc_free(X), bfc_free(G), bfc_free(K);
}

/* smallest and largest eigenvalue of the symmetric A (n × n), destroyed */
static void eig_range(double *A, int n, double *lo, double *hi)
{
    double *w = bfc_alloc_d((size_t)n), wq;
    int lwork = -1, liwork = -1, iwq, info;
    dsyevd_("N", "L", &n, A, &n, w, &wq, &lwork, &iwq, &liwork, &info);
    lwork = (int)wq;
    liwork = iwq;
    double *work = bfc_alloc_d((size_t)lwork);
    int *iwork = malloc(sizeof(int) * (size_t)liwork);
    dsyevd_("N", "L", &n, A, &n, w, work, &lwork, iwork, &liwork, &info);
    cr_assert_eq(info, 0);
    *lo = w[0];
    *hi = w[n - 1];
    bfc_free(w), bfc_free(work), free(iwork);
}

Test(kernel, gram_matrices_are_symmetric_and_positive_semidefinite_for_every_kind)
{
    const int n = 120, d = 8;
    double *X = random_data(n, d, 4), *G = bfc_alloc_d((size_t)n * n);
    struct {
        bfc_kernel_kind kind;
        bfc_activation act;
        int depth;
    } cases[] = {{BFC_KERNEL_POLY, 0, 0},           {BFC_KERNEL_RBF, 0, 0},
                 {BFC_KERNEL_LAPLACE, 0, 0},        {BFC_KERNEL_NTK, BFC_ACT_RELU, 3},
                 {BFC_KERNEL_NTK, BFC_ACT_QUAD, 2}, {BFC_KERNEL_NNGP, BFC_ACT_RELU, 3},
                 {BFC_KERNEL_NNGP, BFC_ACT_QUAD, 2}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        bfc_kernel k;
        bfc_kernel_defaults(&k, d);
        k.kind = cases[c].kind;
        k.net.activation = cases[c].act;
        k.net.depth = cases[c].depth ? cases[c].depth : 2;
        char name[32];
        bfc_kernel_name(&k, name, sizeof name);
        cr_assert_eq(bfc_kernel_gram(&k, X, n, d, G), BFC_OK, "%s: %s", name, bfc_last_error());
        int sym = 1;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < i; j++) sym &= G[i * n + j] == G[j * n + i];
        cr_expect(sym, "%s: Gram matrix not exactly symmetric", name);
        double lo, hi;
        eig_range(G, n, &lo, &hi);
        cr_expect(lo >= -PSD_TOL * hi, "%s: eigenvalues in [%.3g, %.3g]", name, lo, hi);
    }
    bfc_free(X), bfc_free(G);
}

static double my_rbf(double xy, double xx, double yy, const void *params)
{
    const double s2 = *(const double *)params, r = xx + yy - 2.0 * xy;
    return exp(-(r > 0.0 ? r : 0.0) / (2.0 * s2));
}

Test(kernel, a_custom_function_of_inner_product_and_norms_plugs_in_like_a_builtin)
{
    const int n = 19, m = 7, d = 4;
    double *X = random_data(n, d, 5), *Z = random_data(m, d, 6);
    double *K1 = bfc_alloc_d((size_t)n * m), *K2 = bfc_alloc_d((size_t)n * m);
    double s2 = 2.5;
    bfc_kernel k;
    bfc_kernel_defaults(&k, d);
    k.kind = BFC_KERNEL_RBF;
    k.bandwidth2 = s2;
    cr_assert_eq(bfc_kernel_matrix(&k, X, n, Z, m, d, K1), BFC_OK);
    k.kind = BFC_KERNEL_CUSTOM;
    k.fn = my_rbf;
    k.fn_params = &s2;
    k.fn_name = "my-rbf";
    cr_assert_eq(bfc_kernel_matrix(&k, X, n, Z, m, d, K2), BFC_OK);
    for (int i = 0; i < n * m; i++) cr_expect(fabs(K1[i] - K2[i]) <= ENTRY_TOL, "entry %d", i);
    char name[32];
    cr_expect_str_eq(bfc_kernel_name(&k, name, sizeof name), "my-rbf");
    bfc_free(X), bfc_free(Z), bfc_free(K1), bfc_free(K2);
}

#define EXPECT_REFUSED(call, code, text)                                                      \
    do {                                                                                      \
        cr_expect_eq((call), (code), "expected %s", #code);                                   \
        cr_expect(strstr(bfc_last_error(), (text)) != NULL, "message \"%s\" lacks \"%s\"",     \
                  bfc_last_error(), (text));                                                  \
    } while (0)

Test(kernel, bad_configurations_are_refused_with_a_message_that_says_what_to_change)
{
    const int d = 3;
    double X[6] = {1, 2, 3, 4, 5, 6}, K[4];
    bfc_kernel k;
    bfc_kernel_defaults(&k, d);
    k.kind = (bfc_kernel_kind)42;
    EXPECT_REFUSED(bfc_kernel_validate(&k, d), BFC_EINVAL, "unknown kernel kind 42");
    EXPECT_REFUSED(bfc_kernel_gram(&k, X, 2, d, K), BFC_EINVAL, "unknown kernel kind 42");

    bfc_kernel_defaults(&k, d);
    k.kind = BFC_KERNEL_RBF;
    k.bandwidth2 = 0.0;
    EXPECT_REFUSED(bfc_kernel_matrix(&k, X, 2, X, 2, d, K), BFC_EINVAL,
                   "rbf kernel bandwidth s^2 must be finite and > 0 (got 0)");
    k.kind = BFC_KERNEL_LAPLACE;
    k.bandwidth2 = -2.0;
    EXPECT_REFUSED(bfc_kernel_validate(&k, d), BFC_EINVAL, "laplace kernel bandwidth");

    bfc_kernel_defaults(&k, d);
    k.degree = 0;
    EXPECT_REFUSED(bfc_kernel_validate(&k, d), BFC_EINVAL, "degree must be >= 1 (got 0)");
    k.degree = 100000;
    EXPECT_REFUSED(bfc_kernel_validate(&k, d), BFC_EINVAL, "degree 100000 is too large");

    /* degree 300 is allowed, but with ‖x‖² up to 77 the values reach (1 + 77/3)^300 */
    k.degree = 300;
    cr_expect_eq(bfc_kernel_validate(&k, d), BFC_OK);
    EXPECT_REFUSED(bfc_kernel_gram(&k, X, 2, d, K), BFC_EINVAL, "would overflow; lower the degree");

    bfc_kernel_defaults(&k, d);
    k.kind = BFC_KERNEL_CUSTOM;
    EXPECT_REFUSED(bfc_kernel_validate(&k, d), BFC_EINVAL, "fn is NULL");
    bfc_kernel_defaults(&k, d);
    EXPECT_REFUSED(bfc_kernel_validate(&k, 0), BFC_EINVAL, "dimension d must be >= 1");
}

Test(kernel, non_finite_data_give_a_numerical_error_not_a_silent_nan)
{
    double X[6] = {1, 2, 3, 4, NAN, 6}, K[4];
    bfc_kernel k;
    bfc_kernel_defaults(&k, 3);
    EXPECT_REFUSED(bfc_kernel_gram(&k, X, 2, 3, K), BFC_ENUMERIC, "non-finite");
    k.kind = BFC_KERNEL_RBF;
    EXPECT_REFUSED(bfc_kernel_matrix(&k, X, 1, X, 2, 3, K), BFC_ENUMERIC, "non-finite");
}

Test(kernel, matrices_overwrite_their_output_without_reading_it)
{
    /* the KRR solver hands in uninitialised memory: garbage (here NaN) must not leak in */
    const int n = 40, m = 9, d = 3;
    double *X = random_data(n, d, 7), *G = bfc_alloc_d((size_t)n * n), *K = bfc_alloc_d((size_t)n * m);
    for (int i = 0; i < n * n; i++) G[i] = NAN;
    for (int i = 0; i < n * m; i++) K[i] = NAN;
    bfc_kernel k;
    bfc_kernel_defaults(&k, d);
    cr_expect_eq(bfc_kernel_gram(&k, X, n, d, G), BFC_OK, "%s", bfc_last_error());
    cr_expect_eq(bfc_kernel_matrix(&k, X, n, X, m, d, K), BFC_OK, "%s", bfc_last_error());
    bfc_free(X), bfc_free(G), bfc_free(K);
}

Test(kernel, threaded_map_gives_bitwise_the_same_matrices_as_one_thread)
{
    /* 1200²/2 and 1200 × 700 entries: enough for the map to split over 2 and 3 threads */
    const int n = 1200, m = 700, d = 5;
    double *X = random_data(n, d, 8), *Z = random_data(m, d, 9);
    double *G1 = bfc_alloc_d((size_t)n * n), *G2 = bfc_alloc_d((size_t)n * n);
    double *K1 = bfc_alloc_d((size_t)n * m), *K2 = bfc_alloc_d((size_t)n * m);
    bfc_kernel k;
    bfc_kernel_defaults(&k, d);
    k.kind = BFC_KERNEL_NTK;
    openblas_set_num_threads(1);
    cr_assert_eq(bfc_kernel_gram(&k, X, n, d, G1), BFC_OK);
    cr_assert_eq(bfc_kernel_matrix(&k, X, n, Z, m, d, K1), BFC_OK);
    openblas_set_num_threads(3);
    cr_assert_eq(bfc_kernel_gram(&k, X, n, d, G2), BFC_OK);
    cr_assert_eq(bfc_kernel_matrix(&k, X, n, Z, m, d, K2), BFC_OK);
    /* OpenBLAS splits a product over output blocks, never over the inner dimension, so the
     * inner products are bitwise equal too and so must be the mapped entries */
    cr_expect(memcmp(G1, G2, sizeof(double) * (size_t)n * n) == 0, "Gram differs");
    cr_expect(memcmp(K1, K2, sizeof(double) * (size_t)n * m) == 0, "cross matrix differs");
    /* the matrix-vector product too: each row's sum runs over the same tiles in order */
    double *a = random_data(m, 1, 10), *o1 = bfc_alloc_d((size_t)n), *o2 = bfc_alloc_d((size_t)n);
    for (int i = 0; i < n; i++) o1[i] = o2[i] = 0.25;
    openblas_set_num_threads(1);
    cr_assert_eq(bfc_kernel_matvec(&k, X, n, Z, m, d, a, o1), BFC_OK);
    openblas_set_num_threads(3);
    cr_assert_eq(bfc_kernel_matvec(&k, X, n, Z, m, d, a, o2), BFC_OK);
    cr_expect(memcmp(o1, o2, sizeof(double) * (size_t)n) == 0, "matrix-vector product differs");
    bfc_free(X), bfc_free(Z), bfc_free(G1), bfc_free(G2), bfc_free(K1), bfc_free(K2);
    bfc_free(a), bfc_free(o1), bfc_free(o2);
}

/* sizes that span several tiles (64 rows × 200 columns at d = 20) with ragged edges */
#define TILED_N 150
#define TILED_M 450
#define TILED_D 20

Test(kernel, upper_gram_writes_nothing_below_the_diagonal_and_equals_the_full_gram_above)
{
    const int n = TILED_M, d = TILED_D;
    double *X = random_data(n, d, 11);
    double *U = bfc_alloc_d((size_t)n * n), *G = bfc_alloc_d((size_t)n * n);
    const bfc_kernel_kind kinds[] = {BFC_KERNEL_POLY, BFC_KERNEL_RBF, BFC_KERNEL_NTK};
    for (int t = 0; t < 3; t++) {
        bfc_kernel k;
        bfc_kernel_defaults(&k, d);
        k.kind = kinds[t];
        for (int i = 0; i < n * n; i++) U[i] = NAN; /* a sentinel that must survive */
        cr_assert_eq(bfc_kernel_gram_upper(&k, X, n, d, U), BFC_OK, "%s", bfc_last_error());
        cr_assert_eq(bfc_kernel_gram(&k, X, n, d, G), BFC_OK, "%s", bfc_last_error());
        int below = 0, above = 0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) {
                const double u = U[i * n + j], g = G[i * n + j];
                if (j < i) below += !isnan(u);
                else above += memcmp(&u, &g, sizeof u) != 0;
            }
        cr_expect_eq(below, 0, "kind %d: %d entries below the diagonal written", (int)kinds[t], below);
        cr_expect_eq(above, 0, "kind %d: %d entries differ from the full Gram", (int)kinds[t], above);
    }
    bfc_free(X), bfc_free(U), bfc_free(G);
}

Test(kernel, matrix_vector_product_equals_the_kernel_matrix_times_the_vector)
{
    const int n = TILED_N, m = TILED_M, d = TILED_D;
    double *X = random_data(n, d, 12), *Z = random_data(m, d, 13), *a = random_data(m, 1, 14);
    double *K = bfc_alloc_d((size_t)n * m), *out = bfc_alloc_d((size_t)n);
    const bfc_kernel_kind kinds[] = {BFC_KERNEL_POLY, BFC_KERNEL_RBF, BFC_KERNEL_LAPLACE,
                                     BFC_KERNEL_NTK, BFC_KERNEL_NNGP};
    for (int t = 0; t < 5; t++) {
        bfc_kernel k;
        bfc_kernel_defaults(&k, d);
        k.kind = kinds[t];
        cr_assert_eq(bfc_kernel_matrix(&k, X, n, Z, m, d, K), BFC_OK, "%s", bfc_last_error());
        for (int i = 0; i < n; i++) out[i] = -1.5; /* accumulated onto */
        cr_assert_eq(bfc_kernel_matvec(&k, X, n, Z, m, d, a, out), BFC_OK, "%s", bfc_last_error());
        double err = 0.0;
        for (int i = 0; i < n; i++) {
            double ref = -1.5, mag = 1.5;
            for (int j = 0; j < m; j++) {
                ref += K[(size_t)i * m + j] * a[j];
                mag += fabs(K[(size_t)i * m + j] * a[j]);
            }
            /* the same entries summed in another order: rounding of the sum only */
            err = fmax(err, fabs(out[i] - ref) / mag);
        }
        cr_expect(err <= 64 * DBL_EPSILON, "kind %d: error %.3g of the sum's magnitude",
                  (int)kinds[t], err);
    }
    X[5] = NAN;
    bfc_kernel k;
    bfc_kernel_defaults(&k, d);
    EXPECT_REFUSED(bfc_kernel_matvec(&k, X, n, Z, m, d, a, out), BFC_ENUMERIC, "non-finite");
    bfc_free(X), bfc_free(Z), bfc_free(a), bfc_free(K), bfc_free(out);
}

Test(kernel, polynomial_entries_of_every_degree_equal_the_scalar_kernel_bitwise)
{
    /* inputs in steps of 1/4 with d = 1: every inner product is exact, so the vectorised
     * powers of the tiles must reproduce bfc_kernel_eval to the last bit */
    const int n = 70, m = 260, d = 1;
    double *X = bfc_alloc_d((size_t)n), *Z = bfc_alloc_d((size_t)m);
    double *K = bfc_alloc_d((size_t)n * m);
    for (int i = 0; i < n; i++) X[i] = 0.25 * (i % 13) - 1.5;
    for (int j = 0; j < m; j++) Z[j] = 0.25 * (j % 11) - 1.25;
    for (int p = 1; p <= 12; p++) {
        bfc_kernel k;
        bfc_kernel_defaults(&k, d);
        k.degree = p;
        k.scale = 0.3;
        k.offset = 0.7;
        cr_assert_eq(bfc_kernel_matrix(&k, X, n, Z, m, d, K), BFC_OK, "%s", bfc_last_error());
        int diff = 0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < m; j++) {
                const double e = bfc_kernel_eval(&k, X[i] * Z[j], X[i] * X[i], Z[j] * Z[j], d);
                diff += memcmp(&e, &K[(size_t)i * m + j], sizeof e) != 0;
            }
        cr_expect_eq(diff, 0, "degree %d: %d entries differ", p, diff);
    }
    bfc_free(X), bfc_free(Z), bfc_free(K);
}

Test(kernel, wide_inputs_beyond_d_256_give_the_same_matrices_on_any_thread_count)
{
    /* d = 300: a tile's product is large enough for OpenBLAS to thread it, so the tiles run
     * on one thread; the entries still match the formulas and do not depend on the count */
    const int n = 150, m = 90, d = 300;
    double *X = random_data(n, d, 15), *Z = random_data(m, d, 16);
    double *G = bfc_alloc_d((size_t)n * n), *K1 = bfc_alloc_d((size_t)n * m);
    double *K2 = bfc_alloc_d((size_t)n * m);
    bfc_kernel k;
    bfc_kernel_defaults(&k, d);
    openblas_set_num_threads(1);
    cr_assert_eq(bfc_kernel_matrix(&k, X, n, Z, m, d, K1), BFC_OK, "%s", bfc_last_error());
    openblas_set_num_threads(3);
    cr_assert_eq(bfc_kernel_matrix(&k, X, n, Z, m, d, K2), BFC_OK, "%s", bfc_last_error());
    cr_assert_eq(bfc_kernel_gram(&k, X, n, d, G), BFC_OK, "%s", bfc_last_error());
    double err = 0.0;
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < m; j++) {
            const double ref = direct(&k, X + i * d, Z + j * d, d);
            err = fmax(err, fabs(K2[i * m + j] - ref) / fabs(ref));
            err = fmax(err, fabs(K1[i * m + j] - ref) / fabs(ref));
        }
        for (int j = 0; j < n; j++) {
            const double ref = direct(&k, X + i * d, X + j * d, d);
            err = fmax(err, fabs(G[i * n + j] - ref) / fabs(ref));
        }
    }
    cr_expect(err <= ENTRY_TOL, "largest relative error %.3g", err);
    /* tiles narrower than tall (16 columns): still nothing written below the diagonal */
    for (int i = 0; i < n * n; i++) G[i] = NAN;
    cr_assert_eq(bfc_kernel_gram_upper(&k, X, n, d, G), BFC_OK, "%s", bfc_last_error());
    int below = 0, upper = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            if (j < i) below += !isnan(G[i * n + j]);
            else upper += !isfinite(G[i * n + j]);
        }
    cr_expect(below == 0 && upper == 0, "%d written below, %d missing above", below, upper);
    openblas_set_num_threads(1);
    bfc_free(X), bfc_free(Z), bfc_free(G), bfc_free(K1), bfc_free(K2);
}
