/* test_cli.c: the bfc command line end to end: bad input gets one clear message naming the
 * flag or file and a non-zero exit, nothing half-written is left behind, the same seed gives
 * the same result, and data written by `bfc gen` reproduces a direct run. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli_run.h"
#include "scratch.h"

/* A scratch directory removed when the test process exits. */
static char *tmpdir(void) { return strdup(bfc_test_tmpdir("bfc-cli")); }

static int count_tmp_files(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    if (!d) return 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strstr(e->d_name, ".tmp")) n++;
    closedir(d);
    return n;
}

#define DATA "--d 6 --n 512 --n-test 500 --n-ref 5000 --quiet"
#define SMALL DATA " --steps 50"

/* A line of stderr that repeats its prefix: "bfc gen: bfc gen needs --out DIR". */
static const char *doubled_prefix(const char *err)
{
    for (const char *line = err; *line; line += strcspn(line, "\n") + (line[strcspn(line, "\n")] != 0)) {
        if (strncmp(line, "bfc ", 4)) continue;
        const char *colon = strstr(line, ": ");
        if (colon && colon < line + strcspn(line, "\n") && !strncmp(colon + 2, "bfc ", 4)) return line;
    }
    return NULL;
}

/* args is refused with exit status code and a message holding needle, said once. */
#define EXPECT_EXIT(args, code, needle)                                                        \
    do {                                                                                       \
        int rc_ = bfc_run(args);                                                               \
        cr_expect_eq(rc_, code, "'%s' should exit %d, not %d", args, code, rc_);               \
        cr_expect_not_null(strstr(err_buf, needle), "'%s': message '%s' lacks '%s'", args,     \
                           err_buf, needle);                                                   \
        cr_expect_null(doubled_prefix(err_buf), "'%s': doubled prefix in '%s'", args, err_buf); \
    } while (0)
/* a usage error: exit 2 (README, commands.h) */
#define EXPECT_REJECTED(args, needle) EXPECT_EXIT(args, 2, needle)
/* a run that failed on its input files or resources: exit 1 */
#define EXPECT_FAILED(args, needle) EXPECT_EXIT(args, 1, needle)

Test(cli, bad_flags_are_rejected_with_the_flag_named)
{
    EXPECT_REJECTED("train --bogus 3", "unknown option '--bogus'");
    EXPECT_REJECTED("train --d 0", "--d must be an integer between 1 and");
    EXPECT_REJECTED("train --d abc", "--d must be an integer");
    EXPECT_REJECTED("train --L 9", "--L must be an integer between 2 and 8");
    EXPECT_REJECTED("train --k 100", "--k must be an integer between 1 and 64");
    EXPECT_REJECTED("train --L 3 --k 3,3,3", "--k takes one width or 2");
    EXPECT_REJECTED("train --J 3:0", "J_3 must contain 2");
    EXPECT_REJECTED("train --L 3 --J 4:3,0", "--J names layer 4 but --L is 3");
    EXPECT_REJECTED("train --gap 2", "--gap must be a number between");
    EXPECT_REJECTED("train --n 100", "--n (100) must be at least the batch size --batch (256)");
    EXPECT_REJECTED("train --schedule depth=x", "--schedule depth=D");
    EXPECT_REJECTED("train --schedule sideways", "--schedule must be");
    EXPECT_REJECTED("train --lr -1", "--lr must be a number");
    EXPECT_REJECTED("train --steps", "needs a value");
    EXPECT_REJECTED("train --json=1", "takes no value");
    EXPECT_REJECTED("frobnicate", "unknown command 'frobnicate'");
    EXPECT_REJECTED("gen " DATA, "needs --out DIR");
    EXPECT_REJECTED("gen " DATA " --out d --data d", "--data is not allowed (gen draws");
    EXPECT_REJECTED("sweep", "needs a configuration file");
    EXPECT_REJECTED("train --resume --quiet", "--resume needs --out");
    EXPECT_REJECTED("info --bogus", "unknown option '--bogus'");
    EXPECT_REJECTED("fit --method svm --quiet", "--method must be");
    EXPECT_REJECTED("train --out '' " SMALL, "needs a value (DIR), not an empty one");
    EXPECT_REJECTED("train --data '' " SMALL, "needs a value (DIR), not an empty one");
    EXPECT_REJECTED("train --threads 1000 " SMALL, "--threads");
    EXPECT_REJECTED("fit --threads 1000 " DATA, "--threads");
    EXPECT_REJECTED("gen --threads 1000 --out d " DATA, "--threads");
}

