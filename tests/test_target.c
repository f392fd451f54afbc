/* test_target.c: the hierarchical target of SPEC §1: standardisation, degree, shares,
 * determinism, persistence and validation of bad configurations and files. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fsutil.h"
#include "scratch.h"
#include "npy.h"
#include "rng.h"
#include "target.h"

static bfc_target *make(int d, int L, double gap, long n_ref, uint64_t seed)
{
    bfc_target_config c;
    bfc_target_defaults(&c);
    c.d = d;
    c.L = L;
    c.gap = gap;
    c.n_ref = n_ref;
    c.seed = seed;
    int st;
    bfc_target *t = bfc_target_new(&c, &st);
    cr_assert_not_null(t, "%s", bfc_last_error());
    return t;
}

/* A scratch directory removed when the test process exits. */
static char *tmpdir(void) { return strdup(bfc_test_tmpdir("bfc-test")); }

/* The reference sample (n_ref draws) and a fresh sample (n draws) each estimate the moments
 * with CLT standard errors √(Var(z)/n) for the mean and √((E z⁴ − 1)/n) for the variance. */
static void check_standardisation(int d, int L, long n_ref, int n, uint64_t seed)
{
    bfc_target *t = make(d, L, 0.1, n_ref, seed);
    double *X = bfc_alloc_d((size_t)n * d);
    double *S[BFC_MAX_L + 1] = {0};
    for (int l = 2; l <= L; l++) S[l] = bfc_alloc_d((size_t)n * 3);
    gsl_rng *r = bfc_rng_new(seed + 99, BFC_STREAM_TEST);
    bfc_target_sample_x(t, r, n, X);
    gsl_rng_free(r);
    cr_assert_eq(bfc_target_eval(t, X, n, NULL, S), BFC_OK);
    double w = 1.0 / (double)n_ref + 1.0 / (double)n;
    for (int l = 2; l <= L; l++)
        for (int a = 0; a < 3; a++) {
            double m1 = 0, m2 = 0, m4 = 0;
            for (int i = 0; i < n; i++) {
                double z = S[l][(size_t)i * 3 + a];
                m1 += z;
                m2 += z * z;
                m4 += z * z * z * z;
            }
            m1 /= n;
            m2 /= n;
            m4 /= n;
            double se_mean = sqrt(m2 * w), se_var = sqrt((m4 - 1.0) * w);
            cr_expect_leq(fabs(m1), 5 * se_mean, "L=%d layer %d coord %d: mean %g (se %g)", L, l,
                          a, m1, se_mean);
            cr_expect_leq(fabs(m2 - 1.0), 5 * se_var, "L=%d layer %d coord %d: var %g (se %g)", L,
                          l, a, m2, se_var);
        }
    for (int l = 2; l <= L; l++) bfc_free(S[l]);
    bfc_free(X);
    bfc_target_free(t);
}

Test(target, standardised_layers_have_mean_zero_and_unit_variance_within_monte_carlo_error)
{
    check_standardisation(20, 3, 100000, 200000, 0);
    /* at L = 4 the top layer (degree 8) has kurtosis in the thousands: the same check holds,
     * but its standard errors are ~0.2 at 10^5 reference draws */
    check_standardisation(20, 4, 100000, 1000000, 1);
    check_standardisation(10, 4, 100000, 1000000, 1);
}

