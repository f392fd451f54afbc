/* test_memory.c: the memory estimates of the kernel methods against what the runs use: the
 * estimate `bfc fit` prints against the peak resident size of that run (wait4's ru_maxrss)
 * at three sizes per method, the largest n a refusal names passing the check, and a matrix
 * larger than RAM + swap being mappable (only its upper triangle is ever touched). Label
 * check: the twelve fits take 30-60 s on two busy cores. */
#include "bfc.h"
#include "dense_solve.h"
#include "entk.h"
#include "krr.h"
#include "rng.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define BFC BFC_BINARY_DIR "/bfc"

/* The estimate may differ from the measured peak by this share of the peak. */
#define REL_TOL 0.10

/* Run bfc with args (space-separated, no quoting); *est_mib from its "need about N MiB"
 * line, *peak_mib = ru_maxrss of the child. Returns the exit status. */
static int run_fit(const char *args, double *est_mib, double *peak_mib)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s", args);
    char *argv[64];
    int argc = 0;
    argv[argc++] = (char *)BFC;
    for (char *tok = strtok(cmd, " "); tok && argc < 63; tok = strtok(NULL, " ")) argv[argc++] = tok;
    argv[argc] = NULL;
    int fd[2];
    cr_assert_eq(pipe(fd), 0);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        dup2(fd[1], 2);
        close(fd[0]);
        close(fd[1]);
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) dup2(devnull, 1);
        execv(BFC, argv);
        _exit(127);
    }
    close(fd[1]);
    static char err[1 << 16];
    size_t len = 0;
    ssize_t r;
    while ((r = read(fd[0], err + len, sizeof err - 1 - len)) > 0) len += (size_t)r;
    err[len] = '\0';
    close(fd[0]);
    int status = 0;
    struct rusage ru;
    cr_assert_eq(wait4(pid, &status, 0, &ru), pid);
    *peak_mib = (double)ru.ru_maxrss / 1024.0; /* KiB on Linux */
    const char *p = strstr(err, "need about ");
    *est_mib = p ? strtod(p + strlen("need about "), NULL) : -1.0;
    cr_assert(p, "no estimate in the output of bfc %s:\n%s", args, err);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void check_method(const char *method, const char *extra, const int *sizes)
{
    for (int i = 0; i < 3; i++) {
        char args[256];
        snprintf(args, sizeof args, "fit --method %s %s --d 10 --n %d --n-test 200 --n-ref 1000 "
                 "--threads 1 --ridge 1", method, extra, sizes[i]);
        double est, peak;
        const double t0 = bfc_wall_seconds();
        cr_assert_eq(run_fit(args, &est, &peak), 0, "bfc %s failed", args);
        const double rel = (est - peak) / peak;
        fprintf(stderr, "memory: %-5s n = %d: estimate %.0f MiB, peak RSS %.1f MiB (%+.1f%%), %.1f s\n",
                method, sizes[i], est, peak, 100.0 * rel, bfc_wall_seconds() - t0);
        cr_expect(fabs(rel) <= REL_TOL, "%s n = %d: estimate %.0f MiB vs peak RSS %.1f MiB", method,
                  sizes[i], est, peak);
    }
}

/* krr, ntk and nngp share bfc_krr_memory_estimate; the kernels differ in what they
 * compute, not in what they allocate: each is measured. */
Test(memory, krr_family_estimates_are_within_10_percent_of_the_peak_rss, .timeout = 240)
{
    const int sizes[3] = {2500, 3500, 4500};
    check_method("krr", "", sizes);
    check_method("ntk", "", sizes);
    check_method("nngp", "", sizes);
}

Test(memory, entk_estimate_is_within_10_percent_of_the_peak_rss, .timeout = 240)
{
    const int sizes[3] = {2000, 3000, 4000};
    check_method("entk", "--L 2", sizes);
}

/* n points of a d-dimensional standard normal and labels y = x_0 */
static void draw(int n, int d, double *X, double *y)
{
    gsl_rng *r = bfc_rng_new(7, 0);
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < d; j++) X[(size_t)i * d + j] = gsl_ran_gaussian(r, 1.0);
        y[i] = X[(size_t)i * d];
    }
    gsl_rng_free(r);
}

/* the n after "the largest n that fits is " in the last error */
static int named_n(void)
{
    const char *p = strstr(bfc_last_error(), "the largest n that fits is ");
    cr_assert(p, "no largest n in: %s", bfc_last_error());
    return atoi(p + strlen("the largest n that fits is "));
}