/* "--out --quiet" forgot the directory: refused for every option that takes a value (not a
 * directory named --quiet), while --out=--x still names one on purpose. */
Test(cli, an_option_followed_by_another_option_lacks_its_value)
{
    char *dir = tmpdir(), path[4200];
    const char *cases[] = {"gen --out --quiet " DATA, "train --out --quiet " SMALL,
                           "fit --out --json " DATA, "train --steps --quiet " DATA,
                           "fit --method --json " DATA, "sweep x.json --out --quiet"};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cr_expect_eq(bfc_run_in(dir, cases[i]), 2, "'%s': %s", cases[i], err_buf);
        cr_expect_not_null(strstr(err_buf, "needs a value"), "'%s': %s", cases[i], err_buf);
    }
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    for (struct dirent *e; (e = readdir(d));)
        cr_expect(e->d_name[0] == '.', "'%s' was created", e->d_name);
    closedir(d);
    cr_assert_eq(bfc_run_in(dir, "gen --out=--odd " DATA), 0, "%s", err_buf);
    snprintf(path, sizeof path, "%s/--odd/target.json", dir);
    cr_expect_eq(access(path, F_OK), 0, "--out=--odd wrote no %s", path);
    free(dir);
}

/* bfc --help lists every command of the dispatcher and every method of bfc fit. */
Test(cli, help_lists_every_command_and_method)
{
    cr_assert_eq(bfc_run("--help"), 0);
    const char *names[] = {"gen", "train", "fit", "sweep", "info",
                           "krr", "ntk", "nngp", "entk", "seqkernel", "twolayer"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        cr_expect_not_null(strstr(out_buf, names[i]), "bfc --help omits %s:\n%s", names[i], out_buf);
    cr_assert_eq(bfc_run("info --help"), 0);
    cr_assert_eq(bfc_run("fit --method bogus"), 2);
    for (size_t i = 5; i < sizeof names / sizeof *names; i++)
        cr_expect_not_null(strstr(err_buf, names[i]), "%s not in '%s'", names[i], err_buf);
}

Test(cli, help_describes_every_command)
{
    cr_assert_eq(bfc_run("--help"), 0);
    cr_expect_not_null(strstr(out_buf, "train"));
    cr_assert_eq(bfc_run("train --help"), 0);
    cr_expect_not_null(strstr(out_buf, "--schedule"));
    cr_expect_not_null(strstr(out_buf, "--clamp"));
    cr_assert_eq(bfc_run("gen --help"), 0);
    cr_expect_not_null(strstr(out_buf, "--out"));
}

Test(cli, unwritable_output_directory_is_named)
{
    char *dir = tmpdir(), args[8192];
    char file[4200];
    snprintf(file, sizeof file, "%s/plain-file", dir);
    FILE *f = fopen(file, "w");
    fclose(f);
    snprintf(args, sizeof args, "train " SMALL " --out %s/sub", file);
    EXPECT_REJECTED(args, "plain-file");
    free(dir);
}

Test(cli, unreadable_and_malformed_data_files_are_named)
{
    char *dir = tmpdir(), args[4096], path[4200];
    snprintf(args, sizeof args, "train --data %s/missing --quiet", dir);
    EXPECT_FAILED(args, "target.json");
    snprintf(args, sizeof args, "gen " DATA " --out %s/g", dir);
    cr_assert_eq(bfc_run(args), 0, "%s", err_buf);
    /* a truncated .npy */
    snprintf(path, sizeof path, "%s/g/train_x.npy", dir);
    cr_assert_eq(truncate(path, 100), 0);
    snprintf(args, sizeof args, "train --data %s/g --quiet --steps 5", dir);
    EXPECT_FAILED(args, "train_x.npy");
    /* a target of another dimension than asked */
    snprintf(args, sizeof args, "gen " DATA " --out %s/h", dir);
    cr_assert_eq(bfc_run(args), 0);
    snprintf(args, sizeof args, "train --data %s/h --d 7 --quiet", dir);
    EXPECT_REJECTED(args, "d = 6 but --d 7");
    /* malformed target.json */
    snprintf(path, sizeof path, "%s/h/target.json", dir);
    FILE *f = fopen(path, "w");
    fputs("{\"format\": \"bfc-target-1\", \"d\": }", f);
    fclose(f);
    snprintf(args, sizeof args, "train --data %s/h --quiet", dir);
    EXPECT_FAILED(args, "target.json:1:");
    free(dir);
}

/* The "test_error" field of a JSON summary, as text (bitwise comparison of the number). */
static void field(const char *json, const char *key, char *out, size_t cap)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(json, pat);
    cr_assert_not_null(p, "no %s in %s", key, json);
    p += strlen(pat);
    size_t n = strcspn(p, ",}");
    cr_assert_lt(n, cap);
    memcpy(out, p, n);
    out[n] = '\0';
}

