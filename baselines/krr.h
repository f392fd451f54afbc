/* krr.h: kernel ridge regression, exact in double precision, with the ridge chosen on a
 * validation split from one eigendecomposition and a memory estimate checked before
 * anything large is allocated.
 *
 * Model: f(x) = ȳ + Σ_i α_i k(x, x_i),  (K + λI) α = y − ȳ,  K = k(X, X) (n × n).
 * The ridge λ is absolute (it is scikit-learn KernelRidge's alpha). y is centred (ȳ = mean
 * of the training labels, fitted separately and added back at prediction; center = 0 turns
 * this off), so the ridge does not shrink the mean towards 0.
 *
 * Flow of bfc_krr_fit:
 *  1. validate, then estimate the peak memory (bfc_krr_memory_estimate) and refuse with
 *     BFC_ENOMEM, naming the largest n that fits, when it exceeds the limit;
 *  2. ridge == 0: split off a validation set (val_fraction of n, RNG stream
 *     BFC_STREAM_VAL of seed); take at most select_max of the remaining points (the
 *     selection subset S); K_S = V Λ Vᵀ by one LAPACK dsyevd; for every ridge of the grid
 *     α(λ) = V (Λ + λ)⁻¹ Vᵀ y_S and the validation predictions K(val, S) α(λ) all come from
 *     that one decomposition; the ridge with the smallest validation MSE wins.
 *     The grid is relative to the mean diagonal of K_S: λ = r · mean(diag K_S) for r
 *     log-spaced over [ridge_grid_min, ridge_grid_max] (default 1e-8 .. 1e2, 21 values,
 *     two per decade).
 *     When the lower edge of the grid wins, the grid is extended once below it by
 *     BFC_KRR_GRID_EXTEND more values at the same spacing (4 decades), from the same
 *     decomposition; the report gives grid_extended. A value below the edge is chosen only when
 *     it lowers the validation MSE by more than a relative 1e-6 (below that, rounding).
 *     Bandwidth (rbf, laplace, bandwidth_select = 1, the default): the above is done for
 *     every s² = s₀·{1/4, 1/2, 1, 2, 4, 8, 16}, s₀ = kernel.bandwidth2 (default d), on the
 *     same S and validation set (one Gram and one dsyevd each); the (s², λ) pair of
 *     smallest validation MSE wins. When an end of the bandwidth grid wins, one more value
 *     (s₀/8 or 32·s₀) is tried. bandwidth_select = 0 keeps kernel.bandwidth2.
 *  2b. refinement (refine_ridge = 1, the default, and only when S is smaller than the
 *     training part, n − v > select_max): the ridge best for S is not the best for the
 *     n − v training points (it falls as n grows). Starting from the chosen λ*, the
 *     candidates λ*, λ* / √10, λ* / 10, ... are each fitted by Cholesky on the whole training
 *     part and scored on the same validation set, going down while the validation MSE
 *     improves (by more than a relative 1e-6); if the first step down does not, λ*·√10
 *     is tried; at most BFC_KRR_REFINE_MAX candidates. The best wins (never worse than λ* on this measure).
 *     A candidate whose Cholesky fails counts as not improving. Cost: up to
 *     BFC_KRR_REFINE_MAX Grams and Choleskys of size n − v (0.51× the final one each).
 *  3. final fit on all n points with the chosen ridge: the upper triangle of the Gram
 *     (bfc_kernel_gram_upper: tiles of DGEMM + map, no mirror) in a bfc_square_alloc
 *     matrix, then bfc_dense_solve (dense_solve.h), the solve of every kernel method:
 *     blocked Cholesky (dpotrf) of K + λI in place and dpotrs; if it fails (or leaves a
 *     pivot below ε·max diag), one warning goes to stderr and the solve falls back to
 *     Cholesky with growing jitter (1e-10, 1e-8, 1e-6 × mean diag added to λ), then to an
 *     eigendecomposition pseudo-solve (eigenvalues λ_i + λ ≤ n·ε·max|λ_i| dropped), each on
 *     the Gram rebuilt from the inputs (no copy of it is kept). The report says which.
 *     A non-finite α is never returned: BFC_ENUMERIC.
 *
 * Prediction: f(Xt) = ȳ + K(Xt, X) α by bfc_kernel_matvec, tile by tile: K(test, train)
 * is never formed.
 *
 * Selection cap (select_max, default BFC_KRR_SELECT_MAX = 6000). dsyevd costs about 20
 * Choleskys of the same size and needs 3 s² doubles: measured with 2 OpenBLAS threads on
 * the reference machine, s = 4000: 4.8 s, s = 6000: 16 s, while the whole n = 16000 train
 * part of an n = 20000 run would take about 5 min and 6 GB. With the cap the selection
 * costs about as much as the final n = 20000 Cholesky (~25 s). The chosen relative ridge
 * is then applied to all n points; the report gives n_select.
 *
 * Memory: peak = max(selection, refinement, final fit) + the model, as
 * bfc_krr_memory_estimate (bytes): selection 3s² + v·s + O((s + v)(d + grid)) doubles (the
 * bandwidth search reuses the same buffers), refinement the upper triangle of an
 * (n − v)² matrix + (n − v + v)(d + 3) doubles, final fit n(n + 1)/2 +
 * n(d + 3) doubles plus a page per row, prediction n(d + 1) doubles and a few tiles; plus
 * the process and the panels OpenBLAS packs (bfc_dense_process_bytes: 8 MiB + 2 KiB per
 * point). tests/test_memory.c checks it against the peak RSS of `bfc fit`. The
 * final fit maps one n × n matrix (bfc_square_alloc: without reserving commit for all of
 * it) and touches only its upper triangle (the Gram and the Cholesky read and write nothing
 * else, and the matrix is kept off transparent huge pages), so about half of it is ever
 * resident, and the system charges only that half (under strict overcommit accounting the
 * estimate counts the whole matrix). The eigen fallback touches the whole matrix and needs
 * 2n² more doubles for dsyevd; it runs when the lower half fits in what the limit leaves
 * (with dsyev in place when dsyevd's workspace does not), else it is refused: it is not in
 * the estimate.
 *
 * Thread safety: a model may be shared by threads that predict, except that each predict
 * records its wall time in the report (the only state it writes). */
