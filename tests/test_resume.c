/* test_resume.c: interrupting `bfc train` (SIGINT, SIGTERM, or SIGKILL between checkpoints) at
 * random moments and resuming with --resume gives bitwise the same results and training curve
 * as an uninterrupted run; checkpoints from another configuration or corrupt ones are refused. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BFC BFC_BINARY_DIR "/bfc"

/* Start bfc train with the common arguments and --out dir: afresh (resume 0), with --resume
 * (1), or afresh over what an earlier run left in dir (2: --force). */
static pid_t start(const char *dir, int resume)
{
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        setenv("OPENBLAS_NUM_THREADS", "1", 1);
        setenv("BFC_BLAS_AUTOFIX", "0", 1);
        if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr)) _exit(99);
        if (resume)
            execl(BFC, "bfc", "train", "--d", "8", "--n", "2048", "--n-test", "1000", "--n-ref",
                  "5000", "--steps", "1500", "--eval-every", "50", "--checkpoint-every", "100",
                  "--quiet", "--out", dir, resume == 1 ? "--resume" : "--force", (char *)NULL);
        else
            execl(BFC, "bfc", "train", "--d", "8", "--n", "2048", "--n-test", "1000", "--n-ref",
                  "5000", "--steps", "1500", "--eval-every", "50", "--checkpoint-every", "100",
                  "--quiet", "--out", dir, (char *)NULL);
        _exit(98);
    }
    return pid;
}

