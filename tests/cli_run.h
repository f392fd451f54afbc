/* cli_run.h: run the bfc executable from a test and capture what it says. Header-only, for
 * the tests of the command-line tool (test_cli.c, test_cli_dirs.c).
 *
 *   int rc = bfc_run("train --d 6 ...");        exit status; stdout in out_buf, stderr in err_buf
 *   int rc = bfc_run_in(dir, "gen --out g");     the same with dir as working directory */
#ifndef BFC_TEST_CLI_RUN_H
#define BFC_TEST_CLI_RUN_H

#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define BFC BFC_BINARY_DIR "/bfc"

static char out_buf[1 << 16], err_buf[1 << 16];

static char *slurp(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, cap - 1, f) : 0;
    buf[n] = '\0';
    if (f) fclose(f);
    return buf;
}

/* Run "bfc <args>" (a shell command line: args may hold redirections or quotes) in cwd (NULL:
 * the test's own); capture stdout and stderr; return the exit code (−1 if killed). */
static int bfc_run_in(const char *cwd, const char *args)
{
    char cmd[8192], po[64], pe[64];
    snprintf(po, sizeof po, "/tmp/bfc-cli-out.%d", (int)getpid());
    snprintf(pe, sizeof pe, "/tmp/bfc-cli-err.%d", (int)getpid());
    snprintf(cmd, sizeof cmd,
             "%s%s%sBFC_BLAS_AUTOFIX=0 OPENBLAS_NUM_THREADS=1 %s %s >%s 2>%s", cwd ? "cd '" : "",
             cwd ? cwd : "", cwd ? "' && " : "", BFC, args, po, pe);
    int rc = system(cmd);
    slurp(po, out_buf, sizeof out_buf);
    unlink(po);
    slurp(pe, err_buf, sizeof err_buf);
    unlink(pe);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static int bfc_run(const char *args) { return bfc_run_in(NULL, args); }

#endif