/* Adam at --lr 1000 does not overflow: its objective grows to 1e46 and more while staying
 * finite. The divergence rule (optim.h) stops it all the same: status "diverged" in both
 * result files and on stdout, exit code 3, and the errors of the parameters before the step
 * that broke the bound (finite, and no end-of-stage values for stages not finished). */
Test(cli, adam_divergence_with_finite_losses_is_reported_as_diverged_not_ok)
{
    char *dir = tmpdir(), args[4096], path[4200], buf[1 << 15];
    const char *L[] = {"3", "4"};
    for (int i = 0; i < 2; i++) {
        snprintf(args, sizeof args,
                 "train --d 8 --n 1000 --n-test 500 --n-ref 5000 --steps 300 --lr 1000 --L %s "
                 "--quiet --json --out %s/L%s", L[i], dir, L[i]);
        int rc = bfc_run(args);
        cr_expect_eq(rc, 3, "L=%s: exit %d, %s", L[i], rc, err_buf);
        cr_expect_not_null(strstr(err_buf, "diverged at stage 2"), "%s", err_buf);
        snprintf(path, sizeof path, "%s/L%s/result.json", dir, L[i]);
        slurp(path, buf, sizeof buf);
        cr_expect_not_null(strstr(buf, "\"status\":\"diverged\""), "%s", buf);
        cr_expect_not_null(strstr(buf, "\"stages_done\":0"), "%s", buf);
        cr_expect_not_null(strstr(buf, "\"test_error_end_of_stage\":[null,null"), "%s", buf);
        char te[64];
        field(buf, "test_error", te, sizeof te);
        cr_expect(atof(te) > 0 && atof(te) < 100, "L=%s: test error %s of the kept state", L[i],
                  te);
        snprintf(path, sizeof path, "%s/L%s/result.csv", dir, L[i]);
        slurp(path, buf, sizeof buf);
        cr_expect_not_null(strstr(buf, ",status,diverged\n"), "%s", buf);
        cr_expect_null(strstr(buf, "_stage_"), "no stage finished: %s", buf);
    }
    /* the two-layer baseline follows the same rule */
    snprintf(args, sizeof args,
             "fit --method twolayer --width 64 --steps 300 --lr 1000 --d 8 --n 1000 --n-test 500 "
             "--n-ref 5000 --quiet --json --out %s/tl", dir);
    int rc = bfc_run(args);
    cr_expect_eq(rc, 3, "twolayer: exit %d, %s", rc, err_buf);
    cr_expect_not_null(strstr(out_buf, "\"status\":\"diverged\""), "%s", out_buf);
    snprintf(path, sizeof path, "%s/tl/result.csv", dir);
    cr_expect_not_null(strstr(slurp(path, buf, sizeof buf), ",status,diverged\n"), "%s", buf);
    free(dir);
}

