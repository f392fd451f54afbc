/* cmd_fit.c: `bfc fit --method M`: a baseline of SPEC §3 on the same target and data flags as
 * `bfc train` (or the same files, with --data), with the same JSON summary, CSV and progress. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "blas.h"
#include "cli.h"
#include "entk.h"
#include "fsutil.h"
#include "krr.h"
#include "metrics.h"
#include "seqkernel.h"
#include "train.h"
#include "twolayer.h"

/* The methods of bfc fit: this one table checks --method, dispatches and lists the methods
 * in bfc fit --help and bfc --help, so that none can be missing from either. */
typedef enum { FIT_KERNEL, FIT_ENTK, FIT_SEQKERNEL, FIT_TWOLAYER } fit_kind;

static const struct {
    const char *name;
    fit_kind kind;
    const char *help; /* lines after the first are indented by the printer */
} fit_methods[] = {
    {"krr", FIT_KERNEL, "kernel ridge regression (--kernel poly|rbf|laplace)"},
    {"ntk", FIT_KERNEL, "closed-form infinite-width NTK of a deep ReLU/quadratic network"},
    {"nngp", FIT_KERNEL, "the compositional (NNGP) kernel of the same network"},
    {"entk", FIT_ENTK, "the empirical NTK of the learner of 'bfc train' at its initialisation\n"
                       "(its lazy regime): ridge regression of y - f0 on the Gram matrix of\n"
                       "per-example gradients"},
    {"seqkernel", FIT_SEQKERNEL, "layer by layer: ridge regression on the quadratic monomials of\n"
                                 "the current features, top-k eigenpairs of the fitted form go up"},
    {"twolayer", FIT_TWOLAYER, "a wide two-layer ReLU network trained end to end with Adam"},
};
#define FIT_NMETHODS (int)(sizeof fit_methods / sizeof fit_methods[0])

void bfc_fit_methods_print(FILE *f)
{
    for (int i = 0; i < FIT_NMETHODS; i++) {
        fprintf(f, "  %-10s ", fit_methods[i].name);
        for (const char *h = fit_methods[i].help; *h; h++) {
            fputc(*h, f);
            if (*h == '\n') fprintf(f, "  %-10s ", "");
        }
        fputc('\n', f);
    }
}

/* "krr, ntk, ... or twolayer" */
static void fit_method_names(char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < FIT_NMETHODS && len < cap; i++) {
        const char *sep = i == 0 ? "" : i == FIT_NMETHODS - 1 ? " or " : ", ";
        len += (size_t)snprintf(buf + len, cap - len, "%s%s", sep, fit_methods[i].name);
    }
}

typedef struct {
    bfc_problem p;
    char method[32];
    fit_kind kind; /* of method, set by fit_args_check */
    char kernel[32];
    int kernel_set;
    int degree;
    double bandwidth2;
    double ridge;
    char act[16];
    int depth;
    int select_max;
    int refine_ridge; /* -1: not given (default 1) */
    int width, steps;
    double lr;
    double init_scale;
} fit_args;

/* the problem's options are stored by their offsets in bfc_problem */
_Static_assert(offsetof(fit_args, p) == 0, "fit_args must start with its bfc_problem");