Test(target, output_is_a_polynomial_of_degree_two_to_the_L_along_a_line)
{
    /* finite differences of order 2^L + 1 of G*(x0 + s v) vanish; order 2^L does not */
    for (int L = 2; L <= 3; L++) {
        bfc_target *t = make(5, L, 0.5, 2000, 4);
        int deg = 1 << L, npts = deg + 2;
        double X[12 * 5], g[12], x0[5], v[5];
        gsl_rng *r = bfc_rng_new(5, BFC_STREAM_TEST);
        bfc_rng_normal(r, x0, 5, 1.0);
        bfc_rng_normal(r, v, 5, 1.0);
        gsl_rng_free(r);
        for (int i = 0; i < npts; i++)
            for (int a = 0; a < 5; a++) X[i * 5 + a] = x0[a] + (i - npts / 2) * 0.25 * v[a];
        bfc_target_eval(t, X, npts, g, NULL);
        /* iterated differences */
        double dif[12];
        memcpy(dif, g, sizeof(double) * (size_t)npts);
        double scale = 0;
        for (int i = 0; i < npts; i++) scale = fmax(scale, fabs(g[i]));
        double top = 0;
        for (int o = 1; o <= deg + 1; o++) {
            for (int i = 0; i + o < npts + 1 && i < npts - o; i++) dif[i] = dif[i + 1] - dif[i];
            if (o == deg) top = fabs(dif[0]);
        }
        /* binomial cancellation costs about 2^(2^L+1) ε relative to the values */
        cr_expect_leq(fabs(dif[0]), scale * 1e-9 * (1 << (deg + 1)) / 512.0 + 1e-12 * scale,
                      "L=%d: order-%d difference %g (values up to %g)", L, deg + 1, dif[0], scale);
        cr_expect_gt(top, 1e-6 * scale, "L=%d: order-%d difference should not vanish", L, deg);
        bfc_target_free(t);
    }
}

Test(target, shares_are_fractions_and_fall_with_the_gap)
{
    bfc_target *t = make(20, 3, 0.1, 100000, 0);
    double v2 = bfc_target_share(t, 2), v3 = bfc_target_share(t, 3);
    cr_expect(v2 > 0.5 && v2 <= 1.0 + 1e-9, "v2 = %g", v2);
    cr_expect(v3 > 0.005 && v3 < 0.3, "v3 = %g", v3);
    bfc_target *t2 = make(20, 3, 0.3, 100000, 0);
    cr_expect_gt(bfc_target_share(t2, 3), v3);
    bfc_target_free(t);
    bfc_target_free(t2);
}

Test(target, same_seed_gives_the_same_target_and_different_seeds_differ)
{
    bfc_target *a = make(8, 3, 0.1, 5000, 7), *b = make(8, 3, 0.1, 5000, 7), *c = make(8, 3, 0.1, 5000, 8);
    cr_expect_eq(memcmp(bfc_target_weight(a, 3, 2), bfc_target_weight(b, 3, 2), 9 * sizeof(double)), 0);
    cr_expect_neq(memcmp(bfc_target_weight(a, 3, 2), bfc_target_weight(c, 3, 2), 9 * sizeof(double)), 0);
    cr_expect_eq(bfc_target_variance(a), bfc_target_variance(b));
    bfc_target_free(a);
    bfc_target_free(b);
    bfc_target_free(c);
}

Test(target, sphere_inputs_have_norm_root_d)
{
    bfc_target_config c;
    bfc_target_defaults(&c);
    c.d = 7;
    c.input = BFC_INPUT_SPHERE;
    c.n_ref = 2000;
    int st;
    bfc_target *t = bfc_target_new(&c, &st);
    cr_assert_not_null(t);
    double X[50 * 7];
    gsl_rng *r = bfc_rng_new(1, BFC_STREAM_TEST);
    bfc_target_sample_x(t, r, 50, X);
    gsl_rng_free(r);
    for (int i = 0; i < 50; i++) {
        double s = 0;
        for (int a = 0; a < 7; a++) s += X[i * 7 + a] * X[i * 7 + a];
        cr_expect_float_eq(s, 7.0, 1e-12);
    }
    bfc_target_free(t);
}

Test(target, classification_labels_are_signs_split_at_the_median)
{
    bfc_target_config c;
    bfc_target_defaults(&c);
    c.d = 6;
    c.task = BFC_TASK_CLASSIFICATION;
    c.n_ref = 20000;
    int st;
    bfc_target *t = bfc_target_new(&c, &st);
    bfc_data D;
    cr_assert_eq(bfc_data_make(t, 4000, 1, BFC_STREAM_TRAIN, &D), BFC_OK);
    int pos = 0;
    for (int i = 0; i < D.n; i++) {
        cr_assert(D.y[i] == 1.0 || D.y[i] == -1.0);
        cr_assert_eq(D.y[i] > 0, D.g[i] > bfc_target_median(t));
        pos += D.y[i] > 0;
    }
    cr_expect(pos > 1800 && pos < 2200, "positives %d of 4000", pos);
    bfc_data_free(&D);
    bfc_target_free(t);
}