#ifndef BFC_KRR_H
#define BFC_KRR_H

#include <stddef.h>
#include <stdint.h>

#include "kernel.h"

#define BFC_KRR_SELECT_MAX 6000
#define BFC_KRR_GRID_MIN 1e-8
#define BFC_KRR_GRID_MAX 1e2
#define BFC_KRR_GRID_COUNT 21
#define BFC_KRR_GRID_EXTEND 8   /* values added below the grid when its lower edge wins */
#define BFC_KRR_N_BANDWIDTH 7   /* s₀·{1/4, ..., 16} */
#define BFC_KRR_MAX_BANDWIDTH (BFC_KRR_N_BANDWIDTH + 1) /* with the one extension */
#define BFC_KRR_REFINE_MAX 5    /* candidates of the refinement on the training part */
#define BFC_KRR_VAL_FRACTION 0.2
#define BFC_KRR_PREDICT_BLOCK_BYTES ((size_t)64 << 20)

typedef struct {
    bfc_kernel kernel;          /* default poly-4 for the d given to bfc_krr_defaults */
    double ridge;               /* > 0: solve with K + ridge·I; 0: choose it (default 0) */
    double ridge_grid_min;      /* relative grid of the selection, × mean diag of K_S */
    double ridge_grid_max;      /*   (defaults BFC_KRR_GRID_MIN, _MAX, _COUNT) */
    int ridge_grid_count;       /*   ≥ 1, log-spaced; 1 uses ridge_grid_min only */
    double val_fraction;        /* share of n held out for the selection, in (0, 1) */
    int select_max;             /* cap on the selection subset S (≥ 1) */
    uint64_t seed;              /* validation split: stream BFC_STREAM_VAL of this seed */
    size_t mem_limit;           /* bytes; 0 = 80% of MemAvailable (/proc/meminfo) at fit */
    size_t predict_block_bytes; /* predict takes the test points in blocks of this / (8n) */
    int bandwidth_select;       /* rbf, laplace with ridge 0: 1 choose s² around
                                   kernel.bandwidth2 (default); 0 keep kernel.bandwidth2 */
    int refine_ridge;           /* 1: refine the ridge on the whole training part when
                                   n − v > select_max (default); 0: apply S's ridge */
    int center;                 /* 1: fit the mean of y separately (default); 0: no */
    int verbose;                /* 1: one progress line per stage on stderr; default 0 */
} bfc_krr_config;