#define A fit_args
static const bfc_opt fit_opts[] = {
    {"method", 1, "M", "the method, one of the list above (default krr)", BFC_OPT_S(A, method)},
    {"kernel", 1, "K", "krr kernel: poly (default), rbf or laplace", BFC_OPT_S(A, kernel),
     BFC_OPT_GIVEN(A, kernel_set)},
    {"degree", 1, "P", "poly kernel degree p in (1 + <x,y>/d)^p (default 4)",
     BFC_OPT_I(A, degree, 1, 512)},
    {"bandwidth", 1, "S2", "rbf exp(-|x-y|^2/(2 S2)), laplace exp(-|x-y|/sqrt(S2))\n"
                           "                             chosen with the ridge on the validation split from\n"
                           "                             d*{1/4,1/2,1,2,4,8,16}, one more beyond a winning end\n"
                           "                             (default); given: that S2 only",
     BFC_OPT_D(A, bandwidth2, 1e-300, 1e300)},
    {"ridge", 1, "R", "ridge (absolute, > 0); default: chosen on a validation split\n"
                      "                             from 1e-8..1e2 x mean diag (4 decades lower when the\n"
                      "                             lower edge wins)",
     BFC_OPT_D(A, ridge, 1e-300, 1e300)},
    {"act", 1, "A", "ntk/nngp activation: relu (default) or quad", BFC_OPT_S(A, act)},
    {"depth", 1, "H", "ntk/nngp hidden layers (default 2)", BFC_OPT_I(A, depth, 1, 100)},
    {"select-max", 1, "N", "cap on the ridge-selection subset (default 6000)",
     BFC_OPT_I(A, select_max, 10, 1000000)},
    {"refine-ridge", 1, "0|1", "1 (default): when the training part exceeds --select-max,\n"
                               "                             refit it by Cholesky at the chosen ridge and at up to\n"
                               "                             4 neighbours (steps of 10^-1/2 down while the\n"
                               "                             validation error falls, else one step up) and keep\n"
                               "                             the best; 0: apply the subset's ridge as is",
     BFC_OPT_I(A, refine_ridge, 0, 1)},
    {"init-scale", 1, "X", "entk: the learner's initialisation scale (default 0.1, as bfc train)",
     BFC_OPT_D(A, init_scale, 1e-12, 1e3)},
    {"width", 1, "M", "twolayer: hidden units (default 1024)", BFC_OPT_I(A, width, 1, 1000000)},
    {"steps", 1, "T", "twolayer: Adam steps (default 3000*(L-1), the learner's budget)",
     BFC_OPT_I(A, steps, 1, 100000000)},
    {"lr", 1, "ETA", "twolayer: peak learning rate, cosine decay (default: chosen from 1e-3,\n"
                     "                             3e-3, 1e-2, 3e-2 on a validation split)",
     BFC_OPT_D(A, lr, 1e-12, 1e3)},
    BFC_OPT_END};
#undef A

/* Every option of fit_opts is stored by the parser; the problem's others come here. */
static int fit_opt(void *ctx, const char *name, const char *val)
{
    fit_args *a = ctx;
    int r = bfc_problem_option(&a->p, name, val);
    if (r < 0) return -r;
    if (r > 0) return BFC_OK;
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
                            int n, uint64_t seed, const char *status, const char *const *names,
                            const double *vals, int nv)
{
    bfc_result_csv w;
    int st = bfc_result_csv_open(&w, path, method, c, n, seed);
    if (st) return st;
    bfc_result_csv_status(&w, status);
    for (int i = 0; i < nv; i++) bfc_result_csv_row(&w, names[i], vals[i]);
    return bfc_result_csv_commit(&w);
}

/* Common head of the JSON summary. */
static void summary_head(bfc_jw *j, const fit_args *a, const char *kname, const bfc_target *t,
                         int n, int n_test, const char *status, double err, double bulk)
{
    const bfc_target_config *c = bfc_target_config_of(t);
    bfc_jw_kv_str(j, "method", a->method);
    if (kname) bfc_jw_kv_str(j, "kernel", kname);
    bfc_jw_kv_int(j, "d", c->d);
    bfc_jw_kv_int(j, "L", c->L);
    bfc_jw_kv_int(j, "n", n);
    bfc_jw_kv_int(j, "n_test", n_test);
    bfc_jw_kv_int(j, "seed", (long long)a->p.seed);
    bfc_jw_kv_int(j, "target_seed", (long long)c->seed);
    bfc_jw_kv_str(j, "status", status);
    bfc_jw_kv_num(j, "test_error", err);
    bfc_jw_kv_num(j, "test_error_bulk", bulk);
    double sh[BFC_MAX_L];
    for (int l = 2; l <= c->L; l++) sh[l - 2] = bfc_target_share(t, l);
    bfc_jw_key(j, "shares");
    bfc_jw_num_array(j, sh, (size_t)(c->L - 1));
}