Test(target, label_noise_has_the_requested_standard_deviation)
{
    bfc_target_config c;
    bfc_target_defaults(&c);
    c.d = 6;
    c.noise = 0.5;
    c.n_ref = 2000;
    int st;
    bfc_target *t = bfc_target_new(&c, &st);
    bfc_data D;
    bfc_data_make(t, 20000, 3, BFC_STREAM_TRAIN, &D);
    double s = 0;
    for (int i = 0; i < D.n; i++) s += (D.y[i] - D.g[i]) * (D.y[i] - D.g[i]);
    cr_expect_float_eq(sqrt(s / D.n), 0.5, 0.02);
    bfc_data_free(&D);
    bfc_target_free(t);
}

Test(target, save_and_load_round_trip_gives_identical_outputs)
{
    char *dir = tmpdir();
    bfc_target *t = make(9, 4, 0.2, 3000, 5);
    cr_assert_eq(bfc_target_save(t, dir), BFC_OK, "%s", bfc_last_error());
    int st;
    bfc_target *u = bfc_target_load(dir, &st);
    cr_assert_not_null(u, "%s", bfc_last_error());
    double X[20 * 9], g1[20], g2[20];
    gsl_rng *r = bfc_rng_new(2, BFC_STREAM_TEST);
    bfc_target_sample_x(t, r, 20, X);
    gsl_rng_free(r);
    bfc_target_eval(t, X, 20, g1, NULL);
    bfc_target_eval(u, X, 20, g2, NULL);
    cr_expect_eq(memcmp(g1, g2, sizeof g1), 0);
    cr_expect_eq(bfc_target_share(t, 4), bfc_target_share(u, 4));
    bfc_data D, E;
    bfc_data_make(t, 100, 1, BFC_STREAM_TRAIN, &D);
    cr_assert_eq(bfc_data_save(&D, dir, "train"), BFC_OK);
    cr_assert_eq(bfc_data_load(dir, "train", 9, &E), BFC_OK, "%s", bfc_last_error());
    cr_expect_eq(memcmp(D.X, E.X, sizeof(double) * 900), 0);
    cr_expect_eq(memcmp(D.g, E.g, sizeof(double) * 100), 0);
    bfc_data_free(&E);
    /* a data set from another dimension is refused, naming the file */
    cr_assert_eq(bfc_data_load(dir, "train", 10, &E), BFC_EFORMAT);
    cr_expect_not_null(strstr(bfc_last_error(), "train_x.npy"));
    cr_expect_not_null(strstr(bfc_last_error(), "d = 10"));
    bfc_data_free(&D);
    bfc_target_free(t);
    bfc_target_free(u);
    free(dir);
}

Test(target, load_rejects_missing_malformed_and_inconsistent_files)
{
    char *dir = tmpdir();
    char path[4096];
    int st;
    /* missing */
    cr_assert_null(bfc_target_load(dir, &st));
    cr_expect_not_null(strstr(bfc_last_error(), "target.json"));
    /* malformed JSON */
    snprintf(path, sizeof path, "%s/target.json", dir);
    FILE *f = fopen(path, "w");
    fputs("{\"format\": \"bfc-target-1\", \"d\": 3,", f);
    fclose(f);
    cr_assert_null(bfc_target_load(dir, &st));
    cr_expect_eq(st, BFC_EFORMAT);
    cr_expect_not_null(strstr(bfc_last_error(), "target.json"));
    /* a valid target whose weight file has the wrong shape */
    bfc_target *t = make(4, 3, 0.1, 2000, 1);
    bfc_target_save(t, dir);
    snprintf(path, sizeof path, "%s/W_3_2.npy", dir);
    double w[4] = {1, 2, 3, 4};
    size_t shape[2] = {2, 2};
    bfc_npy_save(path, w, 2, shape);
    cr_assert_null(bfc_target_load(dir, &st));
    cr_expect_not_null(strstr(bfc_last_error(), "W_3_2.npy"), "%s", bfc_last_error());
    bfc_target_free(t);
    free(dir);
}

/* A target.json that asks for a large configuration (d = 100000, k = 64: two 51 MB weight
 * matrices) but whose weight files are missing, or too small, is refused before anything
 * is allocated for it: in a child process whose address space has only 40 MB to spare, the
 * load fails naming the file, not for want of memory. */