Test(memory, the_largest_n_a_krr_refusal_names_then_fits)
{
    const int d = 5, n = 6000;
    bfc_krr_config cfg;
    bfc_krr_defaults(&cfg, d);
    cfg.ridge = 1.0;
    cfg.mem_limit = (size_t)48 << 20;
    double *X = bfc_alloc_d((size_t)n * d), *y = bfc_alloc_d((size_t)n);
    draw(n, d, X, y);
    bfc_krr *m = NULL;
    cr_assert_eq(bfc_krr_fit(&cfg, X, y, n, d, &m), BFC_ENOMEM);
    const int fits = named_n();
    cr_assert(fits > 0 && fits < n);
    cr_expect_eq(fits, bfc_krr_largest_n(&cfg, n, 0, d, cfg.mem_limit));
    cr_expect(bfc_krr_memory_estimate(&cfg, fits + 1, 0, d) > cfg.mem_limit);
    cr_assert_eq(bfc_krr_fit(&cfg, X, y, fits, d, &m), BFC_OK, "%s", bfc_last_error());
    bfc_krr_free(m);
    bfc_free(X);
    bfc_free(y);
}

Test(memory, the_largest_n_an_entk_refusal_names_then_fits)
{
    bfc_target_config tc;
    bfc_target_defaults(&tc);
    tc.d = 5;
    tc.L = 2;
    bfc_target_resolve(&tc);
    bfc_learner_config lc;
    bfc_learner_defaults(&lc);
    bfc_entk_ridge_config rc;
    bfc_entk_ridge_defaults(&rc);
    rc.ridge = 1.0;
    rc.mem_limit = (size_t)40 << 20;
    const int n = 4000, m = 50;
    bfc_data train = {0};
    train.n = n;
    train.d = tc.d;
    train.X = bfc_alloc_d((size_t)n * tc.d);
    train.y = bfc_alloc_d((size_t)n);
    draw(n, tc.d, train.X, train.y);
    double *pred = bfc_alloc_d((size_t)m);
    cr_assert_eq(bfc_entk_regress(&tc, &lc, &rc, 1, &train, train.X, m, pred, NULL), BFC_ENOMEM);
    const int fits = named_n();
    cr_assert(fits > 0 && fits < n);
    cr_expect(bfc_entk_regress_memory_estimate(&tc, &lc, &rc, fits, m) <= rc.mem_limit);
    cr_expect(bfc_entk_regress_memory_estimate(&tc, &lc, &rc, fits + 1, m) > rc.mem_limit);
    train.n = fits;
    cr_assert_eq(bfc_entk_regress(&tc, &lc, &rc, 1, &train, train.X, m, pred, NULL), BFC_OK, "%s",
                 bfc_last_error());
    bfc_free(train.X);
    bfc_free(train.y);
    bfc_free(pred);
}

/* The CLI's refusal names the largest --n that fits (its --help says so). */
Test(memory, the_cli_refusal_names_the_largest_n)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "%s fit --method krr --d 20 --n 100000000 --ridge 1 2>&1", BFC);
    FILE *p = popen(cmd, "r");
    char out[1024] = "";
    size_t len = fread(out, 1, sizeof out - 1, p);
    out[len] = '\0';
    cr_assert_eq(WEXITSTATUS(pclose(p)), 2, "%s", out);
    const char *q = strstr(out, "the largest --n that fits is ");
    cr_assert(q, "%s", out);
    cr_expect(atoi(q + strlen("the largest --n that fits is ")) > 0, "%s", out);
}

static double meminfo_kb(const char *key)
{
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    double kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, key, strlen(key))) kb = atof(line + strlen(key) + 1);
    if (f) fclose(f);
    return kb;
}

/* Linux's default overcommit heuristic refuses one allocation larger than RAM + swap; the
 * square matrix, of which a solve touches half, is mapped without that reservation. */
Test(memory, a_matrix_larger_than_ram_and_swap_can_be_mapped)
{
    FILE *f = fopen("/proc/sys/vm/overcommit_memory", "r");
    int mode = 0;
    if (f) {
        if (fscanf(f, "%d", &mode) != 1) mode = 0;
        fclose(f);
    }
    if (mode == 2) cr_skip_test("strict overcommit accounting: the estimate counts all of it");
    const double bytes = 1.2 * 1024.0 * (meminfo_kb("MemTotal:") + meminfo_kb("SwapTotal:"));
    const int n = (int)sqrt(bytes / 8.0);
    double *A = bfc_square_alloc(n);
    cr_assert_not_null(A, "n = %d (%.0f MiB)", n, bytes / 1048576.0);
    A[0] = 1.0; /* one page touched */
    bfc_square_free(A, n);
    cr_expect_eq(bfc_square_upper_bytes(n) < 8.0 * n * (double)n, 1);
}
