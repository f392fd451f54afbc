/* test_sweep_failures.c: a sweep whose cells diverge, or whose finished cell's result file is
 * damaged afterwards, reports those cells with their reasons and keeps them out of the
 * medians (summary.csv) and of results.csv. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fsutil.h"
#include "scratch.h"

#define BFC BFC_BINARY_DIR "/bfc"

static const char config[] =
    "{\"targets\": [{\"name\": \"T\", \"d\": 4, \"L\": 3, \"n_ref\": 2000, \"n_test\": 200}],\n"
    " \"methods\": [{\"name\": \"e2e\", \"command\": \"train\", \"args\": {\"steps\": 150, "
    "\"batch\": 32, \"eval_every\": 50}},\n"
    "              {\"name\": \"wild\", \"command\": \"train\", \"args\": {\"steps\": 150, "
    "\"batch\": 32, \"eval_every\": 50, \"lr\": 1000}}],\n"
    " \"n\": [64], \"seeds\": [0, 1, 2]}\n";

/* bfc sweep CFG --out OUT [extra] --quiet; its exit status. */
static int sweep(const char *cfg, const char *out, const char *extra)
{
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        setenv("BFC_BLAS_AUTOFIX", "0", 1);
        if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr)) _exit(99);
        if (extra)
            execl(BFC, "bfc", "sweep", cfg, "--out", out, "--jobs", "2", extra, "--quiet",
                  (char *)NULL);
        else
            execl(BFC, "bfc", "sweep", cfg, "--out", out, "--jobs", "2", "--quiet", (char *)NULL);
        _exit(98);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static char *read_in(const char *dir, const char *name)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *text = bfc_read_file(path, NULL);
    cr_assert_not_null(text, "no %s", path);
    return text;
}

/* The number of lines of text that contain needle. */
static int count_lines(const char *text, const char *needle)
{
    int k = 0;
    for (const char *p = text; (p = strstr(p, needle)); p++) k++;
    return k;
}

Test(sweep_failures, diverged_and_damaged_cells_are_listed_and_left_out_of_the_medians)
{
    char *dir = bfc_test_tmpdir("bfc-sweep-failures");
    char cfg[4200], out[4200];
    snprintf(cfg, sizeof cfg, "%s/cfg.json", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    FILE *f = fopen(cfg, "w");
    cr_assert_not_null(f);
    fputs(config, f);
    fclose(f);

    /* every cell of wild diverges: the sweep says some cells failed (exit 1) */
    cr_assert_eq(sweep(cfg, out, NULL), 1);
    char *report = read_in(out, "REPORT.md");
    cr_assert_eq(count_lines(report, "- wild on T, n = 64, seed "), 3, "%s", report);
    cr_assert_eq(count_lines(report, "diverged (exit code 3)"), 3);
    char *summary = read_in(out, "summary.csv");
    cr_assert(strstr(summary, "\ne2e,T,64,3,"), "%s", summary);
    cr_assert_null(strstr(summary, "wild"), "a diverged method has a median: %s", summary);
    char *results = read_in(out, "results.csv");
    cr_assert_null(strstr(results, "wild,"), "diverged cells' rows in results.csv");
    cr_assert_eq(count_lines(results, ",test_error,"), 3, "%s", results);
    free(report);
    free(summary);
    free(results);

    /* damage one finished cell's result.csv: the aggregation refuses it, names the cell and
     * takes the median over the two others */
    char cells[4300];
    snprintf(cells, sizeof cells, "%s/cells", out);
    DIR *d = opendir(cells);
    cr_assert_not_null(d);
    char victim[4700] = "";
    for (struct dirent *e; !victim[0] && (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        char path[4600];
        snprintf(path, sizeof path, "%s/%s", cells, e->d_name);
        char *st = read_in(path, "status.json");
        if (strstr(st, "\"method\": \"e2e\"") && strstr(st, "\"status\": \"ok\""))
            snprintf(victim, sizeof victim, "%s/result.csv", path);
        free(st);
    }
    closedir(d);
    cr_assert(victim[0], "no finished e2e cell");
    char *csv = bfc_read_file(victim, NULL);
    cr_assert_not_null(csv);
    char *te = strstr(csv, ",test_error,");
    cr_assert_not_null(te);
    f = fopen(victim, "w");
    cr_assert_not_null(f);
    fprintf(f, "%.*s,test_error,1e999\n%s", (int)(te - csv), csv, strchr(te, '\n') + 1);
    fclose(f);
    free(csv);
    cr_assert_eq(sweep(cfg, out, "--report-only"), 0);
    report = read_in(out, "REPORT.md");
    cr_assert_eq(count_lines(report, "value '1e999' is not a finite number"), 1, "%s", report);
    summary = read_in(out, "summary.csv");
    cr_assert(strstr(summary, "\ne2e,T,64,2,"), "the damaged seed was counted: %s", summary);
    results = read_in(out, "results.csv");
    cr_assert_null(strstr(results, "1e999"));
    cr_assert_eq(count_lines(results, ",test_error,"), 2);
    free(report);
    free(summary);
    free(results);
    free(dir);
}
