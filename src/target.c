/* target.c: generation, evaluation, standardisation, shares and persistence of the
 * hierarchical quadratic targets of SPEC §1. */
#include "target.h"

#include <cblas.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fsutil.h"
#include "json.h"
#include "npy.h"
#include "rng.h"

#define CHUNK 4096 /* rows evaluated at once: bounds scratch memory */

struct bfc_target {
    bfc_target_config cfg;
    double *W[BFC_MAX_L + 1][BFC_MAX_L]; /* W[l][j]: k_l × dim G_j, NULL if j ∉ J_l */
    double *mean[BFC_MAX_L + 1];         /* k_l */
    double *scale[BFC_MAX_L + 1];        /* k_l */
    double share[BFC_MAX_L + 1];
    double var_g, median_g;
};

void bfc_target_defaults(bfc_target_config *c)
{
    memset(c, 0, sizeof *c);
    c->d = 20;
    c->L = 3;
    for (int l = 2; l <= BFC_MAX_L; l++) c->k[l] = 3;
    c->gap = 0.1;
    c->noise = 0.0;
    c->input = BFC_INPUT_GAUSSIAN;
    c->weights = BFC_WEIGHTS_GAUSSIAN;
    c->task = BFC_TASK_REGRESSION;
    c->n_ref = 100000;
    c->seed = 0;
}

void bfc_target_resolve(bfc_target_config *c)
{
    for (int l = 2; l <= BFC_MAX_L; l++) {
        if (c->J[l] == 0) c->J[l] = (l == 2) ? 0x3u : ((1u << (l - 1)) | 1u);
        if (!c->alpha_explicit) c->alpha[l] = (l == 2) ? 1.0 : c->alpha[l - 1] * c->gap;
    }
}

int bfc_target_validate(const bfc_target_config *c)
{
    if (c->d < 1 || c->d > 100000)
        return bfc_fail(BFC_EINVAL, "--d must be between 1 and 100000 (got %d)", c->d);
    if (c->L < 2 || c->L > BFC_MAX_L)
        return bfc_fail(BFC_EINVAL, "--L must be between 2 and %d (got %d)", BFC_MAX_L, c->L);
    if (!c->alpha_explicit && !(c->gap > 0.0 && c->gap <= 1.0))
        return bfc_fail(BFC_EINVAL, "--gap must be in (0, 1] (got %g)", c->gap);
    for (int l = 2; l <= c->L; l++) {
        if (c->k[l] < 1 || c->k[l] > BFC_MAX_K)
            return bfc_fail(BFC_EINVAL, "--k: width of layer %d must be between 1 and %d (got %d)",
                            l, BFC_MAX_K, c->k[l]);
        if (!(c->J[l] & (1u << (l - 1))))
            return bfc_fail(BFC_EINVAL, "--J: J_%d must contain %d (the layer below)", l, l - 1);
        if (c->J[l] >> l)
            return bfc_fail(BFC_EINVAL, "--J: J_%d may only contain layers 0..%d", l, l - 1);
        if (!(c->alpha[l] > 0.0) || !isfinite(c->alpha[l]))
            return bfc_fail(BFC_EINVAL, "--alpha: α_%d must be positive and finite (got %g)", l,
                            c->alpha[l]);
        if (c->weights == BFC_WEIGHTS_ORTHONORMAL) {
            for (int j = 0; j < l; j++) {
                if (!(c->J[l] & (1u << j))) continue;
                int dim = j <= 1 ? c->d : c->k[j];
                if (c->k[l] > dim)
                    return bfc_fail(BFC_EINVAL,
                                    "--weights orthonormal: layer %d has k = %d rows but G_%d has "
                                    "only %d columns",
                                    l, c->k[l], j, dim);
            }
        }
    }
    if (!(c->noise >= 0.0) || !isfinite(c->noise))
        return bfc_fail(BFC_EINVAL, "--noise must be >= 0 (got %g)", c->noise);
    if (c->input != BFC_INPUT_GAUSSIAN && c->input != BFC_INPUT_SPHERE)
        return bfc_fail(BFC_EINVAL, "--input must be gaussian or sphere");
    if (c->weights != BFC_WEIGHTS_GAUSSIAN && c->weights != BFC_WEIGHTS_ORTHONORMAL)
        return bfc_fail(BFC_EINVAL, "--weights must be gaussian or orthonormal");
    if (c->task != BFC_TASK_REGRESSION && c->task != BFC_TASK_CLASSIFICATION)
        return bfc_fail(BFC_EINVAL, "--task must be regression or classification");
    if (c->n_ref < 1000 || c->n_ref > 100000000L)
        return bfc_fail(BFC_EINVAL, "--n-ref must be between 1000 and 1e8 (got %ld)", c->n_ref);
    return BFC_OK;
}

