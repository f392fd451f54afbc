/* cmd_train.c: `bfc gen` (a target and its data sets, saved) and `bfc train` (the learner
 * under one schedule, with the training curve, the summary JSON and long-format CSV). */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blas.h"
#include "cli.h"
#include "commands.h"
#include "fsutil.h"
#include "learner.h"
#include "train.h"

/* ---- bfc gen ------------------------------------------------------------------------- */

static int gen_opt(void *ctx, const char *name, const char *val)
{
    int r = bfc_problem_option(ctx, name, val);
    return r < 0 ? -r : BFC_OK;
}

static void print_shares(FILE *f, const bfc_target *t)
{
    const bfc_target_config *c = bfc_target_config_of(t);
    fprintf(f, "layer shares v_l = Var(alpha_l |S*_l|^2)/Var(G*):");
    for (int l = 2; l <= c->L; l++) fprintf(f, "  v_%d = %.4g", l, bfc_target_share(t, l));
    fprintf(f, "  (Var G* = %.4g)\n", bfc_target_variance(t));
}

/* ---- gen's output: written in DIR.tmp, renamed to DIR when complete ---- */

/* The files bfc gen writes (and their temporaries): target.json, W_<l>_<j>.npy,
 * {train,test}_{x,y,g}.npy. */
static int is_gen_file(const char *name)
{
    const char *tmp = strstr(name, ".tmp.");
    size_t n = bfc_is_temporary(name) ? (size_t)(tmp - name) : strlen(name);
    if (n == 11 && !strncmp(name, "target.json", 11)) return 1;
    return n > 4 && !strncmp(name + n - 4, ".npy", 4) &&
           (!strncmp(name, "W_", 2) || !strncmp(name, "train_", 6) || !strncmp(name, "test_", 5));
}

static int is_gen_output(const char *name) { return is_gen_file(name) || !strcmp(name, ".lock"); }

static int is_foreign(const char *name)
{
    return strcmp(name, ".") && strcmp(name, "..") && !is_gen_output(name);
}

typedef struct {
    char out[4096], stage[4100]; /* DIR (without a trailing '/') and DIR.tmp */
    int out_exists;
    int lock_stage, lock_out; /* descriptors of bfc_dir_lock, −1 if not held */
} gen_dirs;

/* Lock DIR.tmp (two gens into one DIR: the second is refused, naming the first) and DIR if
 * it exists (a run writing there), and refuse a DIR that holds a target unless force, or
 * anything gen did not write even then. Clears what a killed gen left in DIR.tmp. */
static int gen_dirs_begin(gen_dirs *g, const char *out, int force)
{
    struct stat sb;
    char found[512];
    size_t n = strlen(out);
    while (n > 1 && out[n - 1] == '/') n--;
    g->lock_stage = g->lock_out = -1;
    if (n + 5 > sizeof g->out) return bfc_fail(BFC_EINVAL, "--out: path too long");
    memcpy(g->out, out, n);
    g->out[n] = '\0';
    snprintf(g->stage, sizeof g->stage, "%s.tmp", g->out);
    g->out_exists = stat(g->out, &sb) == 0;
    if (g->out_exists && !S_ISDIR(sb.st_mode))
        return bfc_fail(BFC_EINVAL, "--out %s exists and is not a directory", g->out);
    int st = bfc_out_dir_check(g->stage);
    if (!st) st = bfc_dir_lock(g->stage, "bfc gen", 0, &g->lock_stage);
    if (!st && g->out_exists) st = bfc_dir_lock(g->out, "bfc gen", 0, &g->lock_out);
    if (!st && g->out_exists && bfc_dir_list(g->out, is_foreign, found, sizeof found))
        st = bfc_fail(BFC_EINVAL, "%s holds files that bfc gen did not write (%s): choose another "
                                  "--out",
                      g->out, found);
    if (!st && g->out_exists && !force && bfc_dir_list(g->out, is_gen_file, found, sizeof found))
        st = bfc_fail(BFC_EINVAL, "%s holds a target already (%s): give --force to replace it, "
                                  "or another --out",
                      g->out, found);
    if (!st && bfc_dir_list(g->stage, is_foreign, found, sizeof found))
        st = bfc_fail(BFC_EINVAL, "%s holds files that bfc gen did not write (%s)", g->stage, found);
    if (!st) st = bfc_dir_remove(g->stage, is_gen_file); /* a killed gen's */
    return st;
}

