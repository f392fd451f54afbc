/* scratch.h: temporary directories for the tests, removed with their contents when the
 * test process exits (Criterion runs each test in its own process), so a test run leaves
 * nothing behind in the temporary directory. Header-only: each test file includes it once.
 *
 *   char *dir = bfc_test_tmpdir("bfc-cli");   $TMPDIR (or /tmp)/bfc-cli-XXXXXX, malloc'd */
#ifndef BFC_TEST_SCRATCH_H
#define BFC_TEST_SCRATCH_H

#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BFC_TEST_MAX_SCRATCH 64
static char *bfc_test_scratch_dirs[BFC_TEST_MAX_SCRATCH];
static int bfc_test_n_scratch = 0;

static int bfc_test_rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path); /* best effort: go on with the rest */
    return 0;
}

static void bfc_test_remove_scratch(void)
{
    for (int i = 0; i < bfc_test_n_scratch; i++)
        if (bfc_test_scratch_dirs[i]) nftw(bfc_test_scratch_dirs[i], bfc_test_rm_entry, 16,
                                           FTW_DEPTH | FTW_PHYS);
    bfc_test_n_scratch = 0;
}

static char *bfc_test_tmpdir(const char *prefix)
{
    const char *t = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/%s-XXXXXX", t && *t ? t : "/tmp", prefix);
    cr_assert_not_null(mkdtemp(path), "mkdtemp %s failed", path);
    char *p = strdup(path);
    cr_assert_not_null(p);
    if (bfc_test_n_scratch == 0) atexit(bfc_test_remove_scratch);
    if (bfc_test_n_scratch < BFC_TEST_MAX_SCRATCH)
        bfc_test_scratch_dirs[bfc_test_n_scratch++] = p;
    return p;
}

#endif