const bfc_target_config *bfc_target_config_of(const bfc_target *t) { return &t->cfg; }

/* Width of g_j, the input of connection j: x and σ(x) − 1 have d, layer j ≥ 2 has k_j. */
static int config_dim_g(const bfc_target_config *c, int j) { return j <= 1 ? c->d : c->k[j]; }
int bfc_target_dim_g(const bfc_target *t, int j) { return config_dim_g(&t->cfg, j); }
double bfc_target_share(const bfc_target *t, int l) { return t->share[l]; }
double bfc_target_variance(const bfc_target *t) { return t->var_g; }
double bfc_target_median(const bfc_target *t) { return t->median_g; }
const double *bfc_target_weight(const bfc_target *t, int l, int j) { return t->W[l][j]; }
const double *bfc_target_mean(const bfc_target *t, int l) { return t->mean[l]; }
const double *bfc_target_scale(const bfc_target *t, int l) { return t->scale[l]; }

void bfc_target_free(bfc_target *t)
{
    if (!t) return;
    for (int l = 0; l <= BFC_MAX_L; l++) {
        for (int j = 0; j < BFC_MAX_L; j++) bfc_free(t->W[l][j]);
        bfc_free(t->mean[l]);
        bfc_free(t->scale[l]);
    }
    free(t);
}

/* Allocate W[l][j], mean[l], scale[l] for a resolved configuration. */
static bfc_target *target_alloc(const bfc_target_config *c)
{
    bfc_target *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->cfg = *c;
    for (int l = 2; l <= c->L; l++) {
        t->mean[l] = bfc_alloc_d((size_t)c->k[l]);
        t->scale[l] = bfc_alloc_d((size_t)c->k[l]);
        if (!t->mean[l] || !t->scale[l]) goto fail;
        for (int j = 0; j < l; j++) {
            if (!(c->J[l] & (1u << j))) continue;
            t->W[l][j] = bfc_alloc_d((size_t)c->k[l] * (size_t)bfc_target_dim_g(t, j));
            if (!t->W[l][j]) goto fail;
        }
    }
    return t;
fail:
    bfc_target_free(t);
    return NULL;
}

/* Rows of A (r × c) made orthonormal by modified Gram-Schmidt (r ≤ c, Gaussian A). */
static void orthonormalise_rows(double *A, int r, int c)
{
    for (int i = 0; i < r; i++) {
        double *a = A + (size_t)i * c;
        for (int p = 0; p < i; p++) {
            const double *b = A + (size_t)p * c;
            double dot = cblas_ddot(c, a, 1, b, 1);
            cblas_daxpy(c, -dot, b, 1, a, 1);
        }
        double nrm = cblas_dnrm2(c, a, 1);
        cblas_dscal(c, 1.0 / nrm, a, 1);
    }
}

void bfc_target_sample_x(const bfc_target *t, gsl_rng *r, int n, double *X)
{
    int d = t->cfg.d;
    bfc_rng_normal(r, X, (size_t)n * d, 1.0);
    if (t->cfg.input == BFC_INPUT_SPHERE) {
        for (int i = 0; i < n; i++) {
            double *x = X + (size_t)i * d;
            double nrm = cblas_dnrm2(d, x, 1);
            cblas_dscal(d, sqrt((double)d) / nrm, x, 1);
        }
    }
}

/* Scratch for evaluating rows: G_j (rows × dim G_j) for j = 0..L. G_0 aliases X. */
typedef struct {
    double *G[BFC_MAX_L + 1];
    double *raw;
} eval_scratch;

static void scratch_free(eval_scratch *s)
{
    for (int j = 1; j <= BFC_MAX_L; j++) bfc_free(s->G[j]);
    bfc_free(s->raw);
}

static int scratch_alloc(const bfc_target *t, size_t rows, eval_scratch *s)
{
    memset(s, 0, sizeof *s);
    int kmax = 1;
    for (int l = 2; l <= t->cfg.L; l++) {
        s->G[l] = bfc_alloc_d(rows * (size_t)t->cfg.k[l]);
        if (!s->G[l]) goto fail;
        if (t->cfg.k[l] > kmax) kmax = t->cfg.k[l];
    }
    s->G[1] = bfc_alloc_d(rows * (size_t)t->cfg.d);
    s->raw = bfc_alloc_d(rows * (size_t)kmax);
    if (s->G[1] && s->raw) return BFC_OK;
fail:
    scratch_free(s);
    return bfc_fail(BFC_ENOMEM, "out of memory evaluating the target on %zu rows", rows);
}

