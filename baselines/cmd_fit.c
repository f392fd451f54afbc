/* cmd_fit.c: `bfc fit --method M`: a baseline of SPEC §3 on the same target and data flags as
 * `bfc train` (or the same files, with --data), with the same JSON summary, CSV and progress. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baselines_cli.h"
#include "blas.h"
#include "cli.h"
#include "fsutil.h"
#include "krr.h"
#include "metrics.h"

typedef struct {
    bfc_problem p;
    char method[32];
    char kernel[32];
    int kernel_set;
    int degree;
    double bandwidth2;
    double ridge;
    char act[16];
    int depth;
    int select_max;
} fit_args;

static const bfc_opt fit_opts[] = {
    {"method", 1, "M", "krr (default), ntk or nngp (closed-form infinite-width kernels)"},
    {"kernel", 1, "K", "krr kernel: poly (default), rbf or laplace"},
    {"degree", 1, "P", "poly kernel degree p in (1 + <x,y>/d)^p (default 4)"},
    {"bandwidth", 1, "S2", "rbf exp(-|x-y|^2/(2 S2)), laplace exp(-|x-y|/sqrt(S2)) (default d)"},
    {"ridge", 1, "R", "ridge (absolute, > 0); default: chosen on a validation split"},
    {"act", 1, "A", "ntk/nngp activation: relu (default) or quad"},
    {"depth", 1, "H", "ntk/nngp hidden layers (default 2)"},
    {"select-max", 1, "N", "cap on the ridge-selection subset (default 6000)"},
    {NULL, 0, NULL, NULL}};

static int fit_opt(void *ctx, const char *name, const char *val)
{
    fit_args *a = ctx;
    int r = bfc_problem_option(&a->p, name, val);
    if (r < 0) return -r;
    if (r > 0) return BFC_OK;
    if (!strcmp(name, "method") || !strcmp(name, "kernel") || !strcmp(name, "act")) {
        char *dst = !strcmp(name, "method") ? a->method : !strcmp(name, "kernel") ? a->kernel : a->act;
        if (strlen(val) >= 16) return bfc_fail(BFC_EINVAL, "--%s: '%s' is not a known value", name, val);
        strcpy(dst, val);
        if (!strcmp(name, "kernel")) a->kernel_set = 1;
        return BFC_OK;
    }
    if (!strcmp(name, "degree")) return bfc_parse_int("--degree", val, 1, 512, &a->degree);
    if (!strcmp(name, "bandwidth")) return bfc_parse_double("--bandwidth", val, 1e-300, 1e300, &a->bandwidth2);
    if (!strcmp(name, "ridge")) return bfc_parse_double("--ridge", val, 1e-300, 1e300, &a->ridge);
    if (!strcmp(name, "depth")) return bfc_parse_int("--depth", val, 1, 100, &a->depth);
    if (!strcmp(name, "select-max")) return bfc_parse_int("--select-max", val, 10, 1000000, &a->select_max);
    return bfc_fail(BFC_EINVAL, "unhandled option --%s", name);
}

/* Kernel configuration from the flags; BFC_EINVAL naming the flag on a bad value. */
static int kernel_from_args(const fit_args *a, int d, bfc_kernel *k)
{
    bfc_kernel_defaults(k, d);
    if (!strcmp(a->method, "krr")) {
        if (!strcmp(a->kernel, "poly")) k->kind = BFC_KERNEL_POLY;
        else if (!strcmp(a->kernel, "rbf")) k->kind = BFC_KERNEL_RBF;
        else if (!strcmp(a->kernel, "laplace")) k->kind = BFC_KERNEL_LAPLACE;
        else return bfc_fail(BFC_EINVAL, "--kernel must be poly, rbf or laplace (got '%s')", a->kernel);
    } else {
        if (a->kernel_set)
            return bfc_fail(BFC_EINVAL, "--kernel applies to --method krr only");
        k->kind = !strcmp(a->method, "ntk") ? BFC_KERNEL_NTK : BFC_KERNEL_NNGP;
        if (!strcmp(a->act, "relu")) k->net.activation = BFC_ACT_RELU;
        else if (!strcmp(a->act, "quad")) k->net.activation = BFC_ACT_QUAD;
        else return bfc_fail(BFC_EINVAL, "--act must be relu or quad (got '%s')", a->act);
        if (a->depth) k->net.depth = a->depth;
    }
    if (a->degree) k->degree = a->degree;
    if (a->bandwidth2 > 0) k->bandwidth2 = a->bandwidth2;
    return bfc_kernel_validate(k, d);
}