static int finish(pid_t pid)
{
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static char *slurp(const char *dir, const char *name)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    static char bufs[4][1 << 16];
    static int which = 0;
    char *buf = bufs[which++ % 4];
    size_t n = fread(buf, 1, (1 << 16) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* The value text of "key": in a JSON summary. */
static void field(const char *json, const char *key, char *out, size_t cap)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(json, pat);
    cr_assert_not_null(p, "no %s", key);
    p += strlen(pat);
    size_t n = strcspn(p, ",}");
    cr_assert_lt(n, cap);
    memcpy(out, p, n);
    out[n] = '\0';
}

/* The curve without its last column (wall-clock seconds differ between runs). */
static void curve_numbers(const char *csv, char *out, size_t cap)
{
    size_t o = 0;
    for (const char *line = csv; *line;) {
        const char *end = strchr(line, '\n');
        if (!end) end = line + strlen(line);
        const char *cut = end;
        while (cut > line && *cut != ',') cut--;
        size_t n = (size_t)(cut - line);
        cr_assert_lt(o + n + 2, cap);
        memcpy(out + o, line, n);
        o += n;
        out[o++] = '\n';
        line = *end ? end + 1 : end;
    }
    out[o] = '\0';
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static char ref_json[1 << 16], ref_curve[1 << 16];
static double ref_span_s; /* wall time of the uninterrupted run */

static void reference(const char *root)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/ref", root);
    double t0 = now_s();
    cr_assert_eq(finish(start(dir, 0)), 0);
    ref_span_s = now_s() - t0;
    strcpy(ref_json, slurp(dir, "result.json"));
    curve_numbers(slurp(dir, "curve.csv"), ref_curve, sizeof ref_curve);
}

Test(resume, killed_and_resumed_runs_equal_an_uninterrupted_one, .timeout = 240)
{
    char root[] = "/tmp/bfc-resume-XXXXXX";
    cr_assert_not_null(mkdtemp(root));
    reference(root);
    char te_ref[64];
    field(ref_json, "test_error", te_ref, sizeof te_ref);
    const int sigs[] = {SIGINT, SIGKILL, SIGTERM, SIGKILL, SIGINT, SIGKILL};
    unsigned seed = (unsigned)time(NULL);
    int interrupted = 0;
    for (int trial = 0; trial < 6; trial++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/t%d", root, trial);
        int resume = 0, rc = -1, resumed = 0;
        /* interrupt up to three times per trial, at random moments, then let it finish */
        for (int round = 0; round < 4 && rc != 0; round++) {
            pid_t pid = start(dir, resume);
            resumed = resume == 1;
            if (round < 3) {
                /* a random moment within the uninterrupted run's duration, so that fast and
                 * slow machines are interrupted alike */
                double frac = 0.05 + 0.85 * (rand_r(&seed) / (RAND_MAX + 1.0));
                usleep((useconds_t)(frac * ref_span_s * 1e6));
                kill(pid, sigs[(trial + round) % 6]);
            }
            rc = finish(pid);
            if (rc != 0) interrupted++;
            /* results on disk are never partial: whatever exists parses as a whole */
            char *j = slurp(dir, "result.json");
            if (j) cr_expect(strlen(j) > 10 && j[strlen(j) - 2] == '}', "partial result.json");
            char path[8192];
            snprintf(path, sizeof path, "%s/checkpoint.bin", dir);
            /* SIGKILL before the first checkpoint, or after the last one was removed but
             * before the results were all written: afresh, over what the killed run left */
            resume = access(path, F_OK) == 0 ? 1 : 2;
        }
        cr_assert_eq(rc, 0, "trial %d did not finish", trial);
        char te[64], curve[1 << 16];
        field(slurp(dir, "result.json"), "test_error", te, sizeof te);
        cr_expect_str_eq(te, te_ref, "trial %d: test error %s vs %s", trial, te, te_ref);
        curve_numbers(slurp(dir, "curve.csv"), curve, sizeof curve);
        cr_expect_str_eq(curve, ref_curve, "trial %d: training curves differ", trial);
        /* no temporaries left behind by the killed writers once the run has resumed */
        char ls[8400];
        snprintf(ls, sizeof ls, "ls %s | grep -q '\\.tmp\\.'", dir);
        if (resumed)
            cr_expect_neq(system(ls), 0, "trial %d: temporary files left in %s", trial, dir);
    }
    cr_log_info("%d interruptions over 6 trials; uninterrupted run %.2f s", interrupted,
                ref_span_s);
    char rm[4200];
    snprintf(rm, sizeof rm, "rm -rf %s", root);
    cr_expect_eq(system(rm), 0);
    cr_expect_gt(interrupted, 0, "no run was interrupted: the test did not test anything");
}

Test(resume, refuses_a_checkpoint_from_another_configuration_or_a_corrupt_one)
{
    char root[] = "/tmp/bfc-resume-XXXXXX";
    cr_assert_not_null(mkdtemp(root));
    char dir[4096], cmd[16384], path[8192];
    snprintf(dir, sizeof dir, "%s/r", root);
    pid_t pid = start(dir, 0);
    /* interrupt as soon as the first periodic checkpoint exists */
    snprintf(path, sizeof path, "%s/checkpoint.bin", dir);
    int status, rc = -1;
    for (;;) {
        if (waitpid(pid, &status, WNOHANG) == pid) {
            rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            break;
        }
        if (access(path, F_OK) == 0) {
            kill(pid, SIGINT);
            rc = finish(pid);
            break;
        }
        usleep(2000);
    }
    if (rc == 0 || access(path, F_OK) != 0) {
        snprintf(cmd, sizeof cmd, "rm -rf %s", root);
        cr_expect_eq(system(cmd), 0);
        cr_skip_test("the run ended before the signal");
    }
    snprintf(cmd, sizeof cmd,
             "BFC_BLAS_AUTOFIX=0 %s train --d 8 --n 2048 --n-test 1000 --n-ref 5000 --steps 1500 "
             "--eval-every 50 --lr 1e-3 --quiet --out %s --resume 2>%s/err.txt",
             BFC, dir, root);
    cr_expect_neq(system(cmd), 0);
    char *err = slurp(root, "err.txt");
    cr_expect_not_null(strstr(err, "another configuration"), "%s", err);
    /* flip one byte in the middle: the checksum catches it */
    FILE *f = fopen(path, "r+b");
    fseek(f, 1000, SEEK_SET);
    int c = fgetc(f);
    fseek(f, 1000, SEEK_SET);
    fputc(c ^ 0x5a, f);
    fclose(f);
    snprintf(cmd, sizeof cmd,
             "BFC_BLAS_AUTOFIX=0 %s train --d 8 --n 2048 --n-test 1000 --n-ref 5000 --steps 1500 "
             "--eval-every 50 --checkpoint-every 100 --quiet --out %s --resume 2>%s/err.txt",
             BFC, dir, root);
    cr_expect_neq(system(cmd), 0);
    err = slurp(root, "err.txt");
    cr_expect_not_null(strstr(err, "checksum"), "%s", err);
    /* --resume without --out */
    snprintf(cmd, sizeof cmd, "%s train --resume --quiet 2>%s/err.txt", BFC, root);
    cr_expect_neq(system(cmd), 0);
    err = slurp(root, "err.txt");
    cr_expect_not_null(strstr(err, "--resume needs --out"), "%s", err);
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    cr_expect_eq(system(cmd), 0);
}

/* Start the common run into dir and stop it with SIGINT as soon as its first periodic
 * checkpoint exists (step 100 of 1500 in stage 2, the first stage). Returns the exit code,
 * or −1 if the run ended first. */
static int interrupt_at_first_checkpoint(const char *dir)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/checkpoint.bin", dir);
    pid_t pid = start(dir, 0);
    int status;
    for (;;) {
        if (waitpid(pid, &status, WNOHANG) == pid) return -1;
        if (access(path, F_OK) == 0) {
            kill(pid, SIGINT);
            return finish(pid);
        }
        usleep(2000);
    }
}