/* raw (rows × k_l) = Σ_{j∈J_l} G_j W*_{l,j}ᵀ, for rows already holding G_0..G_{l−1}. */
static void layer_raw(const bfc_target *t, int l, const double *X, const eval_scratch *s,
                      int rows, double *raw)
{
    int k = t->cfg.k[l];
    double beta = 0.0;
    for (int j = 0; j < l; j++) {
        if (!(t->cfg.J[l] & (1u << j))) continue;
        int dim = bfc_target_dim_g(t, j);
        const double *G = j == 0 ? X : s->G[j];
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, k, dim, 1.0, G, dim,
                    t->W[l][j], dim, beta, raw, k);
        beta = 1.0;
    }
}

/* Evaluate rows of X: fills s->G[1..L] and, if S, S[l] (row offset already applied). */
static void eval_rows(const bfc_target *t, const double *X, int rows, eval_scratch *s,
                      double *gstar, double **S, size_t row0)
{
    const bfc_target_config *c = &t->cfg;
    for (size_t i = 0; i < (size_t)rows * c->d; i++) s->G[1][i] = X[i] * X[i] - 1.0;
    if (gstar) memset(gstar, 0, sizeof(double) * (size_t)rows);
    for (int l = 2; l <= c->L; l++) {
        int k = c->k[l];
        layer_raw(t, l, X, s, rows, s->raw);
        for (int i = 0; i < rows; i++) {
            double nrm2 = 0.0;
            for (int a = 0; a < k; a++) {
                double z = (s->raw[(size_t)i * k + a] - t->mean[l][a]) / t->scale[l][a];
                s->G[l][(size_t)i * k + a] = z * z - 1.0;
                if (S && S[l]) S[l][(row0 + (size_t)i) * k + a] = z;
                nrm2 += z * z;
            }
            if (gstar) gstar[i] += c->alpha[l] * nrm2;
        }
    }
}

int bfc_target_eval(const bfc_target *t, const double *X, int n, double *gstar, double **S)
{
    eval_scratch s;
    size_t rows = (size_t)(n < CHUNK ? (n > 0 ? n : 1) : CHUNK);
    int st = scratch_alloc(t, rows, &s);
    if (st) return st;
    for (int i0 = 0; i0 < n; i0 += CHUNK) {
        int r = n - i0 < CHUNK ? n - i0 : CHUNK;
        eval_rows(t, X + (size_t)i0 * t->cfg.d, r, &s, gstar ? gstar + i0 : NULL, S,
                  (size_t)i0);
    }
    scratch_free(&s);
    return BFC_OK;
}

/* Standardisation constants, layer by layer, on a reference sample held in memory. */
static int standardise(bfc_target *t)
{
    const bfc_target_config *c = &t->cfg;
    size_t n = (size_t)c->n_ref;
    int d = c->d, st = BFC_OK;
    double *X = bfc_alloc_d(n * (size_t)d);
    double *g = bfc_alloc_d(n);
    double *sq[BFC_MAX_L + 1] = {0};
    eval_scratch s;
    gsl_rng *r = bfc_rng_new(c->seed, BFC_STREAM_REFERENCE);
    if (!X || !g || !r || scratch_alloc(t, n, &s)) {
        bfc_free(X);
        bfc_free(g);
        if (r) gsl_rng_free(r);
        return bfc_fail(BFC_ENOMEM, "out of memory for a reference sample of %zu points "
                                    "(reduce --n-ref)", n);
    }
    bfc_target_sample_x(t, r, (int)n, X);
    gsl_rng_free(r);
    for (size_t i = 0; i < n * (size_t)d; i++) s.G[1][i] = X[i] * X[i] - 1.0;
    for (int l = 2; l <= c->L && !st; l++) {
        int k = c->k[l];
        layer_raw(t, l, X, &s, (int)n, s.raw);
        sq[l] = bfc_alloc_d(n);
        if (!sq[l]) {
            st = bfc_fail(BFC_ENOMEM, "out of memory standardising layer %d", l);
            break;
        }
        for (int a = 0; a < k; a++) {
            double m = gsl_stats_mean(s.raw + a, (size_t)k, n);
            double sd = gsl_stats_sd_m(s.raw + a, (size_t)k, n, m);
            if (!(sd > 1e-12 * (1.0 + fabs(m)))) {
                st = bfc_fail(BFC_ENUMERIC, "layer %d coordinate %d is constant on the reference "
                                            "sample: the target is degenerate (change --seed)", l, a);
                break;
            }
            t->mean[l][a] = m;
            t->scale[l][a] = sd;
        }
        for (size_t i = 0; i < n && !st; i++) {
            double nrm2 = 0.0;
            for (int a = 0; a < k; a++) {
                double z = (s.raw[i * k + a] - t->mean[l][a]) / t->scale[l][a];
                s.G[l][i * k + a] = z * z - 1.0;
                nrm2 += z * z;
            }
            sq[l][i] = c->alpha[l] * nrm2;
            g[i] += sq[l][i];
        }
    }
    if (!st) {
        t->var_g = gsl_stats_variance(g, 1, n);
        for (int l = 2; l <= c->L; l++) t->share[l] = gsl_stats_variance(sq[l], 1, n) / t->var_g;
        gsl_sort(g, 1, n);
        t->median_g = gsl_stats_median_from_sorted_data(g, 1, n);
    }
    for (int l = 2; l <= c->L; l++) bfc_free(sq[l]);
    scratch_free(&s);
    bfc_free(X);
    bfc_free(g);
    return st;
}