typedef struct {
    int n, d;
    double ridge;          /* λ of the final fit (absolute) */
    double ridge_relative; /* λ / mean diag of K */
    double mean_diag;      /* mean diagonal of the final K */
    double y_mean;         /* ȳ added to predictions (0 when not centring) */
    /* ridge selection; n_path = 0 when the ridge was given */
    int n_path;
    const double *path_ridge;   /* absolute ridges λ_r (n_path), owned by the model */
    const double *path_val_mse; /* validation MSE at λ_r (n_path), owned by the model */
    int path_best;              /* index of the chosen ridge, −1 without selection */
    double val_mse;             /* validation MSE at the chosen ridge (NaN without): of
                                   the refinement's fit when it ran, else of the path */
    int n_select, n_val;        /* sizes of S and of the validation set */
    int grid_extended;          /* ridges added below the grid (its lower edge won), else 0 */
    /* bandwidth (rbf, laplace): s² of the final kernel; the search, n_bandwidth = 0 without */
    double bandwidth2;          /* kernel.bandwidth2 of the model (any kind) */
    int n_bandwidth;            /* s² tried, in the order tried (the extension last) */
    double bandwidth_grid[BFC_KRR_MAX_BANDWIDTH];
    double bandwidth_val_mse[BFC_KRR_MAX_BANDWIDTH]; /* best over that s²'s ridge path */
    int bandwidth_best;         /* index of the chosen s², −1 without the search */
    int bandwidth_extended;     /* −1: s₀/8 tried, +1: 32·s₀ tried, 0: no extension */
    /* refinement on the training part (n_refine = 0: skipped) */
    double ridge_select;        /* λ chosen on S (before the refinement) */
    double val_mse_select;      /* its validation MSE from the path on S */
    int n_refine;               /* candidates fitted, in the order tried */
    double refine_ridge[BFC_KRR_REFINE_MAX];   /* absolute */
    double refine_val_mse[BFC_KRR_REFINE_MAX]; /* validation MSE of the fit on n − v points */
    int refine_best;            /* index of the chosen candidate, −1 when skipped */
    /* solve */
    int fallback;             /* 0 Cholesky; 1 Cholesky with jitter; 2 eigen pseudo-solve */
    double jitter;            /* diagonal added to λ by fallback 1 (absolute) */
    char fallback_what[320];  /* what failed and what was done ("" when fallback = 0) */
    /* cost (wall seconds) */
    double seconds_select;   /* whole selection: Gram, eigendecomposition, path */
    double seconds_eigen;    /* its dsyevd (all of them, with the bandwidth search) */
    double seconds_refine;   /* the refinement on the training part */
    double seconds_build;    /* final Gram */
    double seconds_cholesky; /* first dpotrf of the final fit */
    double seconds_solve;    /* all of the solve, fallbacks included */
    double seconds_fit;      /* the whole bfc_krr_fit */
    double seconds_predict;  /* the last bfc_krr_predict */
    double flops_cholesky;   /* n³/3 */
    double gflops_cholesky;  /* flops_cholesky / seconds_cholesky / 1e9 */
    size_t bytes_estimate;   /* bfc_krr_memory_estimate(cfg, n, 0, d) */
    size_t mem_limit;        /* the limit in force */
} bfc_krr_report;

typedef struct bfc_krr bfc_krr; /* opaque fitted model */