/* An interrupted run's result files hold what was measured and nothing else: its status,
 * the errors at the moment it stopped, no end-of-stage values for the stages it did not
 * finish (absent from result.csv, null in result.json), and no stage that does not exist. */
Test(resume, an_interrupted_run_writes_only_what_it_measured, .timeout = 120)
{
    char root[] = "/tmp/bfc-resume-XXXXXX";
    cr_assert_not_null(mkdtemp(root));
    char dir[4096], cmd[8192];
    snprintf(dir, sizeof dir, "%s/r", root);
    int rc = interrupt_at_first_checkpoint(dir);
    if (rc == -1) cr_skip_test("the run ended before the signal");
    cr_assert_eq(rc, 130);
    const char *json = slurp(dir, "result.json");
    cr_assert_not_null(json);
    cr_expect_not_null(strstr(json, "\"status\":\"interrupted\""), "%s", json);
    cr_expect_not_null(strstr(json, "\"stage_top\":[2,3]"), "%s", json);
    cr_expect_not_null(strstr(json, "\"stages_done\":0"), "%s", json);
    cr_expect_not_null(strstr(json, "\"feature_error_end_of_stage\":[null,null]"), "%s", json);
    cr_expect_not_null(strstr(json, "\"test_error_end_of_stage\":[null,null]"), "%s", json);
    const char *csv = slurp(dir, "result.csv");
    cr_assert_not_null(csv);
    cr_expect_not_null(strstr(csv, "\ne2e,8,3,2048,0,status,interrupted\n"), "%s", csv);
    cr_expect_null(strstr(csv, "_stage_"), "end-of-stage rows of unfinished stages: %s", csv);
    cr_expect_not_null(strstr(csv, ",test_error,"), "%s", csv); /* measured when it stopped */
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    cr_expect_eq(system(cmd), 0);
}

/* A checkpoint that cannot be written (a full disk, simulated for checkpoint.bin alone by
 * BFC_FAULT_FULL_DISK, src/fsutil.h) does not cost the run: training goes on, the results
 * are written with status ok and every stage, and the failure is reported. */
Test(resume, a_checkpoint_that_cannot_be_written_does_not_discard_the_finished_run,
     .timeout = 120)
{
    char root[] = "/tmp/bfc-resume-XXXXXX";
    cr_assert_not_null(mkdtemp(root));
    char cmd[16384];
    snprintf(cmd, sizeof cmd,
             "BFC_FAULT_FULL_DISK=checkpoint.bin BFC_BLAS_AUTOFIX=0 %s train --d 8 --n 1000 "
             "--n-test 500 --n-ref 5000 --steps 300 --quiet --out %s/r 2>%s/err.txt",
             BFC, root, root);
    int rc = system(cmd);
    cr_expect(WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "exit %d", rc);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/r", root);
    const char *err = slurp(root, "err.txt");
    cr_expect_not_null(strstr(err, "1 checkpoint could not be written"), "%s", err);
    cr_expect_not_null(strstr(err, "No space left on device"), "%s", err);
    const char *json = slurp(dir, "result.json");
    cr_assert_not_null(json, "no result.json");
    cr_expect_not_null(strstr(json, "\"status\":\"ok\""), "%s", json);
    cr_expect_not_null(strstr(json, "\"stages_done\":2"), "%s", json);
    cr_expect_not_null(strstr(json, "\"checkpoint_failures\":1"), "%s", json);
    const char *csv = slurp(dir, "result.csv");
    cr_assert_not_null(csv, "no result.csv");
    cr_expect_not_null(strstr(csv, ",status,ok\n"), "%s", csv);
    cr_expect_not_null(strstr(csv, ",feature_error_2_stage_3,"), "%s", csv);
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    cr_expect_eq(system(cmd), 0);
}

/* Every flag of `bfc train --help` changes the run's identity, and so a resume with it
 * changed is refused, except those that cannot change the run's numbers. A flag added to
 * the command without an entry here fails the test. */