bfc_target *bfc_target_new(const bfc_target_config *cin, int *status)
{
    bfc_target_config c = *cin;
    bfc_target_resolve(&c);
    int st = bfc_target_validate(&c);
    if (st) {
        *status = st;
        return NULL;
    }
    bfc_target *t = target_alloc(&c);
    if (!t) {
        *status = bfc_fail(BFC_ENOMEM, "out of memory allocating the target");
        return NULL;
    }
    gsl_rng *r = bfc_rng_new(c.seed, BFC_STREAM_TARGET);
    if (!r) {
        bfc_target_free(t);
        *status = bfc_fail(BFC_ENOMEM, "out of memory allocating an RNG");
        return NULL;
    }
    for (int l = 2; l <= c.L; l++) {
        for (int j = 0; j < l; j++) {
            if (!t->W[l][j]) continue;
            int dim = bfc_target_dim_g(t, j);
            bfc_rng_normal(r, t->W[l][j], (size_t)c.k[l] * dim, 1.0 / sqrt((double)dim));
            if (c.weights == BFC_WEIGHTS_ORTHONORMAL) orthonormalise_rows(t->W[l][j], c.k[l], dim);
        }
    }
    gsl_rng_free(r);
    st = standardise(t);
    if (st) {
        bfc_target_free(t);
        *status = st;
        return NULL;
    }
    *status = BFC_OK;
    return t;
}

int bfc_data_make(const bfc_target *t, int n, uint64_t seed, int stream, bfc_data *out)
{
    memset(out, 0, sizeof *out);
    if (n < 1) return bfc_fail(BFC_EINVAL, "data set size must be >= 1 (got %d)", n);
    int d = t->cfg.d;
    out->n = n;
    out->d = d;
    out->X = bfc_alloc_d((size_t)n * d);
    out->y = bfc_alloc_d((size_t)n);
    out->g = bfc_alloc_d((size_t)n);
    gsl_rng *r = bfc_rng_new(seed, stream);
    if (!out->X || !out->y || !out->g || !r) {
        if (r) gsl_rng_free(r);
        bfc_data_free(out);
        return bfc_fail(BFC_ENOMEM, "out of memory for a data set of %d points in dimension %d",
                        n, d);
    }
    bfc_target_sample_x(t, r, n, out->X);
    int st = bfc_target_eval(t, out->X, n, out->g, NULL);
    if (st) {
        gsl_rng_free(r);
        bfc_data_free(out);
        return st;
    }
    for (int i = 0; i < n; i++) {
        double y = out->g[i];
        if (t->cfg.noise > 0.0) y += gsl_ran_gaussian_ziggurat(r, t->cfg.noise);
        if (t->cfg.task == BFC_TASK_CLASSIFICATION) y = (y > t->median_g) ? 1.0 : -1.0;
        out->y[i] = y;
    }
    gsl_rng_free(r);
    return BFC_OK;
}

void bfc_data_free(bfc_data *D)
{
    if (!D) return;
    bfc_free(D->X);
    bfc_free(D->y);
    bfc_free(D->g);
    memset(D, 0, sizeof *D);
}

double bfc_data_g_variance(const bfc_data *D) { return gsl_stats_variance(D->g, 1, (size_t)D->n); }