/* Remove a staging directory's files (gen's only) and the directory. */
static int gen_remove_stage(const gen_dirs *g)
{
    int st = bfc_dir_remove(g->stage, is_gen_output);
    if (!st && rmdir(g->stage) != 0)
        st = bfc_fail(BFC_EIO, "cannot remove %s: %s", g->stage, strerror(errno));
    return st;
}

/* Complete: DIR.tmp becomes DIR in one rename (exchanged with an old DIR, then removed). */
static int gen_dirs_publish(gen_dirs *g)
{
    int st = BFC_OK;
    if (!g->out_exists) {
        if (rename(g->stage, g->out) != 0)
            st = bfc_fail(BFC_EIO, "cannot rename %s to %s: %s", g->stage, g->out, strerror(errno));
    } else if (renameat2(AT_FDCWD, g->stage, AT_FDCWD, g->out, RENAME_EXCHANGE) == 0) {
        st = gen_remove_stage(g); /* now the old DIR */
    } else { /* a file system without exchange: the old files go first */
        st = bfc_dir_remove(g->out, is_gen_output);
        if (!st && (rmdir(g->out) != 0 || rename(g->stage, g->out) != 0))
            st = bfc_fail(BFC_EIO, "cannot replace %s by %s: %s", g->out, g->stage, strerror(errno));
    }
    return st;
}

static void gen_dirs_end(gen_dirs *g, int failed)
{
    if (failed && g->lock_stage >= 0) (void)gen_remove_stage(g);
    bfc_dir_unlock(g->lock_out);
    bfc_dir_unlock(g->lock_stage);
}

int bfc_cmd_gen(int argc, char **argv)
{
    bfc_problem p;
    bfc_problem_defaults(&p);
    const bfc_opt *tables[] = {bfc_problem_opts, NULL};
    int help, st = bfc_opt_parse(argc, argv, 2, tables, gen_opt, &p, &help, NULL, NULL);
    if (help) {
        printf("usage: bfc gen [options] --out DIR\n\n"
               "Draw a hierarchical target (SPEC §1) and its training and test sets, and save\n"
               "them in DIR: target.json (configuration, alpha, standardisation constants,\n"
               "shares), W_<l>_<j>.npy, train_{x,y,g}.npy, test_{x,y,g}.npy (NumPy format;\n"
               "y = labels as a learner sees them, g = noiseless G*). Any bfc command reads\n"
               "them back with --data DIR. The files are written in DIR.tmp, which becomes DIR\n"
               "once complete: DIR is complete or absent. A DIR that holds a target is refused\n"
               "unless --force; one that holds files gen did not write, always.\n\noptions:\n");
        bfc_opt_print(stdout, tables);
        return 0;
    }
    if (!st) st = bfc_problem_finish(&p);
    if (!st && !p.out_dir[0]) st = bfc_fail(BFC_EINVAL, "needs --out DIR");
    if (!st && p.data_dir[0]) st = bfc_fail(BFC_EINVAL, "--data is not allowed (gen draws the data)");
    gen_dirs g;
    memset(&g, 0, sizeof g);
    g.lock_stage = g.lock_out = -1;
    if (!st) st = gen_dirs_begin(&g, p.out_dir, p.force);
    if (st) {
        fprintf(stderr, "bfc gen: %s\n", bfc_last_error());
        gen_dirs_end(&g, 1);
        return bfc_exit_status(st);
    }
    bfc_blas_set_threads(p.threads ? p.threads : 1);
    double t0 = bfc_wall_seconds();
    bfc_target *t;
    bfc_data train, test;
    if ((st = bfc_problem_load(&p, &t, &train, &test))) {
        fprintf(stderr, "bfc gen: %s\n", bfc_last_error());
        gen_dirs_end(&g, 1);
        return bfc_exit_status(st);
    }
    if ((st = bfc_target_save(t, g.stage)) || (st = bfc_data_save(&train, g.stage, "train")) ||
        (st = bfc_data_save(&test, g.stage, "test")) || (st = gen_dirs_publish(&g))) {
        fprintf(stderr, "bfc gen: %s\n", bfc_last_error());
    } else if (!p.quiet) {
        fprintf(stderr, "bfc gen: wrote target, %d training and %d test points to %s (%.1fs)\n",
                train.n, test.n, g.out, bfc_wall_seconds() - t0);
        print_shares(stderr, t);
    }
    gen_dirs_end(&g, st != BFC_OK);
    if (!st && p.json) {
        bfc_jw j;
        bfc_jw_init(&j);
        bfc_jw_obj_begin(&j);
        bfc_target_describe(t, &j);
        bfc_jw_kv_int(&j, "n", train.n);
        bfc_jw_kv_int(&j, "n_test", test.n);
        bfc_jw_kv_str(&j, "out", p.out_dir);
        bfc_jw_obj_end(&j);
        printf("%s\n", j.buf);
        bfc_jw_free(&j);
    }
    bfc_data_free(&train);
    bfc_data_free(&test);
    bfc_target_free(t);
    return st ? 1 : 0;
}