/* Fill cfg with the defaults above; the kernel gets bfc_kernel_defaults(&cfg->kernel, d). */
void bfc_krr_defaults(bfc_krr_config *cfg, int d);

/* Peak bytes of bfc_krr_fit for n training points (and of predicting n_test points in
 * blocks afterwards, 0 for none), including the model, for this configuration. */
size_t bfc_krr_memory_estimate(const bfc_krr_config *cfg, int n, int n_test, int d);

/* The largest n' ≤ n_max with bfc_krr_memory_estimate(cfg, n', n_test, d) ≤ limit, 0 if
 * none: what a refusal names, and a size that then passes the check. */
int bfc_krr_largest_n(const bfc_krr_config *cfg, int n_max, int n_test, int d, size_t limit);

/* 80% of MemAvailable from /proc/meminfo, in bytes (0 if unknown: no limit). */
size_t bfc_krr_default_mem_limit(void);

/* Fit on X (n × d), y (n). On success *model is a new model (free with bfc_krr_free) and
 * BFC_OK is returned; otherwise *model is NULL and the status is one of BFC_EINVAL (bad
 * configuration, kernel or data, with the message of bfc_last_error), BFC_ENOMEM (does not
 * fit: the message gives the estimate and the largest n that fits), BFC_ENUMERIC. X and y
 * are copied as needed and may be freed after the call. */
int bfc_krr_fit(const bfc_krr_config *cfg, const double *X, const double *y, int n, int d,
                bfc_krr **model);

/* out (m) = predictions at Xt (m × d). BFC_OK, BFC_ENOMEM, BFC_EINVAL or BFC_ENUMERIC. */
int bfc_krr_predict(const bfc_krr *model, const double *Xt, int m, double *out);

/* The report of the fit (valid until bfc_krr_free). */
const bfc_krr_report *bfc_krr_get_report(const bfc_krr *model);

/* The dual coefficients α (n), and n, valid until bfc_krr_free. */
const double *bfc_krr_alpha(const bfc_krr *model, int *n);

/* Free the model; NULL is a no-op. */
void bfc_krr_free(bfc_krr *model);

/* Ridge selection pieces shared with entk.h (step 2 above). The sizes of the validation set
 * v = round(val_fraction·n) clamped to [1, n − 1] and of the selection subset
 * s = min(n − v, select_max), for n ≥ 2. */
void bfc_krr_split_sizes(double val_fraction, int select_max, int n, int *v, int *s);
/* ridges (count) = mean_diag · grid_min · (grid_max / grid_min)^(r / (count − 1)). */
void bfc_krr_ridge_grid(double mean_diag, double grid_min, double grid_max, int count,
                        double *ridges);
/* BFC_OK, or BFC_EINVAL saying which of n ≥ 2, val_fraction in (0, 1), select_max ≥ 1,
 * grid_count ≥ 1, 0 < grid_min ≤ grid_max < ∞ fails. */
int bfc_krr_check_selection(int n, double val_fraction, int select_max, double grid_min,
                            double grid_max, int grid_count);

/* The ridge path from one eigendecomposition (step 2 above), exposed for testing and reuse:
 * K (s × s) symmetric (the upper triangle is read), overwritten by eigenvectors;
 * y (s) targets; Kvs (v × s) = k(validation, S); ridges (nr) absolute;
 * P (v × nr) row-major: P[j, r] = (Kvs (K + λ_r I)⁻¹ y)_j, with eigenvalues
 * λ_i + λ_r ≤ s·ε·max|λ_i| dropped (pseudo-inverse). Allocates the dsyevd workspace and
 * the path (2s² + 8s + 1 + 2s·nr doubles, 5s + 3 ints); BFC_ENOMEM or BFC_ENUMERIC.
 * *seconds_eigen (if not NULL) receives the wall time of dsyevd. */
int bfc_krr_ridge_path(double *K, const double *y, const double *Kvs, int s, int v,
                       const double *ridges, int nr, double *P, double *seconds_eigen);

#endif
