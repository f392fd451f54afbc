/* test_sweep_kill.c: killing `bfc sweep` at random moments (SIGINT, SIGTERM, or SIGKILL to
 * the whole process group, a bounded number of times) never leaves a partial result file, and
 * the resumed sweep's results equal those of an uninterrupted sweep (timings aside). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"

#define BFC BFC_BINARY_DIR "/bfc"

static const char config[] =
    "{\"targets\": [{\"name\": \"T\", \"d\": 4, \"L\": 3, \"n_ref\": 2000, \"n_test\": 200}],\n"
    " \"methods\": [{\"name\": \"e2e\", \"command\": \"train\", \"args\": {\"steps\": 150, "
    "\"batch\": 32, \"eval_every\": 50}},\n"
    "              {\"name\": \"layerwise\", \"command\": \"train\", \"args\": {\"schedule\": "
    "\"layerwise\", \"steps\": 150, \"batch\": 32, \"eval_every\": 50}}],\n"
    " \"n\": [64, 128], \"seeds\": [0, 1, 2]}\n";

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static pid_t start_sweep(const char *cfg, const char *out)
{
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        setpgid(0, 0); /* its own group: SIGKILL reaches the cells too */
        setenv("BFC_BLAS_AUTOFIX", "0", 1);
        if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr)) _exit(99);
        execl(BFC, "bfc", "sweep", cfg, "--out", out, "--jobs", "2", "--quiet", (char *)NULL);
        _exit(98);
    }
    setpgid(pid, pid);
    return pid;
}

static int wait_rc(pid_t pid)
{
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The rows of results.csv that are results, not timings, sorted, as one string. */
static char *result_rows(const char *out)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/results.csv", out);
    size_t n = 0;
    char *csv = bfc_read_file(path, &n);
    cr_assert_not_null(csv, "no %s", path);
    char **rows = calloc(4096, sizeof *rows);
    int nr = 0;
    for (char *save = NULL, *line = strtok_r(csv, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save))
        if ((strstr(line, ",test_error") || strstr(line, ",feature_error")) && nr < 4096)
            rows[nr++] = line;
    for (int i = 0; i < nr; i++)
        for (int j = i + 1; j < nr; j++)
            if (strcmp(rows[j], rows[i]) < 0) {
                char *t = rows[i];
                rows[i] = rows[j];
                rows[j] = t;
            }
    char *joined = calloc(n + 1, 1);
    for (int i = 0; i < nr; i++) {
        strcat(joined, rows[i]);
        strcat(joined, "\n");
    }
    free(rows);
    free(csv);
    return joined;
}

/* Every result.csv/result.json under out/cells is whole: the CSV ends with a newline after
 * its header, the JSON with '}'. */
static void no_partial_results(const char *out)
{
    char cells[4400];
    snprintf(cells, sizeof cells, "%s/cells", out);
    DIR *d = opendir(cells);
    if (!d) return;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        char path[8800];
        size_t n = 0;
        snprintf(path, sizeof path, "%s/%s/result.csv", cells, e->d_name);
        char *t = bfc_read_file(path, &n);
        if (t) {
            cr_expect(n > 0 && t[n - 1] == '\n' && !strncmp(t, "method,", 7), "partial %s", path);
            free(t);
        }
        snprintf(path, sizeof path, "%s/%s/result.json", cells, e->d_name);
        t = bfc_read_file(path, &n);
        if (t) {
            while (n && (t[n - 1] == '\n' || t[n - 1] == ' ')) n--;
            cr_expect(n > 0 && t[n - 1] == '}', "partial %s", path);
            free(t);
        }
    }
    closedir(d);
}

Test(sweep_kill, killed_sweeps_resume_to_the_results_of_an_uninterrupted_one, .timeout = 600)
{
    char root[] = "/tmp/bfc-sweepkill-XXXXXX";
    cr_assert_not_null(mkdtemp(root));
    char cfg[4200], out[4300];
    snprintf(cfg, sizeof cfg, "%s/tiny.json", root);
    cr_assert_eq(bfc_write_file_atomic(cfg, config, strlen(config)), 0);
    snprintf(out, sizeof out, "%s/ref", root);
    double t0 = now_s();
    cr_assert_eq(wait_rc(start_sweep(cfg, out)), 0);
    /* Kill moments are drawn as fractions of the uninterrupted sweep's duration, so a fast
     * machine is interrupted as surely as a slow one. */
    double span_s = now_s() - t0;
    char *ref = result_rows(out);
    cr_assert(strlen(ref) > 100, "reference has too few rows: %s", ref);

    const int sigs[] = {SIGINT, SIGKILL, SIGTERM, SIGKILL};
    unsigned seed = (unsigned)time(NULL);
    int interrupted = 0;
    for (int trial = 0; trial < 4; trial++) {
        snprintf(out, sizeof out, "%s/t%d", root, trial);
        int rc = -1;
        for (int round = 0; round < 4 && rc != 0; round++) {
            pid_t pid = start_sweep(cfg, out);
            if (round < 3) {
                double frac = 0.05 + 0.85 * (rand_r(&seed) / (RAND_MAX + 1.0));
                usleep((useconds_t)(frac * span_s * 1e6));
                int sig = sigs[(trial + round) % 4];
                if (sig == SIGKILL) kill(-pid, SIGKILL); /* the sweep and its cells */
                else kill(pid, sig);
            }
            rc = wait_rc(pid);
            if (rc != 0) {
                interrupted++;
                /* a SIGINT'd sweep waits for its cells; after SIGKILL wait for the orphans */
                kill(-pid, SIGKILL);
                usleep(100000);
            }
            no_partial_results(out);
        }
        cr_assert_eq(rc, 0, "trial %d did not finish", trial);
        char *got = result_rows(out);
        cr_expect_str_eq(got, ref, "trial %d: results differ from the uninterrupted sweep", trial);
        free(got);
    }
    cr_expect_gt(interrupted, 0,
                 "no sweep was interrupted (uninterrupted sweep took %.2f s): the test did not "
                 "test anything",
                 span_s);
    cr_log_info("%d of up to 12 sweep runs interrupted; uninterrupted sweep %.2f s", interrupted,
                span_s);
    free(ref);
    char rm[4300];
    snprintf(rm, sizeof rm, "rm -rf %s", root);
    cr_expect_eq(system(rm), 0);
}