static int load_in_small_address_space(const char *dir)
{
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        long pages = 0;
        FILE *f = fopen("/proc/self/statm", "r");
        if (!f || fscanf(f, "%ld", &pages) != 1) _exit(90);
        fclose(f);
        rlim_t lim = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + ((rlim_t)40 << 20);
        struct rlimit rl = {lim, lim};
        if (setrlimit(RLIMIT_AS, &rl)) _exit(91);
        int st;
        bfc_target *t = bfc_target_load(dir, &st);
        if (t) _exit(92);
        if (st == BFC_ENOMEM) _exit(93);
        _exit(strstr(bfc_last_error(), "W_2_0.npy") ? 0 : 94);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

Test(target, a_large_configuration_without_its_weights_is_refused_before_allocating)
{
#if defined(__SANITIZE_ADDRESS__)
    cr_skip_test("address-space limits do not combine with AddressSanitizer's shadow memory");
#endif
    char *dir = tmpdir();
    char path[4096];
    snprintf(path, sizeof path, "%s/target.json", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("{\"format\":\"bfc-target-1\",\"d\":100000,\"L\":2,\"k\":[64],\"J\":[[0,1]],"
          "\"gap\":0.1,\"alpha_explicit\":false,\"alpha\":[1],\"noise\":0,"
          "\"input\":\"gaussian\",\"weights\":\"gaussian\",\"task\":\"regression\","
          "\"n_ref\":1000,\"seed\":0,\"shares\":[1],\"variance\":2,\"median\":1,"
          "\"standardisation\":[{\"layer\":2,\"mean\":[0],\"scale\":[1]}]}",
          f);
    cr_assert_eq(fclose(f), 0);
    cr_expect_eq(load_in_small_address_space(dir), 0, "missing weights: see the exit code");
    /* a weight file far too small for its (64, 100000) array */
    snprintf(path, sizeof path, "%s/W_2_0.npy", dir);
    double w[4] = {1, 2, 3, 4};
    size_t shape[2] = {2, 2};
    cr_assert_eq(bfc_npy_save(path, w, 2, shape), BFC_OK);
    cr_expect_eq(load_in_small_address_space(dir), 0, "tiny weights: see the exit code");
    int st;
    cr_assert_null(bfc_target_load(dir, &st));
    cr_expect_not_null(strstr(bfc_last_error(), "too small for the (64, 100000) array"), "%s",
                       bfc_last_error());
    char rm[4200];
    snprintf(rm, sizeof rm, "rm -rf %s", dir);
    cr_expect_eq(system(rm), 0);
    free(dir);
}

Test(target, invalid_configurations_are_rejected_with_the_flag_named)
{
    bfc_target_config c;
    int st;
    bfc_target_defaults(&c);
    c.L = 1;
    cr_expect_null(bfc_target_new(&c, &st));
    cr_expect_not_null(strstr(bfc_last_error(), "--L"));
    bfc_target_defaults(&c);
    c.J[3] = 0x1u;
    cr_expect_null(bfc_target_new(&c, &st));
    cr_expect_not_null(strstr(bfc_last_error(), "J_3 must contain 2"));
    bfc_target_defaults(&c);
    c.k[2] = BFC_MAX_K + 1;
    cr_expect_null(bfc_target_new(&c, &st));
    cr_expect_not_null(strstr(bfc_last_error(), "--k"));
    bfc_target_defaults(&c);
    c.gap = 1.5;
    cr_expect_null(bfc_target_new(&c, &st));
    cr_expect_not_null(strstr(bfc_last_error(), "--gap"));
    bfc_target_defaults(&c);
    c.d = 2;
    c.weights = BFC_WEIGHTS_ORTHONORMAL;
    c.k[2] = 3;
    cr_expect_null(bfc_target_new(&c, &st));
    cr_expect_not_null(strstr(bfc_last_error(), "orthonormal"));
    bfc_target_defaults(&c);
    c.noise = -1;
    cr_expect_null(bfc_target_new(&c, &st));
    cr_expect_not_null(strstr(bfc_last_error(), "--noise"));
}