/* ---- persistence ------------------------------------------------------------------ */

static const char *input_name(int v) { return v == BFC_INPUT_SPHERE ? "sphere" : "gaussian"; }
static const char *weights_name(int v)
{
    return v == BFC_WEIGHTS_ORTHONORMAL ? "orthonormal" : "gaussian";
}
static const char *task_name(int v)
{
    return v == BFC_TASK_CLASSIFICATION ? "classification" : "regression";
}

void bfc_target_describe(const bfc_target *t, bfc_jw *j)
{
    const bfc_target_config *c = &t->cfg;
    bfc_jw_kv_int(j, "d", c->d);
    bfc_jw_kv_int(j, "L", c->L);
    bfc_jw_key(j, "k");
    bfc_jw_int_array(j, c->k + 2, (size_t)(c->L - 1));
    bfc_jw_key(j, "J");
    bfc_jw_arr_begin(j);
    for (int l = 2; l <= c->L; l++) {
        bfc_jw_arr_begin(j);
        for (int q = 0; q < l; q++)
            if (c->J[l] & (1u << q)) bfc_jw_int(j, q);
        bfc_jw_arr_end(j);
    }
    bfc_jw_arr_end(j);
    bfc_jw_kv_num(j, "gap", c->gap);
    bfc_jw_kv_bool(j, "alpha_explicit", c->alpha_explicit);
    bfc_jw_key(j, "alpha");
    bfc_jw_num_array(j, c->alpha + 2, (size_t)(c->L - 1));
    bfc_jw_kv_num(j, "noise", c->noise);
    bfc_jw_kv_str(j, "input", input_name(c->input));
    bfc_jw_kv_str(j, "weights", weights_name(c->weights));
    bfc_jw_kv_str(j, "task", task_name(c->task));
    bfc_jw_kv_int(j, "n_ref", c->n_ref);
    bfc_jw_kv_int(j, "seed", (long long)c->seed);
    bfc_jw_key(j, "shares");
    bfc_jw_num_array(j, t->share + 2, (size_t)(c->L - 1));
    bfc_jw_kv_num(j, "variance", t->var_g);
    bfc_jw_kv_num(j, "median", t->median_g);
}

int bfc_target_save(const bfc_target *t, const char *dir)
{
    int st = bfc_mkdir_p(dir);
    if (st) return st;
    const bfc_target_config *c = &t->cfg;
    char path[4096], name[64];
    for (int l = 2; l <= c->L; l++) {
        for (int q = 0; q < l; q++) {
            if (!t->W[l][q]) continue;
            snprintf(name, sizeof name, "W_%d_%d.npy", l, q);
            if ((st = bfc_path_join(path, sizeof path, dir, name))) return st;
            size_t shape[2] = {(size_t)c->k[l], (size_t)bfc_target_dim_g(t, q)};
            if ((st = bfc_npy_save(path, t->W[l][q], 2, shape))) return st;
        }
    }
    bfc_jw j;
    bfc_jw_init(&j);
    j.pretty = 1;
    bfc_jw_obj_begin(&j);
    bfc_jw_kv_str(&j, "format", "bfc-target-1");
    bfc_target_describe(t, &j);
    bfc_jw_key(&j, "standardisation");
    bfc_jw_arr_begin(&j);
    for (int l = 2; l <= c->L; l++) {
        bfc_jw_obj_begin(&j);
        bfc_jw_kv_int(&j, "layer", l);
        bfc_jw_key(&j, "mean");
        bfc_jw_num_array(&j, t->mean[l], (size_t)c->k[l]);
        bfc_jw_key(&j, "scale");
        bfc_jw_num_array(&j, t->scale[l], (size_t)c->k[l]);
        bfc_jw_obj_end(&j);
    }
    bfc_jw_arr_end(&j);
    bfc_jw_obj_end(&j);
    if (j.failed) {
        bfc_jw_free(&j);
        return bfc_fail(BFC_ENOMEM, "out of memory writing target.json");
    }
    if ((st = bfc_path_join(path, sizeof path, dir, "target.json")) == BFC_OK)
        st = bfc_write_file_atomic(path, j.buf, j.len);
    bfc_jw_free(&j);
    return st;
}