/* ---- bfc train ----------------------------------------------------------------------- */

typedef struct {
    bfc_problem p;
    bfc_learner_config lc;
    bfc_train_config tc;
} train_args;

/* the problem's options are stored by their offsets in bfc_problem */
_Static_assert(offsetof(train_args, p) == 0, "train_args must start with its bfc_problem");

#define A train_args
static const bfc_opt train_opts[] = {
    {"schedule", 1, "S", "e2e (default), layerwise, joint, depth=D (backward depth D), refit or "
                         "featonly (see above)", BFC_OPT_CB},
    {"steps", 1, "T", "steps per stage (default 3000; joint runs T*(L-1) steps)",
     BFC_OPT_I(A, tc.steps, 1, 100000000)},
    {"batch", 1, "B", "minibatch size (default 256)", BFC_OPT_I(A, tc.batch, 1, 65536)},
    {"optimizer", 1, "O", "adam (default) or sgd (with momentum)", BFC_OPT_CB},
    {"lr", 1, "ETA", "peak learning rate (default 3e-3 for adam, 1e-2 for sgd)",
     BFC_OPT_D(A, tc.opt.lr, 1e-12, 1e3)},
    {"momentum", 1, "MU", "SGD momentum (default 0.9)",
     BFC_OPT_D(A, tc.opt.momentum, 0, 0.999999)},
    {"no-cosine", 0, "", "constant learning rate instead of cosine decay within each stage", BFC_OPT_CB},
    {"clip", 1, "C", "clip the gradient's global norm to C (default 0 = off)",
     BFC_OPT_D(A, tc.opt.clip, 0, 1e12)},
    {"clamp", 1, "B", "clamp every sigma input of the learner to [-B, B] (default 0 = off)",
     BFC_OPT_D(A, lc.clamp, 0, 1e12)},
    {"lambda-tie", 1, "X", "weight of the tie |K^T K - W^T W|^2 (default 1)",
     BFC_OPT_D(A, lc.lambda_tie, 0, 1e12)},
    {"lambda-tie-last", 1, "X", "lambda-tie in the last stage only (default: --lambda-tie; 0 "
                                "switches the tie off in the top stage)",
     BFC_OPT_D(A, tc.lambda_tie_last, 0, 1e12)},
    {"lambda-wd", 1, "X", "weight decay (default 0)", BFC_OPT_D(A, lc.lambda_wd, 0, 1e12)},
    {"m", 1, "M", "width of every output branch (default 2 * dim h_l)",
     BFC_OPT_I(A, lc.m, 1, 100000)},
    {"width-mult", 1, "X", "output width m_l = X * dim h_l (default 2)",
     BFC_OPT_D(A, lc.width_mult, 1e-3, 64)},
    {"p-extra", 1, "P", "rows of R_j beyond k(k+1)/2 (default 2)", BFC_OPT_I(A, lc.p_extra, 0, 1000)},
    {"init-scale", 1, "X", "initial weights N(0, X^2/fan_in) (default 0.1)",
     BFC_OPT_D(A, lc.init_scale, 1e-12, 1e3)},
    {"precision", 1, "P", "double (default) or single (forward and backward in float; the "
                          "optimiser state stays double)", BFC_OPT_CB},
    {"eval-every", 1, "N", "evaluate on the test set every N steps (default 100)",
     BFC_OPT_I(A, tc.eval_every, 1, 100000000)},
    {"checkpoint-every", 1, "N", "with --out: also checkpoint every N steps (default: at stage "
                                 "ends and on Ctrl-C/SIGTERM)",
     BFC_OPT_L(A, tc.checkpoint_every, 1, 1000000000L)},
    {"resume", 0, "", "continue the interrupted run in --out DIR from its checkpoint (same flags)",
     BFC_OPT_F(A, tc.resume)},
    BFC_OPT_END};
#undef A