/* Write result.json / result.csv under --out and the summary on stdout with --json. */
static int finish_outputs(const fit_args *a, bfc_jw *j, const char *method,
                          const bfc_target_config *c, int n, const char *status,
                          const char *const *names, const double *vals, int nv)
{
    int st = BFC_OK;
    if (a->p.out_dir[0]) {
        char path[4096];
        st = bfc_path_join(path, sizeof path, a->p.out_dir, "result.json");
        if (!st) st = bfc_jw_write_file(j, path);
        if (!st) st = bfc_path_join(path, sizeof path, a->p.out_dir, "result.csv");
        if (!st) st = write_result_csv(path, method, c, n, a->p.seed, status, names, vals, nv);
        if (st) fprintf(stderr, "bfc fit: %s\n", bfc_last_error());
    }
    if (a->p.json) printf("%s\n", j->buf);
    return st;
}

/* The two-layer network's learning rate, like the kernels' ridge, is chosen on a validation
 * split: the last 20% of the training set (i.i.d., so a random split) with the same budget
 * in steps; the relative validation error is measured against the labels y. */
#define TWOLAYER_NLR 4
static const double twolayer_lrs[TWOLAYER_NLR] = {1e-3, 3e-3, 1e-2, 3e-2};

static int twolayer_choose_lr(bfc_twolayer_config *tc, const bfc_data *train, int quiet,
                              double *val_err)
{
    int nv = train->n / 5, nf = train->n - nv;
    if (nv < 10 || nf < tc->batch)
        return bfc_fail(BFC_EINVAL, "--method twolayer: n = %d is too small to choose the learning "
                                    "rate on a validation split (give --lr)", train->n);
    bfc_data fit = {nf, train->d, train->X, train->y, train->g};
    bfc_data val = {nv, train->d, train->X + (size_t)nf * train->d, train->y + nf, train->y + nf};
    int best = -1, progress = tc->progress;
    tc->progress = 0;
    for (int i = 0; i < TWOLAYER_NLR; i++) {
        bfc_twolayer_result r;
        tc->opt.lr = twolayer_lrs[i];
        int st = bfc_twolayer_fit(tc, &fit, &val, &r);
        if (st && st != BFC_EDIVERGED) return st;
        val_err[i] = st ? NAN : r.test_error;
        bfc_note(quiet, "bfc fit: twolayer lr %g: validation error %.4g\n", tc->opt.lr, val_err[i]);
        if (!st && (best < 0 || val_err[i] < val_err[best])) best = i;
    }
    tc->progress = progress;
    if (best < 0)
        return bfc_fail(BFC_EDIVERGED, "--method twolayer diverged at every learning rate of the "
                                       "grid; give a smaller --lr");
    tc->opt.lr = twolayer_lrs[best];
    return BFC_OK;
}

/* The learner and ridge configurations of --method entk. */
static void entk_configs(const fit_args *a, bfc_learner_config *lc, bfc_entk_ridge_config *rc)
{
    bfc_learner_defaults(lc);
    lc->seed = a->p.seed;
    if (a->init_scale > 0) lc->init_scale = a->init_scale;
    bfc_entk_ridge_defaults(rc);
    rc->ridge = a->ridge;
    rc->seed = a->p.seed;
    if (a->select_max) rc->select_max = a->select_max;
}