/* Read an integer array field of length n into out[off..off+n−1]. */
static int get_int_array(const bfc_json *o, const char *key, int *out, int n, const char *what)
{
    const bfc_json *a = bfc_json_get(o, key);
    if (!a || bfc_json_type(a) != BFC_JSON_ARRAY || (int)bfc_json_len(a) != n)
        return bfc_fail(BFC_EFORMAT, "%s: '%s' must be an array of %d integers", what, key, n);
    for (int i = 0; i < n; i++) {
        double v;
        if (bfc_json_number(bfc_json_at(a, (size_t)i), &v) || v != floor(v))
            return bfc_fail(BFC_EFORMAT, "%s: '%s'[%d] is not an integer", what, key, i);
        if (v < -1e9 || v > 1e9) /* range first: converting a larger double to int is UB */
            return bfc_fail(BFC_EFORMAT, "%s: '%s'[%d] = %g is out of range", what, key, i, v);
        out[i] = (int)v;
    }
    return BFC_OK;
}

static int get_num_array_exact(const bfc_json *o, const char *key, double *out, int n,
                               const char *what)
{
    const bfc_json *a = bfc_json_get(o, key);
    if (!a || bfc_json_type(a) != BFC_JSON_ARRAY || (int)bfc_json_len(a) != n)
        return bfc_fail(BFC_EFORMAT, "%s: '%s' must be an array of %d numbers", what, key, n);
    for (int i = 0; i < n; i++)
        if (bfc_json_number(bfc_json_at(a, (size_t)i), &out[i]))
            return bfc_fail(BFC_EFORMAT, "%s: '%s'[%d] is not a number", what, key, i);
    return BFC_OK;
}

static int parse_config(const bfc_json *o, const char *what, bfc_target_config *c,
                        double *share, double *var_g, double *median_g)
{
    int st;
    double v;
    char s[64];
    bfc_target_defaults(c);
    if ((st = bfc_json_get_int(o, "d", &v, what))) return st;
    if (v < 1 || v > 100000)
        return bfc_fail(BFC_EFORMAT, "%s: d = %g out of range 1..100000", what, v);
    c->d = (int)v;
    if ((st = bfc_json_get_int(o, "L", &v, what))) return st;
    if (v < 2 || v > BFC_MAX_L)
        return bfc_fail(BFC_EFORMAT, "%s: L = %g out of range 2..%d", what, v, BFC_MAX_L);
    c->L = (int)v;
    int n = c->L - 1;
    if ((st = get_int_array(o, "k", c->k + 2, n, what))) return st;
    const bfc_json *J = bfc_json_get(o, "J");
    if (!J || bfc_json_type(J) != BFC_JSON_ARRAY || (int)bfc_json_len(J) != n)
        return bfc_fail(BFC_EFORMAT, "%s: 'J' must be an array of %d arrays", what, n);
    for (int l = 2; l <= c->L; l++) {
        const bfc_json *Jl = bfc_json_at(J, (size_t)(l - 2));
        if (bfc_json_type(Jl) != BFC_JSON_ARRAY)
            return bfc_fail(BFC_EFORMAT, "%s: 'J'[%d] must be an array", what, l - 2);
        c->J[l] = 0;
        for (size_t i = 0; i < bfc_json_len(Jl); i++) {
            double q;
            if (bfc_json_number(bfc_json_at(Jl, i), &q) || q != floor(q) || q < 0 || q >= l)
                return bfc_fail(BFC_EFORMAT, "%s: 'J'[%d] holds an entry outside 0..%d", what,
                                l - 2, l - 1);
            c->J[l] |= 1u << (int)q;
        }
    }
    if ((st = bfc_json_get_num(o, "gap", &c->gap, what))) return st;
    if ((st = get_num_array_exact(o, "alpha", c->alpha + 2, n, what))) return st;
    c->alpha_explicit = 1; /* stored α are authoritative */
    if ((st = bfc_json_get_num(o, "noise", &c->noise, what))) return st;
    static const char *const inputs[] = {"gaussian", "sphere"};
    static const char *const weights[] = {"gaussian", "orthonormal"};
    static const char *const tasks[] = {"regression", "classification"};
    const struct {
        const char *key;
        const char *const *names;
        int *dst;
    } enums[3] = {{"input", inputs, &c->input},
                  {"weights", weights, &c->weights},
                  {"task", tasks, &c->task}};
    for (int e = 0; e < 3; e++) {
        if ((st = bfc_json_get_str(o, enums[e].key, s, sizeof s, what))) return st;
        if (!strcmp(s, enums[e].names[0])) *enums[e].dst = 0;
        else if (!strcmp(s, enums[e].names[1])) *enums[e].dst = 1;
        else
            return bfc_fail(BFC_EFORMAT, "%s: '%s' must be \"%s\" or \"%s\" (got \"%s\")", what,
                            enums[e].key, enums[e].names[0], enums[e].names[1], s);
    }
    if ((st = bfc_json_get_int(o, "n_ref", &v, what))) return st;
    c->n_ref = (long)v;
    long long seed;
    if ((st = bfc_json_get_int64(o, "seed", &seed, what))) return st;
    c->seed = (uint64_t)seed;
    if ((st = get_num_array_exact(o, "shares", share + 2, n, what))) return st;
    if ((st = bfc_json_get_num(o, "variance", var_g, what))) return st;
    if ((st = bfc_json_get_num(o, "median", median_g, what))) return st;
    if (bfc_target_validate(c)) {
        char why[512]; /* copy: the message buffer is also the destination */
        snprintf(why, sizeof why, "%s", bfc_last_error());
        return bfc_fail(BFC_EFORMAT, "%s: invalid configuration: %s", what, why);
    }
    return BFC_OK;
}