/* The options the table cannot store: the problem's and a few parsed by the library. */
static int train_opt(void *ctx, const char *name, const char *val)
{
    train_args *a = ctx;
    int r = bfc_problem_option(&a->p, name, val);
    if (r < 0) return -r;
    if (r > 0) return BFC_OK;
    bfc_train_config *t = &a->tc;
    if (!strcmp(name, "schedule")) return bfc_schedule_parse(val, &t->schedule, &t->depth);
    if (!strcmp(name, "optimizer")) return bfc_optim_parse(val, &t->opt.kind);
    if (!strcmp(name, "no-cosine")) {
        t->opt.cosine = 0;
        return BFC_OK;
    }
    if (!strcmp(name, "precision")) return bfc_precision_parse(val, &a->lc.precision);
    return bfc_fail(BFC_EINVAL, "unhandled option --%s", name);
}

/* The training curve is kept in memory and written atomically to curve.csv at every
 * checkpoint and at the end, so the file on disk always matches the latest checkpoint. */
typedef struct {
    FILE *f; /* memory stream */
    char *buf;
    size_t len;
    int L;
    char path[4096];
    int failed;
} curve_ctx;

/* failed: whether the latest save failed (a later one that succeeds clears it) */
static void curve_save(void *ctx)
{
    curve_ctx *c = ctx;
    if (!c->f) return;
    fflush(c->f);
    c->failed = bfc_write_file_atomic(c->path, c->buf, c->len) != BFC_OK;
}

static void curve_log(const bfc_train_point *pt, void *ctx)
{
    curve_ctx *c = ctx;
    if (!c->f) return;
    fprintf(c->f, "%d,%d,%ld,%.6g,%.10g,%.10g", pt->stage, pt->step, pt->global_step, pt->lr,
            pt->loss, pt->test_error);
    for (int l = 2; l < c->L; l++) fprintf(c->f, ",%.10g", pt->feature_error[l]);
    fprintf(c->f, ",%.4f\n", pt->wall_s);
}

static void summary_json(bfc_jw *j, const train_args *a, const bfc_target *t,
                         const bfc_learner *lr, const bfc_train_result *r, int n, int n_test,
                         int status)
{
    const bfc_target_config *c = bfc_target_config_of(t);
    char sched[32];
    bfc_jw_obj_begin(j);
    bfc_jw_kv_str(j, "method", "learner");
    bfc_jw_kv_str(j, "schedule", bfc_schedule_name(a->tc.schedule, a->tc.depth, sched, sizeof sched));
    bfc_jw_kv_int(j, "d", c->d);
    bfc_jw_kv_int(j, "L", c->L);
    bfc_jw_key(j, "k");
    bfc_jw_int_array(j, c->k + 2, (size_t)(c->L - 1));
    bfc_jw_kv_int(j, "n", n);
    bfc_jw_kv_int(j, "n_test", n_test);
    bfc_jw_kv_int(j, "seed", (long long)a->p.seed);
    bfc_jw_kv_int(j, "target_seed", (long long)c->seed);
    bfc_jw_kv_str(j, "status", bfc_status_name(status));
    if (r->message[0]) bfc_jw_kv_str(j, "message", r->message);
    if (r->ckpt_failed) {
        bfc_jw_kv_int(j, "checkpoint_failures", r->ckpt_failed);
        bfc_jw_kv_str(j, "checkpoint_error", r->ckpt_error);
    }
    bfc_jw_kv_num(j, "test_error", r->test_error);
    bfc_jw_kv_num(j, "test_error_bulk", r->test_error_bulk);
    if (c->task == BFC_TASK_CLASSIFICATION) bfc_jw_kv_num(j, "class_error", r->class_error);
    double sh[BFC_MAX_L];
    for (int l = 2; l <= c->L; l++) sh[l - 2] = bfc_target_share(t, l);
    bfc_jw_key(j, "shares");
    bfc_jw_num_array(j, sh, (size_t)(c->L - 1));
    bfc_jw_key(j, "feature_error");
    bfc_jw_num_array(j, r->feature_error + 2, (size_t)(c->L > 2 ? c->L - 2 : 0));
    /* one entry per planned stage; a stage not finished is null (nothing was measured) */
    bfc_jw_key(j, "stage_top");
    bfc_jw_int_array(j, r->stage_top, (size_t)r->n_stages);
    bfc_jw_kv_int(j, "stages_done", r->stages_done);
    bfc_jw_key(j, "feature_error_end_of_stage");
    bfc_jw_arr_begin(j);
    for (int s = 0; s < r->n_stages; s++) {
        if (s < r->stages_done)
            bfc_jw_num_array(j, r->fe_end_of_stage[s] + 2, (size_t)(c->L > 2 ? c->L - 2 : 0));
        else
            bfc_jw_null(j);
    }
    bfc_jw_arr_end(j);
    bfc_jw_key(j, "test_error_end_of_stage");
    bfc_jw_arr_begin(j);
    for (int s = 0; s < r->n_stages; s++) {
        if (s < r->stages_done) bfc_jw_num(j, r->test_error_end_of_stage[s]);
        else bfc_jw_null(j);
    }
    bfc_jw_arr_end(j);
    bfc_jw_kv_int(j, "steps", r->steps);
    bfc_jw_kv_int(j, "steps_per_stage", a->tc.steps);
    bfc_jw_kv_int(j, "batch", a->tc.batch);
    bfc_jw_kv_str(j, "optimizer", bfc_optim_name(a->tc.opt.kind));
    bfc_jw_kv_num(j, "lr", a->tc.opt.lr);
    bfc_jw_kv_bool(j, "cosine", a->tc.opt.cosine);
    bfc_jw_kv_num(j, "clip", a->tc.opt.clip);
    bfc_jw_kv_num(j, "clamp", a->lc.clamp);
    bfc_jw_kv_num(j, "lambda_tie", a->lc.lambda_tie);
    bfc_jw_kv_num(j, "lambda_tie_last_stage",
                  a->tc.lambda_tie_last >= 0 ? a->tc.lambda_tie_last : a->lc.lambda_tie);
    bfc_jw_kv_num(j, "lambda_wd", a->lc.lambda_wd);
    bfc_jw_kv_str(j, "precision", bfc_precision_name(a->lc.precision));
    bfc_jw_key(j, "m");
    {
        int ms[BFC_MAX_L];
        for (int l = 2; l <= c->L; l++) ms[l - 2] = bfc_learner_width(lr, l);
        bfc_jw_int_array(j, ms, (size_t)(c->L - 1));
    }
    bfc_jw_kv_int(j, "n_params", (long long)bfc_learner_nparams(lr));
    bfc_jw_kv_num(j, "wall_s", r->wall_s);
    bfc_jw_kv_num(j, "cpu_s", r->cpu_s);
    bfc_jw_kv_num(j, "train_s", r->train_s);
    bfc_jw_kv_num(j, "us_per_step", r->us_per_step);
    bfc_jw_kv_num(j, "step_gflops", r->train_s > 0 ? r->step_flops * 1e-3 / r->us_per_step : 0.0);
    bfc_jw_kv_int(j, "peak_rss_bytes", (long long)bfc_peak_rss_bytes());
    bfc_jw_key(j, "target");
    bfc_jw_obj_begin(j);
    bfc_target_describe(t, j);
    bfc_jw_obj_end(j);
    bfc_meta_write(j);
    bfc_jw_obj_end(j);
}