/* entk, seqkernel and twolayer: methods built on the learner's graph or trained by SGD. */
static int fit_learned(const fit_args *a, const bfc_target *t, const bfc_data *train,
                       const bfc_data *test, double t0, double c0)
{
    const bfc_target_config *c = bfc_target_config_of(t);
    double *pred = bfc_alloc_d((size_t)test->n);
    double err = NAN, fe[BFC_MAX_L + 1] = {0};
    int st = pred ? BFC_OK : bfc_fail(BFC_ENOMEM, "out of memory for predictions");
    bfc_seqk_model *sk = NULL;
    bfc_twolayer_result tr;
    memset(&tr, 0, sizeof tr);
    tr.test_error = tr.test_error_bulk = tr.train_error = NAN; /* measured only if trained */
    double chosen_lr = NAN, lr_val[TWOLAYER_NLR];
    for (int i = 0; i < TWOLAYER_NLR; i++) lr_val[i] = NAN;
    int seq = a->kind == FIT_SEQKERNEL, entk = a->kind == FIT_ENTK;
    bfc_entk_ridge_report er;
    memset(&er, 0, sizeof er);
    if (!st && entk) {
        bfc_learner_config lc;
        bfc_entk_ridge_config rc;
        entk_configs(a, &lc, &rc);
        bfc_note(a->p.quiet, "bfc fit: entk, d=%d n=%d; fit and prediction need about %.0f MiB\n",
                 c->d, train->n,
                 (double)bfc_entk_regress_memory_estimate(c, &lc, &rc, train->n, test->n) /
                     1048576.0);
        st = bfc_entk_regress(c, &lc, &rc, 1, train, test->X, test->n, pred, &er);
        if (!st) err = bfc_relative_error(pred, test->g, test->n);
    } else if (!st && seq) {
        bfc_seqk_config sc;
        bfc_seqk_defaults(&sc);
        sc.seed = a->p.seed;
        st = bfc_seqk_fit(&sc, t, train, &sk);
        if (!st) st = bfc_seqk_predict(sk, test->X, test->n, pred);
        if (!st) err = bfc_relative_error(pred, test->g, test->n);
        for (int l = 2; l < c->L && !st; l++)
            st = bfc_seqk_feature_error(sk, t, test->X, test->n, l, &fe[l]);
    } else if (!st) {
        bfc_twolayer_config tc;
        bfc_twolayer_defaults(&tc);
        tc.seed = a->p.seed;
        tc.progress = !a->p.quiet;
        tc.steps = a->steps ? a->steps : 3000 * (c->L - 1);
        if (a->width) tc.width = a->width;
        st = bfc_twolayer_validate(&tc);
        if (!st && a->lr > 0) tc.opt.lr = a->lr;
        else if (!st) st = twolayer_choose_lr(&tc, train, a->p.quiet, lr_val);
        chosen_lr = tc.opt.lr;
        if (!st) st = bfc_twolayer_fit(&tc, train, test, &tr);
        err = tr.test_error;
        if (st == BFC_EDIVERGED) fprintf(stderr, "bfc fit: %s\n", tr.message);
    }
    if (st && st != BFC_EDIVERGED) {
        fprintf(stderr, "bfc fit: %s\n", bfc_last_error());
        bfc_seqk_free(sk);
        bfc_free(pred);
        return bfc_exit_status(st);
    }
    double wall = bfc_wall_seconds() - t0, cpu = bfc_cpu_seconds() - c0;
    bfc_note(a->p.quiet, "bfc fit: %s test error %.4g, %.1fs\n", a->method, err, wall);
    bfc_jw j;
    bfc_jw_init(&j);
    bfc_jw_obj_begin(&j);
    /* twolayer predicts inside bfc_twolayer_fit; the others into pred */
    double bulk = !entk && !seq ? tr.test_error_bulk
                  : st          ? NAN
                                : bfc_relative_error_bulk(pred, test->g, test->n, BFC_BULK_KEEP);
    summary_head(&j, a, NULL, t, train->n, test->n, bfc_status_name(st), err, bulk);
    if (entk) {
        bfc_jw_kv_num(&j, "ridge", er.ridge);
        bfc_jw_kv_num(&j, "ridge_relative", er.ridge_relative);
        bfc_jw_kv_bool(&j, "ridge_chosen", a->ridge <= 0);
        bfc_jw_kv_num(&j, "val_mse", er.val_mse);
        bfc_jw_kv_int(&j, "n_params", (long long)er.n_params);
        bfc_jw_kv_num(&j, "init_scale", a->init_scale > 0 ? a->init_scale : 0.1);
        bfc_jw_kv_num(&j, "f0_rms", er.f0_rms);
        bfc_jw_kv_int(&j, "fallback", er.fallback);
        if (er.fallback) bfc_jw_kv_str(&j, "fallback_what", er.fallback_what);
        bfc_jw_kv_num(&j, "gram_s", er.seconds_gram + er.seconds_gram_test);
    } else if (seq) {
        const bfc_seqk_report *r = bfc_seqk_report_of(sk);
        bfc_jw_key(&j, "feature_error");
        bfc_jw_num_array(&j, fe + 2, (size_t)(c->L > 2 ? c->L - 2 : 0));
        bfc_jw_key(&j, "ridge_per_layer");
        bfc_jw_num_array(&j, r->ridge + 2, (size_t)(c->L - 1));
        bfc_jw_key(&j, "val_error_per_layer");
        bfc_jw_num_array(&j, r->val_error + 2, (size_t)(c->L - 1));
    } else {
        bfc_jw_kv_int(&j, "width", a->width ? a->width : 1024);
        bfc_jw_kv_num(&j, "lr", chosen_lr);
        bfc_jw_kv_bool(&j, "lr_chosen", !(a->lr > 0));
        if (!(a->lr > 0)) {
            bfc_jw_key(&j, "lr_grid");
            bfc_jw_num_array(&j, twolayer_lrs, TWOLAYER_NLR);
            bfc_jw_key(&j, "lr_val_error");
            bfc_jw_num_array(&j, lr_val, TWOLAYER_NLR);
        }
        bfc_jw_kv_int(&j, "steps", tr.steps);
        bfc_jw_kv_num(&j, "train_error", tr.train_error);
        bfc_jw_kv_num(&j, "us_per_step", tr.us_per_step);
        if (tr.message[0]) bfc_jw_kv_str(&j, "message", tr.message);
    }
    bfc_jw_kv_num(&j, "wall_s", wall);
    bfc_jw_kv_num(&j, "cpu_s", cpu);
    bfc_jw_kv_int(&j, "peak_rss_bytes", (long long)bfc_peak_rss_bytes());
    bfc_meta_write(&j);
    bfc_jw_obj_end(&j);
    const char *names[] = {"test_error", "test_error_bulk", "wall_s", "peak_rss_bytes",
                           "feature_error_2"};
    double vals[] = {err, bulk, wall, (double)bfc_peak_rss_bytes(), fe[2]};
    int w = finish_outputs(a, &j, a->method, c, train->n, bfc_status_name(st), names, vals,
                           seq && c->L > 2 ? 5 : 4);
    bfc_jw_free(&j);
    bfc_seqk_free(sk);
    bfc_free(pred);
    return w ? 1 : bfc_exit_status(st);
}