/* Before anything is allocated for a loaded configuration: every weight file it needs
 * exists and is at least as large as its array (a file that is missing or too small for
 * the configuration fails here, not after allocating a large target). */
static int weight_files_present(const char *dir, const bfc_target_config *c)
{
    for (int l = 2; l <= c->L; l++)
        for (int q = 0; q < l; q++) {
            if (!(c->J[l] & (1u << q))) continue;
            char name[64], path[4096];
            snprintf(name, sizeof name, "W_%d_%d.npy", l, q);
            int st = bfc_path_join(path, sizeof path, dir, name);
            if (st) return st;
            struct stat sb;
            if (stat(path, &sb) != 0)
                return bfc_fail(BFC_EIO, "%s: %s (the target needs it)", path, strerror(errno));
            const int cols = config_dim_g(c, q);
            if ((double)sb.st_size < 8.0 * c->k[l] * cols)
                return bfc_fail(BFC_EFORMAT,
                                "%s: %lld bytes, too small for the (%d, %d) array this target "
                                "needs",
                                path, (long long)sb.st_size, c->k[l], cols);
        }
    return BFC_OK;
}

bfc_target *bfc_target_load(const char *dir, int *status)
{
    char path[4096], err[512];
    bfc_target *t = NULL;
    bfc_json *o = NULL;
    int st;
    if ((st = bfc_path_join(path, sizeof path, dir, "target.json"))) goto out;
    o = bfc_json_parse_file(path, err, sizeof err);
    if (!o) {
        st = bfc_fail(BFC_EFORMAT, "%s", err);
        goto out;
    }
    if (bfc_json_type(o) != BFC_JSON_OBJECT) {
        st = bfc_fail(BFC_EFORMAT, "%s: not a JSON object", path);
        goto out;
    }
    const bfc_json *fmt = bfc_json_get(o, "format");
    if (!fmt || !bfc_json_string(fmt) || strcmp(bfc_json_string(fmt), "bfc-target-1") != 0) {
        st = bfc_fail(BFC_EFORMAT, "%s: not a bfc target (expected \"format\": \"bfc-target-1\")",
                      path);
        goto out;
    }
    bfc_target_config c;
    double share[BFC_MAX_L + 1] = {0}, var_g = 0, median_g = 0;
    if ((st = parse_config(o, path, &c, share, &var_g, &median_g))) goto out;
    if ((st = weight_files_present(dir, &c))) goto out;
    t = target_alloc(&c);
    if (!t) {
        st = bfc_fail(BFC_ENOMEM, "out of memory loading %s", path);
        goto out;
    }
    memcpy(t->share, share, sizeof share);
    t->var_g = var_g;
    t->median_g = median_g;
    const bfc_json *stz = bfc_json_get(o, "standardisation");
    if (!stz || bfc_json_type(stz) != BFC_JSON_ARRAY || (int)bfc_json_len(stz) != c.L - 1) {
        st = bfc_fail(BFC_EFORMAT, "%s: 'standardisation' must list layers 2..%d", path, c.L);
        goto out;
    }
    for (int l = 2; l <= c.L; l++) {
        const bfc_json *e = bfc_json_at(stz, (size_t)(l - 2));
        if ((st = get_num_array_exact(e, "mean", t->mean[l], c.k[l], path))) goto out;
        if ((st = get_num_array_exact(e, "scale", t->scale[l], c.k[l], path))) goto out;
        for (int a = 0; a < c.k[l]; a++)
            if (!(t->scale[l][a] > 0.0)) {
                st = bfc_fail(BFC_EFORMAT, "%s: layer %d scale[%d] must be positive", path, l, a);
                goto out;
            }
        for (int q = 0; q < l; q++) {
            if (!t->W[l][q]) continue;
            char name[64];
            snprintf(name, sizeof name, "W_%d_%d.npy", l, q);
            if ((st = bfc_path_join(path, sizeof path, dir, name))) goto out;
            double *a = NULL;
            int nd = 0;
            size_t shape[2] = {0, 0};
            if ((st = bfc_npy_load(path, &a, &nd, shape))) goto out;
            size_t want0 = (size_t)c.k[l], want1 = (size_t)bfc_target_dim_g(t, q);
            if (nd != 2 || shape[0] != want0 || shape[1] != want1) {
                bfc_free(a);
                st = bfc_fail(BFC_EFORMAT, "%s: shape must be (%zu, %zu) for this target", path,
                              want0, want1);
                goto out;
            }
            memcpy(t->W[l][q], a, sizeof(double) * want0 * want1);
            bfc_free(a);
        }
    }
out:
    bfc_json_free(o);
    if (st) {
        bfc_target_free(t);
        t = NULL;
    }
    *status = st;
    return t;
}