/* Only what was measured: the run's status first, end-of-stage rows for finished stages. */
static int write_result_csv(const char *path, const train_args *a, const bfc_target *t,
                            const bfc_train_result *r, int n, int status)
{
    const bfc_target_config *c = bfc_target_config_of(t);
    char sched[32], name[64];
    bfc_result_csv w;
    int st = bfc_result_csv_open(&w, path, bfc_schedule_name(a->tc.schedule, a->tc.depth, sched,
                                                             sizeof sched),
                                 c, n, a->p.seed);
    if (st) return st;
    bfc_result_csv_status(&w, bfc_status_name(status));
    bfc_result_csv_row(&w, "test_error", r->test_error);
    bfc_result_csv_row(&w, "test_error_bulk", r->test_error_bulk);
    for (int l = 2; l < c->L; l++) {
        snprintf(name, sizeof name, "feature_error_%d", l);
        bfc_result_csv_row(&w, name, r->feature_error[l]);
    }
    for (int s = 0; s < r->stages_done; s++)
        for (int l = 2; l < c->L; l++) {
            snprintf(name, sizeof name, "feature_error_%d_stage_%d", l, r->stage_top[s]);
            bfc_result_csv_row(&w, name, r->fe_end_of_stage[s][l]);
        }
    for (int l = 2; l <= c->L; l++) {
        snprintf(name, sizeof name, "share_%d", l);
        bfc_result_csv_row(&w, name, bfc_target_share(t, l));
    }
    bfc_result_csv_row(&w, "wall_s", r->wall_s);
    bfc_result_csv_row(&w, "us_per_step", r->us_per_step);
    bfc_result_csv_row(&w, "steps", (double)r->steps);
    return bfc_result_csv_commit(&w);
}

/* --resume needs the checkpoint of an unfinished run in dir; a finished run (its checkpoint
 * removed, its results written) has nothing to resume. */