/* The defaults of bfc fit's arguments. */
static void fit_args_init(fit_args *a)
{
    memset(a, 0, sizeof *a);
    bfc_problem_defaults(&a->p);
    strcpy(a->method, "krr");
    strcpy(a->kernel, "poly");
    strcpy(a->act, "relu");
    a->refine_ridge = -1;
}

/* After parsing: finish the problem flags, check that every flag given applies to the
 * method, and for the kernel methods (*is_kernel) build the kernel and the KRR
 * configuration. Touches no file. */
static int fit_args_check(fit_args *a, int *is_kernel, bfc_kernel *kern, bfc_krr_config *kc)
{
    int st = bfc_problem_finish(&a->p);
    int m = 0;
    while (m < FIT_NMETHODS && strcmp(a->method, fit_methods[m].name)) m++;
    if (!st && m == FIT_NMETHODS) {
        char names[256];
        fit_method_names(names, sizeof names);
        st = bfc_fail(BFC_EINVAL, "--method must be %s (got '%s')", names, a->method);
    }
    a->kind = m < FIT_NMETHODS ? fit_methods[m].kind : FIT_KERNEL;
    int isk = m < FIT_NMETHODS && a->kind == FIT_KERNEL;
    if (!st && isk) st = kernel_from_args(a, a->p.target.d, kern);
    if (!st && !isk && (a->kernel_set || a->degree || a->bandwidth2 > 0))
        st = bfc_fail(BFC_EINVAL, "--kernel, --degree and --bandwidth apply to krr, ntk and nngp only");
    if (!st && !isk && a->refine_ridge >= 0)
        st = bfc_fail(BFC_EINVAL, "--refine-ridge applies to krr, ntk and nngp only");
    if (!st && !isk && a->kind != FIT_ENTK && a->ridge > 0)
        st = bfc_fail(BFC_EINVAL, "--ridge applies to krr, ntk, nngp and entk only");
    if (!st && a->kind != FIT_ENTK && a->init_scale > 0)
        st = bfc_fail(BFC_EINVAL, "--init-scale applies to --method entk only");
    if (!st && a->kind != FIT_TWOLAYER && (a->width || a->steps || a->lr > 0))
        st = bfc_fail(BFC_EINVAL, "--width, --steps and --lr apply to --method twolayer only");
    if (!st && isk) {
        bfc_krr_defaults(kc, a->p.target.d);
        kc->kernel = *kern;
        kc->ridge = a->ridge;
        kc->seed = a->p.seed;
        kc->verbose = !a->p.quiet;
        if (a->select_max) kc->select_max = a->select_max;
        if (a->refine_ridge >= 0) kc->refine_ridge = a->refine_ridge;
        kc->bandwidth_select = !(a->bandwidth2 > 0); /* an explicit --bandwidth is kept */
    }
    *is_kernel = isk;
    return st;
}