int bfc_data_save(const bfc_data *D, const char *dir, const char *name)
{
    int st = bfc_mkdir_p(dir);
    if (st) return st;
    char path[4096], file[256];
    size_t shx[2] = {(size_t)D->n, (size_t)D->d}, shy[1] = {(size_t)D->n};
    const char *suffix[3] = {"x", "y", "g"};
    const double *arr[3] = {D->X, D->y, D->g};
    for (int i = 0; i < 3; i++) {
        snprintf(file, sizeof file, "%s_%s.npy", name, suffix[i]);
        if ((st = bfc_path_join(path, sizeof path, dir, file))) return st;
        if ((st = bfc_npy_save(path, arr[i], i == 0 ? 2 : 1, i == 0 ? shx : shy))) return st;
    }
    return BFC_OK;
}

int bfc_data_load(const char *dir, const char *name, int d, bfc_data *out)
{
    memset(out, 0, sizeof *out);
    char path[4096], file[256];
    const char *suffix[3] = {"x", "y", "g"};
    double *arr[3] = {NULL, NULL, NULL};
    size_t shape[3][2];
    int nd[3], st = BFC_OK;
    for (int i = 0; i < 3 && !st; i++) {
        snprintf(file, sizeof file, "%s_%s.npy", name, suffix[i]);
        if ((st = bfc_path_join(path, sizeof path, dir, file))) break;
        st = bfc_npy_load(path, &arr[i], &nd[i], shape[i]);
        if (!st && nd[i] != (i == 0 ? 2 : 1))
            st = bfc_fail(BFC_EFORMAT, "%s: expected a %d-d array, found %d-d", path,
                          i == 0 ? 2 : 1, nd[i]);
    }
    if (!st && (shape[1][0] != shape[0][0] || shape[2][0] != shape[0][0]))
        st = bfc_fail(BFC_EFORMAT, "%s/%s_*.npy: x has %zu rows but y has %zu and g %zu", dir,
                      name, shape[0][0], shape[1][0], shape[2][0]);
    if (!st && d > 0 && shape[0][1] != (size_t)d)
        st = bfc_fail(BFC_EFORMAT, "%s/%s_x.npy: inputs have dimension %zu but the target has d = %d",
                      dir, name, shape[0][1], d);
    if (!st && (shape[0][0] < 1 || shape[0][0] > (size_t)1 << 30))
        st = bfc_fail(BFC_EFORMAT, "%s/%s_x.npy: %zu rows is out of range", dir, name, shape[0][0]);
    if (st) {
        for (int i = 0; i < 3; i++) bfc_free(arr[i]);
        return st;
    }
    out->n = (int)shape[0][0];
    out->d = (int)shape[0][1];
    out->X = arr[0];
    out->y = arr[1];
    out->g = arr[2];
    for (int i = 0; i < 3; i++) {
        size_t cnt = (size_t)out->n * (i == 0 ? (size_t)out->d : 1);
        for (size_t q = 0; q < cnt; q++)
            if (!isfinite(arr[i][q])) {
                bfc_data_free(out);
                return bfc_fail(BFC_EFORMAT, "%s/%s_%s.npy: contains a non-finite value (row %zu)",
                                dir, name, suffix[i], i == 0 ? q / (size_t)out->d : q);
            }
    }
    return BFC_OK;
}