static int resume_check(const char *dir)
{
    char path[4096];
    int st = bfc_path_join(path, sizeof path, dir, "checkpoint.bin");
    if (st || access(path, F_OK) == 0) return st;
    if (!bfc_path_join(path, sizeof path, dir, "result.json") && access(path, F_OK) == 0)
        return bfc_fail(BFC_EINVAL, "nothing to resume: the run finished (%s); --force without "
                                    "--resume runs it anew",
                        path);
    return bfc_fail(BFC_EINVAL, "nothing to resume: %s holds no checkpoint (checkpoint.bin) of "
                                "an interrupted run",
                    dir);
}

/* The run's identity for --resume: FNV-1a over the resolved configuration, as whole
 * structures in one table of (pointer, bytes) like the checkpoint's parts: the target's
 * configuration as loaded, the learner's, the training's (optimiser included), the data's
 * sizes and directory. Whole structures, so that a field added to any of them is part of the
 * identity without being listed here; only what cannot change the run's numbers is blanked
 * first (where the checkpoint goes and how often, progress, the stop flag). The structures
 * come from memset-and-fill defaults, so their padding bytes are zero. */
static uint64_t config_hash(const train_args *a, const bfc_target_config *c, int n, int n_test)
{
    bfc_train_config tc;
    memcpy(&tc, &a->tc, sizeof tc);
    tc.progress = 0;
    tc.stop = NULL;
    tc.checkpoint = NULL;
    tc.checkpoint_every = 0;
    tc.resume = 0;
    tc.config_hash = 0;
    tc.on_checkpoint = NULL;
    const struct {
        const void *p;
        size_t n;
    } parts[] = {{c, sizeof *c},
                 {&a->lc, sizeof a->lc},
                 {&tc, sizeof tc},
                 {&n, sizeof n},
                 {&n_test, sizeof n_test},
                 {a->p.data_dir, strlen(a->p.data_dir)}};
    uint64_t h = BFC_FNV1A64_INIT;
    for (size_t k = 0; k < sizeof parts / sizeof parts[0]; k++)
        h = bfc_fnv1a64(h, parts[k].p, parts[k].n);
    return h;
}

/* After parsing: the problem's flags resolved, the optimiser's default learning rate, the
 * seeds; then the training configuration validated, against the problem's L and n when they
 * are known now (without --data; with --data, once the data are loaded). The command and
 * the fuzz harness both call this. */
static int train_args_finish(train_args *a)
{
    int st = bfc_problem_finish(&a->p);
    bfc_optim_resolve(&a->tc.opt);
    a->tc.seed = a->p.seed;
    a->lc.seed = a->p.seed;
    a->tc.progress = !a->p.quiet;
    if (!st && !a->p.data_dir[0]) st = bfc_train_validate(&a->tc, a->p.target.L, a->p.n);
    return st;
}

/* The defaults, then argv's options (argv[1] is "train"). */
static int train_args_parse(int argc, char **argv, train_args *a, int *help)
{
    memset(a, 0, sizeof *a);
    bfc_problem_defaults(&a->p);
    bfc_learner_defaults(&a->lc);
    bfc_train_defaults(&a->tc);
    const bfc_opt *tables[] = {bfc_problem_opts, train_opts, NULL};
    return bfc_opt_parse(argc, argv, 2, tables, train_opt, a, help, NULL, NULL);
}