/* The defaults, then argv's options (argv[1] is "fit"). */
static int fit_args_parse(int argc, char **argv, fit_args *a, int *help)
{
    fit_args_init(a);
    const bfc_opt *tables[] = {bfc_problem_opts, fit_opts, NULL};
    return bfc_opt_parse(argc, argv, 2, tables, fit_opt, a, help, NULL, NULL);
}

int bfc_cmd_fit(int argc, char **argv)
{
    fit_args a;
    const bfc_opt *tables[] = {bfc_problem_opts, fit_opts, NULL};
    int help, st = fit_args_parse(argc, argv, &a, &help);
    if (help) {
        printf("usage: bfc fit --method M [options]\n\n"
               "Fit a baseline of SPEC §3 on the same target and data as 'bfc train' (same\n"
               "flags, same seeds, or the files of 'bfc gen' with --data) and report the\n"
               "relative test error E(f-G*)^2/Var(G*). Kernel methods solve exactly in double\n"
               "precision (Cholesky, with a warning and a fallback on failure); without --ridge\n"
               "the ridge is chosen on a validation split from one eigendecomposition (for\n"
               "rbf/laplace without --bandwidth, the bandwidth with it), then refined by fits on\n"
               "the whole training part when it exceeds --select-max. A run that would not fit\n"
               "in memory is refused before allocating, with the largest n that fits.\n\n"
               "methods:\n");
        bfc_fit_methods_print(stdout);
        printf("\nWith --out DIR: DIR/result.csv (long format, with a status row) and\n"
               "DIR/result.json; a DIR that holds another run's results is refused unless\n"
               "--force, and one run at a time writes in a DIR. twolayer stops when a minibatch\n"
               "loss is not finite or above 1e6 times the first (status diverged, errors of\n"
               "the parameters before that step).\n\n"
               "Exit status: 0 finished, 1 failed, 2 usage error or a run that cannot fit in\n"
               "memory, 3 diverged (twolayer).\n\noptions:\n");
        bfc_opt_print(stdout, tables);
        return 0;
    }
    int is_kernel = 0;
    bfc_kernel kern;
    bfc_krr_config kc;
    if (!st) st = fit_args_check(&a, &is_kernel, &kern, &kc);
    if (!st && is_kernel) {
        /* refuse before drawing any data when the run cannot fit */
        size_t need = bfc_krr_memory_estimate(&kc, a.p.n, a.p.n_test, a.p.target.d);
        size_t lim = bfc_krr_default_mem_limit();
        if (!a.p.data_dir[0] && lim && need > lim)
            st = bfc_fail(BFC_ENOMEM, "--n %d needs about %.0f MiB for kernel ridge regression "
                                      "but %.0f MiB are available; the largest --n that fits is "
                                      "%d", a.p.n, (double)need / 1048576.0,
                          (double)lim / 1048576.0,
                          bfc_krr_largest_n(&kc, a.p.n, a.p.n_test, a.p.target.d, lim));
    }
    if (!st && !strcmp(a.method, "entk") && !a.p.data_dir[0]) {
        bfc_learner_config lc;
        bfc_entk_ridge_config rc;
        entk_configs(&a, &lc, &rc);
        size_t need = bfc_entk_regress_memory_estimate(&a.p.target, &lc, &rc, a.p.n, a.p.n_test);
        size_t lim = bfc_krr_default_mem_limit();
        if (lim && need > lim)
            st = bfc_fail(BFC_ENOMEM, "--n %d needs about %.0f MiB for the eNTK regression but "
                                      "%.0f MiB are available; the largest --n that fits is %d",
                          a.p.n, (double)need / 1048576.0, (double)lim / 1048576.0,
                          bfc_entk_largest_n(&a.p.target, &lc, &rc, a.p.n, a.p.n_test, lim));
    }
    int lock_fd = -1;
    if (!st && a.p.out_dir[0]) st = bfc_out_dir_take(a.p.out_dir, "fit", a.p.force, 0, &lock_fd);
    if (st) {
        fprintf(stderr, "bfc fit: %s\n", bfc_last_error());
        return bfc_exit_status(st);
    }
    if (a.p.threads) bfc_blas_set_threads(a.p.threads); /* else OpenBLAS's own (all cores) */
    double t0 = bfc_wall_seconds(), c0 = bfc_cpu_seconds();
    bfc_target *t = NULL;
    bfc_data train, test;
    if ((st = bfc_problem_load(&a.p, &t, &train, &test))) {
        fprintf(stderr, "bfc fit: %s\n", bfc_last_error());
        bfc_dir_unlock(lock_fd);
        return bfc_exit_status(st);
    }
    if (!is_kernel) {
        st = fit_learned(&a, t, &train, &test, t0, c0);
        bfc_target_free(t);
        bfc_data_free(&train);
        bfc_data_free(&test);
        bfc_dir_unlock(lock_fd);
        return st;
    }
    const bfc_target_config *c = bfc_target_config_of(t);
    char kname[64], method[96];
    bfc_kernel_name(&kern, kname, sizeof kname);
    snprintf(method, sizeof method, "%s:%s", a.method, kname);
    bfc_note(a.p.quiet,
             "bfc fit: %s, d=%d n=%d, BLAS %s x%d; fit and prediction need about %.0f MiB\n", method,
             c->d, train.n, bfc_blas_core(), bfc_blas_threads(),
             (double)bfc_krr_memory_estimate(&kc, train.n, test.n, c->d) / 1048576.0);
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
        bfc_dir_unlock(lock_fd);
        return bfc_exit_status(st);
    }
    double err = bfc_relative_error(pred, test.g, test.n);
    const bfc_krr_report *r = bfc_krr_get_report(model);
    double wall = bfc_wall_seconds() - t0, cpu = bfc_cpu_seconds() - c0;
    const int has_bw = kern.kind == BFC_KERNEL_RBF || kern.kind == BFC_KERNEL_LAPLACE;
    char bw[48] = "";
    if (has_bw) snprintf(bw, sizeof bw, ", s2 %.4g", r->bandwidth2);
    bfc_note(a.p.quiet, "bfc fit: test error %.4g, ridge %.3g (relative %.3g)%s, %.1fs\n", err,
             r->ridge, r->ridge_relative, bw, wall);

    bfc_jw j;
    bfc_jw_init(&j);
    bfc_jw_obj_begin(&j);
    double bulk = bfc_relative_error_bulk(pred, test.g, test.n, BFC_BULK_KEEP);
    summary_head(&j, &a, kname, t, train.n, test.n, "ok", err, bulk);
    bfc_jw_kv_num(&j, "ridge", r->ridge);
    bfc_jw_kv_num(&j, "ridge_relative", r->ridge_relative);
    bfc_jw_kv_bool(&j, "ridge_chosen", r->n_path > 0);
    bfc_jw_kv_num(&j, "val_mse", r->val_mse);
    bfc_jw_kv_int(&j, "n_select", r->n_select);
    bfc_jw_kv_int(&j, "ridge_grid_extended", r->grid_extended);
    bfc_jw_kv_bool(&j, "bandwidth_chosen", r->n_bandwidth > 0);
    if (r->n_bandwidth > 0) {
        bfc_jw_key(&j, "bandwidth_grid");
        bfc_jw_num_array(&j, r->bandwidth_grid, (size_t)r->n_bandwidth);
        bfc_jw_key(&j, "bandwidth_val_mse");
        bfc_jw_num_array(&j, r->bandwidth_val_mse, (size_t)r->n_bandwidth);
    }
    bfc_jw_kv_bool(&j, "ridge_refined", r->n_refine > 0);
    if (r->n_path > 0) {
        bfc_jw_kv_num(&j, "ridge_select", r->ridge_select);
        bfc_jw_kv_num(&j, "val_mse_select", r->val_mse_select);
    }
    if (r->n_refine > 0) {
        bfc_jw_key(&j, "refine_ridge");
        bfc_jw_num_array(&j, r->refine_ridge, (size_t)r->n_refine);
        bfc_jw_key(&j, "refine_val_mse");
        bfc_jw_num_array(&j, r->refine_val_mse, (size_t)r->n_refine);
    }
    bfc_jw_kv_int(&j, "fallback", r->fallback);
    if (r->fallback) bfc_jw_kv_str(&j, "fallback_what", r->fallback_what);
    bfc_jw_key(&j, "kernel_params");
    bfc_jw_obj_begin(&j);
    bfc_jw_kv_int(&j, "degree", kern.degree);
    bfc_jw_kv_num(&j, "scale", kern.scale);
    bfc_jw_kv_num(&j, "offset", kern.offset);
    bfc_jw_kv_num(&j, "bandwidth2", r->bandwidth2); /* the model's: chosen or given */
    bfc_jw_kv_str(&j, "activation", kern.net.activation == BFC_ACT_QUAD ? "quad" : "relu");
    bfc_jw_kv_int(&j, "depth", kern.net.depth);
    bfc_jw_obj_end(&j);
    bfc_jw_kv_num(&j, "wall_s", wall);
    bfc_jw_kv_num(&j, "cpu_s", cpu);
    bfc_jw_kv_num(&j, "select_s", r->seconds_select);
    bfc_jw_kv_num(&j, "refine_s", r->seconds_refine);
    bfc_jw_kv_num(&j, "fit_s", r->seconds_fit);
    bfc_jw_kv_num(&j, "build_s", r->seconds_build);
    bfc_jw_kv_num(&j, "solve_s", r->seconds_solve);
    bfc_jw_kv_num(&j, "predict_s", r->seconds_predict);
    bfc_jw_kv_num(&j, "cholesky_gflops", r->gflops_cholesky);
    bfc_jw_kv_int(&j, "memory_estimate_bytes", (long long)r->bytes_estimate);
    bfc_jw_kv_int(&j, "peak_rss_bytes", (long long)bfc_peak_rss_bytes());
    bfc_meta_write(&j);
    bfc_jw_obj_end(&j);
    const char *names[] = {"test_error", "test_error_bulk", "ridge", "wall_s", "peak_rss_bytes",
                           "bandwidth2"};
    double vals[] = {err, bulk, r->ridge, wall, (double)bfc_peak_rss_bytes(), r->bandwidth2};
    st = finish_outputs(&a, &j, method, c, train.n, "ok", names, vals, has_bw ? 6 : 5);
    bfc_jw_free(&j);
    bfc_krr_free(model);
    bfc_free(pred);
    bfc_target_free(t);
    bfc_data_free(&train);
    bfc_data_free(&test);
    bfc_dir_unlock(lock_fd);
    return st ? 1 : 0;
}

int bfc_cmd_fit_check(int argc, char **argv)
{
    fit_args a;
    int help, st = fit_args_parse(argc, argv, &a, &help);
    int is_kernel = 0;
    bfc_kernel kern;
    bfc_krr_config kc;
    if (!st) st = fit_args_check(&a, &is_kernel, &kern, &kc);
    return st;
}
