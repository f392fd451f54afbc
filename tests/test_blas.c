/* test_blas.c: the OpenBLAS core decision table, the re-exec plan and status under each
 * environment (checked in child processes, which never exec), threads and metadata. */
#include "bfc.h"
#include "blas.h"
#include "json.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

Test(blas, better_core_upgrades_only_misdetected_cores)
{
    struct {
        const char *running;
        int avx2, skx, bf16;
        const char *want;
    } cases[] = {
        {"Prescott", 1, 1, 1, "Cooperlake"},  /* the Debian 0.3.21 misdetection */
        {"Prescott", 1, 1, 0, "SkylakeX"},
        {"Prescott", 1, 0, 0, "Haswell"},
        {"Prescott", 0, 0, 0, NULL},          /* an old CPU: Prescott is right */
        {"prescott", 1, 1, 0, "SkylakeX"},    /* names are case-insensitive */
        {"Nehalem", 1, 0, 0, "Haswell"},
        {"Sandybridge", 1, 1, 0, "SkylakeX"},
        {"Sandybridge", 0, 0, 0, NULL},
        {"Core2", 1, 1, 1, "Cooperlake"},
        {"Atom", 1, 0, 0, "Haswell"},
        {"Bulldozer", 1, 0, 0, "Haswell"},
        {"Excavator", 1, 0, 0, "Haswell"},
        {"Barcelona", 0, 0, 0, NULL},
        {"Haswell", 1, 0, 0, NULL},           /* AVX2-only CPU: Haswell is the best */
        {"Haswell", 1, 1, 0, "SkylakeX"},
        {"Haswell", 1, 1, 1, "Cooperlake"},
        {"Zen", 1, 0, 0, NULL},
        {"Zen", 1, 1, 1, "Cooperlake"},
        {"SkylakeX", 1, 1, 0, NULL},
        {"SkylakeX", 1, 1, 1, NULL},          /* same double-precision kernels */
        {"Cooperlake", 1, 1, 1, NULL},
        {"SapphireRapids", 1, 1, 1, NULL},
        {"ARMV8", 0, 0, 0, NULL},             /* unknown to the table: left alone */
        {"NeoverseN1", 1, 1, 1, NULL},
        {"", 1, 1, 1, NULL},
        {NULL, 1, 1, 1, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *got = bfc_blas_better_core(cases[i].running, cases[i].avx2, cases[i].skx,
                                               cases[i].bf16);
        const char *want = cases[i].want;
        cr_assert((got == NULL) == (want == NULL) && (!got || strcmp(got, want) == 0),
                  "%s on avx2=%d skx=%d bf16=%d: got %s, want %s",
                  cases[i].running ? cases[i].running : "(null)", cases[i].avx2, cases[i].skx,
                  cases[i].bf16, got ? got : "NULL", want ? want : "NULL");
    }
}

/* Run fn in a child with a clean BFC/OpenBLAS environment plus setup (NAME=VALUE pairs,
 * VALUE NULL to unset), and return what it printed. The child must never exec: a
 * stray exec would run the test binary with --version and print no "result:" line. */
typedef void (*child_fn)(char *out, size_t cap);

static void run_child(child_fn fn, const char *const *setup, char *out, size_t cap)
{
    int fd[2];
    cr_assert_eq(pipe(fd), 0);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        close(fd[0]);
        unsetenv("BFC_BLAS_AUTOFIX");
        unsetenv("BFC_BLAS_REEXEC");
        unsetenv("BFC_BLAS_ORIG_CORE");
        unsetenv("BFC_BLAS_ASSUME_CORE");
        unsetenv("OPENBLAS_CORETYPE");
        for (; setup && setup[0]; setup += 2)
            setup[1] ? setenv(setup[0], setup[1], 1) : unsetenv(setup[0]);
        char buf[512] = "result: ";
        fn(buf + 8, sizeof buf - 8);
        ssize_t w = write(fd[1], buf, strlen(buf));
        _exit(w < 0);
    }
    close(fd[1]);
    size_t n = 0;
    ssize_t r;
    while (n + 1 < cap && (r = read(fd[0], out + n, cap - 1 - n)) > 0) n += (size_t)r;
    out[n] = '\0';
    close(fd[0]);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child failed");
    cr_assert(strncmp(out, "result: ", 8) == 0, "child gave no result: '%s'", out);
    memmove(out, out + 8, strlen(out + 8) + 1);
}

static void plan_child(char *out, size_t cap)
{
    char core[64] = "garbage";
    int r = bfc_blas_plan(core, sizeof core);
    snprintf(out, cap, "%d %s", r, r ? core : (core[0] ? "not-cleared" : "-"));
}

static void autofix_child(char *out, size_t cap)
{
    char *argv[] = {"test_blas", "--version", NULL};
    bfc_blas_autofix(2, argv);
    snprintf(out, cap, "%s", bfc_blas_fix_status());
}

/* Which core a Prescott-running OpenBLAS should switch to on this very CPU. */
static const char *expected_for_prescott(void)
{
    int avx2, skx, bf16;
    bfc_cpu_isa(&avx2, &skx, &bf16);
    return bfc_blas_better_core("Prescott", avx2, skx, bf16);
}

Test(blas, plans_a_reexec_when_openblas_runs_prescott_on_a_modern_cpu)
{
    const char *setup[] = {"BFC_BLAS_ASSUME_CORE", "Prescott", NULL};
    char out[256];
    run_child(plan_child, setup, out, sizeof out);
    const char *want = expected_for_prescott();
    char expect[80];
    snprintf(expect, sizeof expect, "%d %s", want != NULL, want ? want : "-");
    cr_assert_str_eq(out, expect);
}