int bfc_cmd_train(int argc, char **argv)
{
    train_args a;
    const bfc_opt *tables[] = {bfc_problem_opts, train_opts, NULL};
    int help, st = train_args_parse(argc, argv, &a, &help);
    if (help) {
        printf("usage: bfc train [options]\n\n"
               "Train the paper's learner (SPEC §2) on a hierarchical target under one schedule\n"
               "and report the relative test error E(F-G*)^2/Var(G*) and the feature error of\n"
               "layers 2..L-1 (evaluated every --eval-every steps). Defaults run the SPEC §6\n"
               "configuration: d=20, L=3, k=3, gap 0.1, n=20000, Adam 3e-3 cosine, 3000\n"
               "steps per stage, batch 256.\n\n"
               "Schedules: stages l = 2..L, in stage l the output uses layers 2..l. e2e trains\n"
               "every layer's W_j and K_j, layerwise only W_l and K_l, depth=D layers\n"
               "max(2, l-D)..l; joint trains everything from step 0 for T*(L-1) steps. The\n"
               "mechanism ablation: refit trains layer l and the lower output branches W_j\n"
               "(j < l) with the lower features K_j frozen; featonly trains layer l and the\n"
               "K_j with the W_j frozen. The tie |K_j^T K_j - W_j^T W_j|^2 of a pair with one\n"
               "side frozen stays in the objective, the frozen side a constant: its gradient\n"
               "flows only into the trained side (it pulls that side's quadratic form towards\n"
               "the frozen one). --lambda-tie-last 0 switches the tie off in the last stage.\n\n"
               "With --out DIR: DIR/curve.csv (stage, step, loss, test error, feature errors),\n"
               "DIR/result.csv (long format), DIR/result.json (summary, configuration, BLAS).\n"
               "Both carry the run's status (ok, diverged, interrupted) and only what was\n"
               "measured: a stage not finished has no end-of-stage rows (null in the JSON).\n"
               "Ctrl-C stops after the current step and still writes the results. One run at a\n"
               "time writes in a DIR; a DIR that holds another run's results is refused unless\n"
               "--force (which removes them first), one with an interrupted run's checkpoint\n"
               "is continued by --resume.\n\n"
               "Divergence: a minibatch objective that is not finite or above 1e6 times the\n"
               "first step's stops training; the results are measured on the parameters\n"
               "before that step and marked \"status\":\"diverged\".\n\n"
               "Exit status: 0 finished, 1 failed, 2 usage error, 3 diverged, 130 interrupted.\n\n"
               "options:\n");
        bfc_opt_print(stdout, tables);
        return 0;
    }
    if (!st) st = train_args_finish(&a);
    if (!st && a.tc.resume && !a.p.out_dir[0])
        st = bfc_fail(BFC_EINVAL, "--resume needs --out DIR (the directory of the interrupted run)");
    if (!st && a.tc.resume && a.p.force)
        st = bfc_fail(BFC_EINVAL, "--resume continues the run in --out and --force would replace "
                                  "it: give one of them");
    int lock_fd = -1;
    if (!st && a.tc.resume) st = resume_check(a.p.out_dir);
    if (!st && a.p.out_dir[0])
        st = bfc_out_dir_take(a.p.out_dir, "train", a.p.force, a.tc.resume, &lock_fd);
    if (st) {
        fprintf(stderr, "bfc train: %s\n", bfc_last_error());
        bfc_dir_unlock(lock_fd);
        return bfc_exit_status(st);
    }
    bfc_blas_set_threads(a.p.threads ? a.p.threads : 1); /* tiny GEMMs: one thread */
    a.tc.stop = bfc_install_stop_handler();

    bfc_target *t = NULL;
    bfc_data train, test;
    curve_ctx cc = {NULL, NULL, 0, 0, "", 0};
    if ((st = bfc_problem_load(&a.p, &t, &train, &test))) {
        fprintf(stderr, "bfc train: %s\n", bfc_last_error());
        bfc_dir_unlock(lock_fd);
        return bfc_exit_status(st);
    }
    const bfc_target_config *c = bfc_target_config_of(t);
    bfc_learner *lr = NULL;
    if (a.p.data_dir[0] && (st = bfc_train_validate(&a.tc, c->L, train.n))) {
        fprintf(stderr, "bfc train: %s\n", bfc_last_error());
        goto out;
    }
    int bmax = a.tc.batch > 1024 ? a.tc.batch : 1024;
    lr = bfc_learner_new(c, &a.lc, bmax, &st);
    if (!lr) {
        fprintf(stderr, "bfc train: %s\n", bfc_last_error());
        st = st == BFC_ENOMEM ? st : BFC_EINVAL; /* a configuration it cannot build */
        goto out;
    }
    char sched[32];
    bfc_note(a.p.quiet, "bfc train: %s, d=%d L=%d n=%d seed=%llu, %zu parameters%s, BLAS %s x%d\n",
             bfc_schedule_name(a.tc.schedule, a.tc.depth, sched, sizeof sched), c->d, c->L,
             train.n, (unsigned long long)a.p.seed, bfc_learner_nparams(lr),
             a.lc.precision == BFC_PRECISION_SINGLE ? " (single precision)" : "",
             bfc_blas_core(), bfc_blas_threads());

    cc.L = c->L;
    char path[4096];
    if (a.p.out_dir[0]) {
        if ((st = bfc_path_join(cc.path, sizeof cc.path, a.p.out_dir, "curve.csv")) ||
            (st = bfc_path_join(path, sizeof path, a.p.out_dir, "checkpoint.bin"))) {
            fprintf(stderr, "bfc train: %s\n", bfc_last_error());
            goto out;
        }
        cc.f = open_memstream(&cc.buf, &cc.len);
        if (!cc.f) {
            st = bfc_fail(BFC_ENOMEM, "out of memory for the training curve");
            fprintf(stderr, "bfc train: %s\n", bfc_last_error());
            goto out;
        }
        if (a.tc.resume) { /* continue the curve, cut back to the checkpoint */
            long done = 0;
            size_t n = 0;
            char *old = NULL;
            if ((st = bfc_train_checkpoint_steps(path, &done)) ||
                !(old = bfc_read_file(cc.path, &n))) {
                fprintf(stderr, "bfc train: %s\n", bfc_last_error());
                st = st ? st : BFC_EIO;
                goto out;
            }
            for (char *line = old, *end; *line; line = end) {
                end = strchr(line, '\n');
                end = end ? end + 1 : line + strlen(line);
                const char *third = strchr(line, ',');
                third = third ? strchr(third + 1, ',') : NULL;
                long gs = third ? strtol(third + 1, NULL, 10) : 0;
                if (line == old || gs <= done) fwrite(line, 1, (size_t)(end - line), cc.f);
            }
            free(old);
        } else {
            fprintf(cc.f, "stage,step,global_step,lr,loss,test_error");
            for (int l = 2; l < c->L; l++) fprintf(cc.f, ",fe_%d", l);
            fprintf(cc.f, ",wall_s\n");
        }
        a.tc.checkpoint = path;
        a.tc.on_checkpoint = curve_save;
    }
    a.tc.config_hash = config_hash(&a, c, train.n, test.n);
    bfc_train_result res;
    int tst = bfc_train(lr, t, &train, &test, &a.tc, curve_log, &cc, &res);
    if (tst && tst != BFC_EDIVERGED && tst != BFC_EINTR) {
        fprintf(stderr, "bfc train: %s\n", bfc_last_error());
        st = tst;
        goto out;
    }
    if (res.message[0]) fprintf(stderr, "bfc train: %s\n", res.message);
    if (res.ckpt_failed)
        fprintf(stderr, "bfc train: warning: %d checkpoint%s could not be written (latest: %s)\n",
                res.ckpt_failed, res.ckpt_failed > 1 ? "s" : "", res.ckpt_error);
    bfc_note(a.p.quiet, "bfc train: test error %.4g", res.test_error);
    for (int l = 2; l < c->L; l++) bfc_note(a.p.quiet, ", feature error %d: %.3g", l, res.feature_error[l]);
    bfc_note(a.p.quiet, "; %ld steps in %.2fs (%.1f us/step)\n", res.steps, res.wall_s, res.us_per_step);

    bfc_jw j;
    bfc_jw_init(&j);
    summary_json(&j, &a, t, lr, &res, train.n, test.n, tst);
    if (a.p.out_dir[0]) {
        char ckpt[4096];
        memcpy(ckpt, path, sizeof ckpt);
        curve_save(&cc);
        int w = cc.failed ? BFC_EIO : BFC_OK;
        if (!w && !(w = bfc_path_join(path, sizeof path, a.p.out_dir, "result.json")))
            w = bfc_jw_write_file(&j, path);
        if (!w && !(w = bfc_path_join(path, sizeof path, a.p.out_dir, "result.csv")))
            w = write_result_csv(path, &a, t, &res, train.n, tst);
        if (w) {
            fprintf(stderr, "bfc train: %s\n", bfc_last_error());
            st = w;
        } else if (tst == BFC_OK) {
            remove(ckpt); /* the results are saved: the run needs no checkpoint any more */
        }
    }
    if (a.p.json) printf("%s\n", j.buf);
    bfc_jw_free(&j);
    if (!st) st = tst;
out:
    bfc_dir_unlock(lock_fd);
    if (cc.f) fclose(cc.f);
    free(cc.buf);
    bfc_learner_free(lr);
    bfc_target_free(t);
    bfc_data_free(&train);
    bfc_data_free(&test);
    return bfc_exit_status(st);
}

int bfc_cmd_train_check(int argc, char **argv)
{
    train_args a;
    int help, st = train_args_parse(argc, argv, &a, &help);
    return st ? st : train_args_finish(&a);
}

int bfc_cmd_gen_check(int argc, char **argv)
{
    bfc_problem p;
    bfc_problem_defaults(&p);
    const bfc_opt *tables[] = {bfc_problem_opts, NULL};
    int help, st = bfc_opt_parse(argc, argv, 2, tables, gen_opt, &p, &help, NULL, NULL);
    return st ? st : bfc_problem_finish(&p);
}