static int write_result_csv(const char *path, const char *method, const bfc_target_config *c,
                            int n, uint64_t seed, const char *const *names, const double *vals,
                            int nv)
{
    bfc_afile *af = bfc_afile_open(path);
    if (!af) return BFC_EIO;
    FILE *f = bfc_afile_fp(af);
    fprintf(f, "method,d,L,n,seed,metric,value\n");
    for (int i = 0; i < nv; i++)
        fprintf(f, "%s,%d,%d,%d,%llu,%s,%.10g\n", method, c->d, c->L, n,
                (unsigned long long)seed, names[i], vals[i]);
    return bfc_afile_commit(af);
}

int bfc_cmd_fit(int argc, char **argv)
{
    fit_args a;
    memset(&a, 0, sizeof a);
    bfc_problem_defaults(&a.p);
    strcpy(a.method, "krr");
    strcpy(a.kernel, "poly");
    strcpy(a.act, "relu");
    const bfc_opt *tables[] = {bfc_problem_opts, fit_opts, NULL};
    int help, st = bfc_opt_parse(argc, argv, 2, tables, fit_opt, &a, &help, NULL, NULL);
    if (help) {
        printf("usage: bfc fit --method M [options]\n\n"
               "Fit a baseline of SPEC §3 on the same target and data as 'bfc train' (same\n"
               "flags, same seeds, or the files of 'bfc gen' with --data) and report the\n"
               "relative test error E(f-G*)^2/Var(G*). Kernel methods solve exactly in double\n"
               "precision (Cholesky, with a warning and a fallback on failure); without --ridge\n"
               "the ridge is chosen on a validation split from one eigendecomposition. A run\n"
               "that would not fit in memory is refused before allocating, with the largest n\n"
               "that fits.\n\nmethods:\n"
               "  krr    kernel ridge regression (--kernel poly|rbf|laplace)\n"
               "  ntk    closed-form infinite-width NTK of a deep ReLU/quadratic network\n"
               "  nngp   the compositional (NNGP) kernel of the same network\n\n"
               "With --out DIR: DIR/result.csv (long format) and DIR/result.json.\n\noptions:\n");
        bfc_opt_print(stdout, tables);
        return 0;
    }
    if (!st) st = bfc_problem_finish(&a.p);
    if (!st && strcmp(a.method, "krr") && strcmp(a.method, "ntk") && strcmp(a.method, "nngp"))
        st = bfc_fail(BFC_EINVAL, "--method must be krr, ntk or nngp (got '%s')", a.method);
    bfc_kernel kern;
    if (!st) st = kernel_from_args(&a, a.p.target.d, &kern);
    if (!st && a.p.out_dir[0]) st = bfc_check_writable_dir(a.p.out_dir);
    bfc_krr_config kc;
    if (!st) {
        bfc_krr_defaults(&kc, a.p.target.d);
        kc.kernel = kern;
        kc.ridge = a.ridge;
        kc.seed = a.p.seed;
        kc.verbose = !a.p.quiet;
        if (a.select_max) kc.select_max = a.select_max;
        /* refuse before drawing any data when the run cannot fit */
        size_t need = bfc_krr_memory_estimate(&kc, a.p.n, a.p.n_test, a.p.target.d);
        size_t lim = bfc_krr_default_mem_limit();
        if (!a.p.data_dir[0] && lim && need > lim)
            st = bfc_fail(BFC_ENOMEM, "--n %d needs about %.1f GB for kernel ridge regression but "
                                      "%.1f GB are available",
                          a.p.n, (double)need / 1e9, (double)lim / 1e9);
    }
    if (st) {
        fprintf(stderr, "bfc fit: %s\n", bfc_last_error());
        return 2;
    }
    if (a.p.threads) bfc_blas_set_threads(a.p.threads); /* else OpenBLAS's own (all cores) */
    double t0 = bfc_wall_seconds(), c0 = bfc_cpu_seconds();
    bfc_target *t = NULL;
    bfc_data train, test;
    if ((st = bfc_problem_load(&a.p, &t, &train, &test))) {
        fprintf(stderr, "bfc fit: %s\n", bfc_last_error());
        return 1;
    }
    const bfc_target_config *c = bfc_target_config_of(t);
    char kname[64], method[96];
    bfc_kernel_name(&kern, kname, sizeof kname);
    snprintf(method, sizeof method, "%s:%s", a.method, kname);
    bfc_note(a.p.quiet, "bfc fit: %s, d=%d n=%d, BLAS %s x%d\n", method, c->d, train.n,
             bfc_blas_core(), bfc_blas_threads());
    bfc_krr *model = NULL;
    double *pred = bfc_alloc_d((size_t)test.n);
    if (!pred) st = bfc_fail(BFC_ENOMEM, "out of memory for predictions");
    if (!st) st = bfc_krr_fit(&kc, train.X, train.y, train.n, c->d, &model);
    if (!st) st = bfc_krr_predict(model, test.X, test.n, pred);
    if (st) {
        fprintf(stderr, "bfc fit: %s\n", bfc_last_error());
        bfc_krr_free(model);
        bfc_free(pred);
        bfc_target_free(t);
        bfc_data_free(&train);
        bfc_data_free(&test);
        return st == BFC_ENOMEM ? 2 : 1;
    }
    double err = bfc_relative_error(pred, test.g, test.n);
    const bfc_krr_report *r = bfc_krr_get_report(model);
    double wall = bfc_wall_seconds() - t0, cpu = bfc_cpu_seconds() - c0;
    bfc_note(a.p.quiet, "bfc fit: test error %.4g, ridge %.3g (relative %.3g), %.1fs\n", err,
             r->ridge, r->ridge_relative, wall);

    bfc_jw j;
    bfc_jw_init(&j);
    bfc_jw_obj_begin(&j);
    bfc_jw_kv_str(&j, "method", a.method);
    bfc_jw_kv_str(&j, "kernel", kname);
    bfc_jw_kv_int(&j, "d", c->d);
    bfc_jw_kv_int(&j, "L", c->L);
    bfc_jw_kv_int(&j, "n", train.n);
    bfc_jw_kv_int(&j, "n_test", test.n);
    bfc_jw_kv_int(&j, "seed", (long long)a.p.seed);
    bfc_jw_kv_int(&j, "target_seed", (long long)c->seed);
    bfc_jw_kv_str(&j, "status", "ok");
    bfc_jw_kv_num(&j, "test_error", err);
    double sh[BFC_MAX_L];
    for (int l = 2; l <= c->L; l++) sh[l - 2] = bfc_target_share(t, l);
    bfc_jw_key(&j, "shares");
    bfc_jw_num_array(&j, sh, (size_t)(c->L - 1));
    bfc_jw_kv_num(&j, "ridge", r->ridge);
    bfc_jw_kv_num(&j, "ridge_relative", r->ridge_relative);
    bfc_jw_kv_bool(&j, "ridge_chosen", r->n_path > 0);
    bfc_jw_kv_num(&j, "val_mse", r->val_mse);
    bfc_jw_kv_int(&j, "n_select", r->n_select);
    bfc_jw_kv_int(&j, "fallback", r->fallback);
    if (r->fallback) bfc_jw_kv_str(&j, "fallback_what", r->fallback_what);
    bfc_jw_key(&j, "kernel_params");
    bfc_jw_obj_begin(&j);
    bfc_jw_kv_int(&j, "degree", kern.degree);
    bfc_jw_kv_num(&j, "scale", kern.scale);
    bfc_jw_kv_num(&j, "offset", kern.offset);
    bfc_jw_kv_num(&j, "bandwidth2", kern.bandwidth2);
    bfc_jw_kv_str(&j, "activation", kern.net.activation == BFC_ACT_QUAD ? "quad" : "relu");
    bfc_jw_kv_int(&j, "depth", kern.net.depth);
    bfc_jw_obj_end(&j);
    bfc_jw_kv_num(&j, "wall_s", wall);
    bfc_jw_kv_num(&j, "cpu_s", cpu);
    bfc_jw_kv_num(&j, "select_s", r->seconds_select);
    bfc_jw_kv_num(&j, "build_s", r->seconds_build);
    bfc_jw_kv_num(&j, "solve_s", r->seconds_solve);
    bfc_jw_kv_num(&j, "predict_s", r->seconds_predict);
    bfc_jw_kv_num(&j, "cholesky_gflops", r->gflops_cholesky);
    bfc_jw_kv_int(&j, "memory_estimate_bytes", (long long)r->bytes_estimate);
    bfc_jw_kv_int(&j, "peak_rss_bytes", (long long)bfc_peak_rss_bytes());
    bfc_meta_write(&j);
    bfc_jw_obj_end(&j);
    if (a.p.out_dir[0]) {
        char path[4096];
        const char *names[] = {"test_error", "ridge", "wall_s", "peak_rss_bytes"};
        double vals[] = {err, r->ridge, wall, (double)bfc_peak_rss_bytes()};
        int w = bfc_path_join(path, sizeof path, a.p.out_dir, "result.json");
        if (!w) w = bfc_jw_write_file(&j, path);
        if (!w) w = bfc_path_join(path, sizeof path, a.p.out_dir, "result.csv");
        if (!w) w = write_result_csv(path, method, c, train.n, a.p.seed, names, vals, 4);
        if (w) {
            fprintf(stderr, "bfc fit: %s\n", bfc_last_error());
            st = w;
        }
    }
    if (a.p.json) printf("%s\n", j.buf);
    bfc_jw_free(&j);
    bfc_krr_free(model);
    bfc_free(pred);
    bfc_target_free(t);
    bfc_data_free(&train);
    bfc_data_free(&test);
    return st ? 1 : 0;
}