Test(cli, divergence_stops_with_advice_and_writes_no_partial_files)
{
    char *dir = tmpdir(), args[4096];
    snprintf(args, sizeof args, "train " SMALL " --optimizer sgd --lr 100 --no-cosine --out %s/r --json", dir);
    int rc = bfc_run(args);
    cr_expect_eq(rc, 3, "diverged runs exit 3 (got %d)", rc);
    cr_expect_not_null(strstr(err_buf, "diverged"), "%s", err_buf);
    cr_expect_not_null(strstr(err_buf, "smaller --lr"), "%s", err_buf);
    char sub[4200];
    snprintf(sub, sizeof sub, "%s/r", dir);
    cr_expect_eq(count_tmp_files(sub), 0);
    cr_expect_not_null(strstr(out_buf, "\"status\":\"diverged\""), "%s", out_buf);
    free(dir);
}


Test(cli, same_seed_gives_bitwise_identical_results_and_gen_data_reproduces_a_direct_run)
{
    char a[64], b[64], c[64], fa[256], fb[256];
    cr_assert_eq(bfc_run("train " SMALL " --seed 3 --json"), 0, "%s", err_buf);
    field(out_buf, "test_error", a, sizeof a);
    field(out_buf, "feature_error", fa, sizeof fa);
    cr_assert_eq(bfc_run("train " SMALL " --seed 3 --json"), 0);
    field(out_buf, "test_error", b, sizeof b);
    field(out_buf, "feature_error", fb, sizeof fb);
    cr_expect_str_eq(a, b);
    cr_expect_str_eq(fa, fb);
    char *dir = tmpdir(), args[4096];
    snprintf(args, sizeof args, "gen " DATA " --seed 3 --out %s/g", dir);
    cr_assert_eq(bfc_run(args), 0, "%s", err_buf);
    snprintf(args, sizeof args, "train --data %s/g --steps 50 --quiet --seed 3 --json", dir);
    cr_assert_eq(bfc_run(args), 0, "%s", err_buf);
    field(out_buf, "test_error", c, sizeof c);
    cr_expect_str_eq(a, c);
    free(dir);
}

Test(cli, train_writes_curve_result_csv_and_json_with_the_blas_core)
{
    char *dir = tmpdir(), args[4096], path[4200], buf[1 << 15];
    snprintf(args, sizeof args, "train " SMALL " --L 3 --eval-every 10 --out %s/r --json", dir);
    cr_assert_eq(bfc_run(args), 0, "%s", err_buf);
    cr_expect_not_null(strstr(out_buf, "\"blas_core\":"));
    cr_expect_not_null(strstr(out_buf, "\"feature_error_end_of_stage\":[["));
    cr_expect_not_null(strstr(out_buf, "\"us_per_step\":"));
    snprintf(path, sizeof path, "%s/r/curve.csv", dir);
    slurp(path, buf, sizeof buf);
    cr_expect_eq(strncmp(buf, "stage,step,global_step,lr,loss,test_error,fe_2,wall_s\n", 54), 0, "%s", buf);
    int lines = 0;
    for (char *q = buf; *q; q++) lines += *q == '\n';
    cr_expect_eq(lines, 1 + 2 * 5, "curve.csv has %d lines", lines); /* 2 stages × 50/10 */
    snprintf(path, sizeof path, "%s/r/result.csv", dir);
    slurp(path, buf, sizeof buf);
    cr_expect_not_null(strstr(buf, "method,d,L,n,seed,metric,value\ne2e,6,3,512,0,status,ok\n"
                                   "e2e,6,3,512,0,test_error,"), "%s", buf);
    snprintf(path, sizeof path, "%s/r/result.json", dir);
    slurp(path, buf, sizeof buf);
    cr_expect_not_null(strstr(buf, "\"blas_threads\""));
    free(dir);
}