Test(blas, never_plans_a_reexec_when_disabled_set_by_env_or_already_reexecuted)
{
    const char *disabled[] = {"BFC_BLAS_ASSUME_CORE", "Prescott", "BFC_BLAS_AUTOFIX", "0", NULL};
    const char *by_env[] = {"BFC_BLAS_ASSUME_CORE", "Prescott", "OPENBLAS_CORETYPE", "Prescott",
                            NULL};
    const char *again[] = {"BFC_BLAS_ASSUME_CORE", "Prescott", "BFC_BLAS_REEXEC", "1", NULL};
    const char *fine[] = {"BFC_BLAS_ASSUME_CORE", "SkylakeX", NULL};
    const char *const *cases[] = {disabled, by_env, again, fine};
    for (size_t i = 0; i < 4; i++) {
        char out[256];
        run_child(plan_child, cases[i], out, sizeof out);
        cr_assert_str_eq(out, "0 -", "case %zu", i);
    }
}

Test(blas, autofix_reports_its_decision)
{
    char out[256];
    const char *disabled[] = {"BFC_BLAS_AUTOFIX", "0", "BFC_BLAS_ASSUME_CORE", "Prescott", NULL};
    run_child(autofix_child, disabled, out, sizeof out);
    cr_assert_str_eq(out, "disabled");

    const char *by_env[] = {"OPENBLAS_CORETYPE", "Haswell", NULL};
    run_child(autofix_child, by_env, out, sizeof out);
    cr_assert_str_eq(out, "env: OPENBLAS_CORETYPE=Haswell");

    const char *fine[] = {"BFC_BLAS_ASSUME_CORE", "SkylakeX", NULL};
    run_child(autofix_child, fine, out, sizeof out);
    cr_assert_str_eq(out, "detected");
}

Test(blas, reexecuted_process_reports_old_and_new_core)
{
    /* As the re-executed process sees it: OPENBLAS_CORETYPE names the core now running. */
    const char *core = bfc_blas_core();
    const char *child_env[] = {"BFC_BLAS_REEXEC", "1", "BFC_BLAS_ORIG_CORE", "Prescott",
                               "OPENBLAS_CORETYPE", core, "BFC_BLAS_ASSUME_CORE", "Prescott",
                               NULL}; /* the hook, still set after a hooked re-exec */
    char out[256], want[128];
    run_child(autofix_child, child_env, out, sizeof out);
    snprintf(want, sizeof want, "auto: Prescott -> %s", core);
    cr_assert_str_eq(out, want);

    /* and says so when OpenBLAS did not take the requested core */
    const char *ignored[] = {"BFC_BLAS_REEXEC", "1", "BFC_BLAS_ORIG_CORE", "Prescott",
                             "OPENBLAS_CORETYPE", "NoSuchCore", NULL};
    run_child(autofix_child, ignored, out, sizeof out);
    snprintf(want, sizeof want, "auto: Prescott -> NoSuchCore requested, but OpenBLAS runs %s",
             core);
    cr_assert_str_eq(out, want);
}

Test(blas, status_says_not_run_before_autofix)
{
    cr_assert_str_eq(bfc_blas_fix_status(), "not run");
    cr_assert(strlen(bfc_blas_core()) > 0);
}

Test(blas, thread_count_can_be_set_and_read)
{
    int before = bfc_blas_threads();
    cr_assert_geq(before, 1);
    bfc_blas_set_threads(1);
    cr_assert_eq(bfc_blas_threads(), 1);
    bfc_blas_set_threads(0); /* all online cores */
    cr_assert_geq(bfc_blas_threads(), 1);
    bfc_blas_set_threads(before);
    cr_assert_eq(bfc_blas_threads(), before);
}

Test(blas, cpu_model_is_one_clean_line)
{
    const char *m = bfc_cpu_model();
    cr_assert(strlen(m) > 0);
    cr_assert_null(strchr(m, '\n'));
    cr_assert_neq(m[strlen(m) - 1], ' ');
    cr_assert_eq(m, bfc_cpu_model(), "static storage, same pointer");
}

Test(blas, meta_holds_the_run_provenance)
{
    bfc_jw j;
    bfc_jw_init(&j);
    bfc_jw_obj_begin(&j);
    bfc_meta_write(&j);
    bfc_jw_obj_end(&j);
    cr_assert_not(j.failed);
    char err[256];
    bfc_json *v = bfc_json_parse(j.buf, err, sizeof err);
    cr_assert_not_null(v, "%s\n%s", err, j.buf);
    const char *keys[] = {"bfc_version", "commit", "compiler", "blas_core",
                          "blas_fix", "cpu", "date_utc"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        const char *s = bfc_json_string(bfc_json_get(v, keys[i]));
        cr_assert(s && *s, "key %s missing or empty in %s", keys[i], j.buf);
    }
    cr_assert_str_eq(bfc_json_string(bfc_json_get(v, "bfc_version")), BFC_VERSION);
    cr_assert_str_eq(bfc_json_string(bfc_json_get(v, "blas_core")), bfc_blas_core());
    double t;
    cr_assert_eq(bfc_json_get_int(v, "blas_threads", &t, "meta"), BFC_OK);
    cr_assert_eq(t, (double)bfc_blas_threads());
    const char *d = bfc_json_string(bfc_json_get(v, "date_utc"));
    int Y, M, D, h, m, s;
    char z;
    cr_assert_eq(sscanf(d, "%4d-%2d-%2dT%2d:%2d:%2d%c", &Y, &M, &D, &h, &m, &s, &z), 7, "%s", d);
    cr_assert(Y >= 2020 && M >= 1 && M <= 12 && z == 'Z', "%s", d);
    cr_assert_eq(strlen(d), 20);
    bfc_json_free(v);
    bfc_jw_free(&j);
}