static const struct {
    const char *flag, *changed; /* changed: the flag with another value; NULL: exempt */
} flag_changes[] = {
    {"d", "--d 9"},
    {"L", "--L 4"},
    {"k", "--k 4"},
    {"J", "--J 3:2,1"},
    {"gap", "--gap 0.2"},
    {"alpha", "--alpha 1,0.3"},
    {"noise", "--noise 0.1"},
    {"input", "--input sphere"},
    {"weights", "--weights orthonormal"},
    {"task", "--task classification"},
    {"n-ref", "--n-ref 5001"},
    {"n", "--n 2047"},
    {"n-test", "--n-test 999"},
    {"seed", "--seed 1"},
    {"target-seed", "--target-seed 1"},
    {"data", NULL},       /* another data set: its directory is part of the identity, but
                             --data conflicts with the drawing flags of this run */
    {"out", NULL},        /* where the run is */
    {"json", NULL},       /* outputs and progress only */
    {"force", NULL},      /* whether an older run's results may be replaced */
    {"quiet", NULL},
    {"threads", NULL},    /* train runs one BLAS thread unless told; results are compared
                             bitwise at one thread */
    {"schedule", "--schedule layerwise"},
    {"steps", "--steps 1501"},
    {"batch", "--batch 128"},
    {"optimizer", "--optimizer sgd"},
    {"lr", "--lr 1e-3"},
    {"momentum", "--momentum 0.8"},
    {"no-cosine", "--no-cosine"},
    {"clip", "--clip 1"},
    {"clamp", "--clamp 4"},
    {"lambda-tie", "--lambda-tie 0.5"},
    {"lambda-tie-last", "--lambda-tie-last 0"},
    {"lambda-wd", "--lambda-wd 1e-4"},
    {"m", "--m 10"},
    {"width-mult", "--width-mult 3"},
    {"p-extra", "--p-extra 3"},
    {"init-scale", "--init-scale 0.2"},
    {"precision", "--precision single"},
    {"eval-every", "--eval-every 25"},
    {"checkpoint-every", NULL}, /* when checkpoints are written, not what is computed */
    {"resume", NULL},
};

Test(resume, changing_any_training_flag_refuses_the_resume, .timeout = 180)
{
    const size_t nf = sizeof flag_changes / sizeof flag_changes[0];
    char root[] = "/tmp/bfc-resume-XXXXXX";
    cr_assert_not_null(mkdtemp(root));
    char dir[4096], cmd[16384];
    /* every flag --help lists has an entry */
    snprintf(cmd, sizeof cmd, "%s train --help > %s/help.txt", BFC, root);
    cr_assert_eq(system(cmd), 0);
    const char *help = slurp(root, "help.txt");
    int listed = 0;
    for (const char *p = help; (p = strstr(p, "\n  --"));) {
        p += 5;
        size_t n = strcspn(p, " =\n");
        int found = 0;
        for (size_t i = 0; i < nf; i++)
            found |= strlen(flag_changes[i].flag) == n && !strncmp(flag_changes[i].flag, p, n);
        cr_expect(found, "--%.*s has no entry in flag_changes", (int)n, p);
        listed++;
    }
    cr_expect_eq((size_t)listed, nf, "--help lists %d flags, the table %zu", listed, nf);

    snprintf(dir, sizeof dir, "%s/r", root);
    int rc = interrupt_at_first_checkpoint(dir);
    if (rc == -1) cr_skip_test("the run ended before the signal");
    cr_assert_eq(rc, 130);
    for (size_t i = 0; i < nf; i++) {
        if (!flag_changes[i].changed) continue;
        snprintf(cmd, sizeof cmd,
                 "BFC_BLAS_AUTOFIX=0 %s train --d 8 --n 2048 --n-test 1000 --n-ref 5000 --steps "
                 "1500 --eval-every 50 --checkpoint-every 100 --quiet --out %s --resume %s "
                 "2>%s/err.txt",
                 BFC, dir, flag_changes[i].changed, root);
        rc = system(cmd);
        cr_expect(WIFEXITED(rc) && WEXITSTATUS(rc) == 1, "%s: exit %d", flag_changes[i].changed,
                  rc);
        const char *err = slurp(root, "err.txt");
        cr_expect_not_null(strstr(err, "another configuration"), "%s: %s",
                           flag_changes[i].changed, err);
    }
    /* the exempt flags do not: the run resumes and finishes */
    snprintf(cmd, sizeof cmd,
             "BFC_BLAS_AUTOFIX=0 %s train --d 8 --n 2048 --n-test 1000 --n-ref 5000 --steps "
             "1500 --eval-every 50 --checkpoint-every 300 --threads 1 --json --quiet --out %s "
             "--resume > /dev/null 2>%s/err.txt",
             BFC, dir, root);
    rc = system(cmd);
    cr_expect(WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "exempt flags: exit %d: %s", rc,
              slurp(root, "err.txt"));
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    cr_expect_eq(system(cmd), 0);
}