/* The commit a result records is the one the binary was built from (bfc_commit.h is
 * rewritten at every build, not only when CMake configures): the source tree's HEAD. */
Test(cli, version_and_results_name_the_commit_of_the_source_tree)
{
    char cmd[4096], head[64] = "";
    snprintf(cmd, sizeof cmd, "git -C '%s' rev-parse --short=12 HEAD 2>/dev/null", BFC_SOURCE_DIR);
    FILE *p = popen(cmd, "r");
    if (p) {
        if (!fgets(head, sizeof head, p)) head[0] = '\0';
        pclose(p);
    }
    head[strcspn(head, "\n")] = '\0';
    cr_assert_eq(bfc_run("--version"), 0, "%s", err_buf);
    if (strlen(head) != 12) { /* not a git work tree: the binary says so */
        cr_expect_not_null(strstr(out_buf, "(commit unknown"), "%s", out_buf);
        return;
    }
    char want[96];
    snprintf(want, sizeof want, "(commit %s", head);
    cr_expect_not_null(strstr(out_buf, want), "bfc --version says %s, HEAD is %s", out_buf, head);
    char *dir = tmpdir(), args[4096];
    snprintf(args, sizeof args, "train " SMALL " --L 3 --out %s/r --json --quiet", dir);
    cr_assert_eq(bfc_run(args), 0, "%s", err_buf);
    snprintf(want, sizeof want, "\"commit\":\"%s", head);
    cr_expect_not_null(strstr(out_buf, want), "result names another commit than %s", head);
    free(dir);
}

Test(cli, fit_rejects_bad_methods_kernels_ridges_and_runs_beyond_memory)
{
    EXPECT_REJECTED("fit --method svm", "--method must be krr, ntk, nngp, entk, seqkernel or twolayer");
    EXPECT_REJECTED("fit --method krr --init-scale 1", "--init-scale applies to --method entk only");
    EXPECT_REJECTED("fit --kernel cosine", "--kernel must be poly, rbf or laplace");
    EXPECT_REJECTED("fit --ridge -1", "--ridge must be a number");
    EXPECT_REJECTED("fit --ridge 0", "--ridge must be a number");
    EXPECT_REJECTED("fit --kernel rbf --bandwidth 0", "--bandwidth must be a number");
    EXPECT_REJECTED("fit --degree 0", "--degree must be an integer between 1 and 512");
    EXPECT_REJECTED("fit --method ntk --act tanh", "--act must be relu or quad");
    EXPECT_REJECTED("fit --method twolayer --ridge 1", "--ridge applies to krr, ntk, nngp and entk only");
    EXPECT_REJECTED("fit --method seqkernel --degree 3", "apply to krr, ntk and nngp only");
    EXPECT_REJECTED("fit --method krr --width 5", "apply to --method twolayer only");
    /* options the table stores also record that they were given */
    EXPECT_REJECTED("fit --method ntk --kernel poly", "--kernel applies to --method krr only");
    EXPECT_REJECTED("fit --kernel=" "polypolypolypolypolypolypolypolypoly", "longer than 31");
    /* 10^7 points need ~800 TB for the Gram matrix: refused before any data is drawn */
    EXPECT_REJECTED("fit --n 10000000", "needs about");
}

Test(cli, fit_runs_every_baseline_on_the_same_small_problem)
{
    const char *methods[] = {"--method krr", "--method krr --kernel rbf", "--method ntk",
                             "--method nngp --act quad", "--method seqkernel", "--method entk",
                             "--method twolayer --width 32 --steps 50"};
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        char args[512];
        snprintf(args, sizeof args, "fit " DATA " --n 1200 %s --json", methods[i]);
        cr_assert_eq(bfc_run(args), 0, "%s: %s", methods[i], err_buf);
        char te[64];
        field(out_buf, "test_error", te, sizeof te);
        double v = atof(te);
        cr_expect(v >= 0 && v < 2.0, "%s: test error %s", methods[i], te);
        cr_expect_not_null(strstr(out_buf, "\"blas_core\":"));
    }
}
