/* test_fsutil.c: directories, atomic writes (including a failing write), whole-file reads,
 * path joining and directory locks. */
#include "bfc.h"
#include "fsutil.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char scratch[512];

static void make_scratch(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(scratch, sizeof scratch, "%s/bfc_fsutil_XXXXXX", t && *t ? t : "/tmp");
    cr_assert_not_null(mkdtemp(scratch), "mkdtemp: %s", strerror(errno));
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(p);
}

static void remove_scratch(void) { nftw(scratch, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

static char *in_scratch(const char *name)
{
    static char buf[4][1024];
    static int k;
    k = (k + 1) % 4;
    cr_assert_eq(bfc_path_join(buf[k], sizeof buf[k], scratch, name), BFC_OK);
    return buf[k];
}

static int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/* Number of entries in scratch whose name contains ".tmp." (left-over temporaries). */
static int count_temporaries(void)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "ls -a '%s' | grep -c '\\.tmp\\.'", scratch);
    FILE *p = popen(cmd, "r");
    int n = -1;
    if (p) {
        if (fscanf(p, "%d", &n) != 1) n = -1;
        pclose(p);
    }
    return n;
}

TestSuite(fsutil, .init = make_scratch, .fini = remove_scratch);

Test(fsutil, mkdir_p_creates_nested_directories_and_accepts_existing_ones)
{
    char *d = in_scratch("a/b//c/");
    cr_assert_eq(bfc_mkdir_p(d), BFC_OK, "%s", bfc_last_error());
    struct stat st;
    cr_assert_eq(stat(in_scratch("a/b/c"), &st), 0);
    cr_assert(S_ISDIR(st.st_mode));
    cr_assert_eq(bfc_mkdir_p(d), BFC_OK, "second call: %s", bfc_last_error());
    cr_assert_eq(bfc_mkdir_p(scratch), BFC_OK);
}

Test(fsutil, mkdir_p_names_the_directory_when_a_parent_is_a_file)
{
    cr_assert_eq(bfc_write_file_atomic(in_scratch("file"), "x", 1), BFC_OK);
    char *d = in_scratch("file/sub");
    cr_assert_eq(bfc_mkdir_p(d), BFC_EIO);
    cr_assert(strstr(bfc_last_error(), d), "message: %s", bfc_last_error());
    cr_assert(strstr(bfc_last_error(), "Not a directory"), "message: %s", bfc_last_error());
    cr_assert_eq(bfc_mkdir_p(""), BFC_EINVAL);
}

Test(fsutil, check_writable_dir_creates_the_directory_and_leaves_nothing_behind)
{
    char *d = in_scratch("out/run1");
    cr_assert_eq(bfc_check_writable_dir(d), BFC_OK, "%s", bfc_last_error());
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "test -z \"$(ls -A '%s')\"", d);
    cr_assert_eq(system(cmd), 0, "probe file left in %s", d);
}

Test(fsutil, check_writable_dir_names_the_directory_it_cannot_use)
{
    cr_assert_eq(bfc_write_file_atomic(in_scratch("plain"), "x", 1), BFC_OK);
    char *d = in_scratch("plain");
    cr_assert_eq(bfc_check_writable_dir(d), BFC_EIO);
    cr_assert(strstr(bfc_last_error(), d), "message: %s", bfc_last_error());
}

Test(fsutil, atomic_write_round_trips_and_replaces_old_content)
{
    char *p = in_scratch("data.txt");
    cr_assert_eq(bfc_write_file_atomic(p, "old content", 11), BFC_OK);
    cr_assert_eq(bfc_write_file_atomic(p, "new", 3), BFC_OK, "%s", bfc_last_error());
    size_t n = 99;
    char *s = bfc_read_file(p, &n);
    cr_assert_not_null(s, "%s", bfc_last_error());
    cr_assert_eq(n, 3);
    cr_assert_str_eq(s, "new");
    free(s);
    cr_assert_eq(count_temporaries(), 0);
}

Test(fsutil, afile_writes_through_its_stream)
{
    char *p = in_scratch("stream.csv");
    bfc_afile *f = bfc_afile_open(p);
    cr_assert_not_null(f, "%s", bfc_last_error());
    cr_assert_not(exists(p), "target must not appear before commit");
    for (int i = 0; i < 1000; i++) fprintf(bfc_afile_fp(f), "%d,%d\n", i, i * i);
    cr_assert_eq(bfc_afile_commit(f), BFC_OK, "%s", bfc_last_error());
    size_t n;
    char *s = bfc_read_file(p, &n);
    cr_assert_not_null(s);
    cr_assert(strncmp(s, "0,0\n1,1\n2,4\n", 12) == 0);
    cr_assert(strstr(s, "999,998001\n") != NULL);
    free(s);
}

Test(fsutil, abort_keeps_the_old_file_and_removes_the_temporary)
{
    char *p = in_scratch("keep.txt");
    cr_assert_eq(bfc_write_file_atomic(p, "keep", 4), BFC_OK);
    bfc_afile *f = bfc_afile_open(p);
    cr_assert_not_null(f);
    fputs("half-written", bfc_afile_fp(f));
    bfc_afile_abort(f);
    bfc_afile_abort(NULL);
    char *s = bfc_read_file(p, NULL);
    cr_assert_str_eq(s, "keep");
    free(s);
    cr_assert_eq(count_temporaries(), 0);
}

Test(fsutil, open_names_the_path_when_its_directory_is_missing)
{
    char *p = in_scratch("no/such/dir/x.txt");
    cr_assert_null(bfc_afile_open(p));
    cr_assert(strstr(bfc_last_error(), p), "message: %s", bfc_last_error());
    cr_assert_eq(bfc_afile_commit(NULL), BFC_EIO, "commit of a failed open reports failure");
    cr_assert_eq(bfc_write_file_atomic(p, "x", 1), BFC_EIO);
}

/* A write that fails part-way (here: the file size limit, as a full disk would) must make
 * commit fail, leave no temporary file and leave the target untouched. Run in a child so
 * that the limit does not outlive the check. */
Test(fsutil, commit_fails_cleanly_when_a_write_fails)
{
    char *p = in_scratch("big.bin");
    cr_assert_eq(bfc_write_file_atomic(p, "previous", 8), BFC_OK);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {.rlim_cur = 4096, .rlim_max = RLIM_INFINITY};
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0) _exit(10);
        static char big[1 << 16];
        memset(big, 'z', sizeof big);
        int rc = bfc_write_file_atomic(p, big, sizeof big);
        if (rc != BFC_EIO) _exit(11);
        if (!strstr(bfc_last_error(), p)) _exit(12);
        _exit(0);
    }
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status), "child died");
    cr_assert_eq(WEXITSTATUS(status), 0, "child check %d failed", WEXITSTATUS(status));
    char *s = bfc_read_file(p, NULL);
    cr_assert_str_eq(s, "previous");
    free(s);
    cr_assert_eq(count_temporaries(), 0);
}

/* The reason of a failed write reaches the message: a full disk says so ("No space left on
 * device"), not "Input/output error". The temporary file is made a link to /dev/full, which
 * fails every write with ENOSPC. */
Test(fsutil, a_full_disk_is_named_as_such)
{
    char *p = in_scratch("full.bin"), tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", p, (long)getpid());
    cr_assert_eq(symlink("/dev/full", tmp), 0, "symlink: %s", strerror(errno));
    static char big[1 << 16];
    memset(big, 'z', sizeof big);
    cr_assert_eq(bfc_write_file_atomic(p, big, sizeof big), BFC_EIO);
    cr_expect_not_null(strstr(bfc_last_error(), strerror(ENOSPC)), "%s", bfc_last_error());
    cr_expect_not_null(strstr(bfc_last_error(), p), "%s", bfc_last_error());
    cr_expect(!exists(p), "a failed write left %s", p);
    cr_expect_eq(count_temporaries(), 0);
    /* a small write fails only when stdio flushes at commit: the same reason */
    cr_assert_eq(symlink("/dev/full", tmp), 0);
    cr_assert_eq(bfc_write_file_atomic(p, "x", 1), BFC_EIO);
    cr_expect_not_null(strstr(bfc_last_error(), strerror(ENOSPC)), "%s", bfc_last_error());
}

/* One process at a time holds a directory; the one refused is told who holds it, and the
 * lock is free again once released. The second locker runs in a child process, since a
 * process may take its own flock twice through two descriptors. */
Test(fsutil, dir_lock_refuses_a_second_holder_and_names_the_first)
{
    int fd = -1;
    cr_assert_eq(bfc_dir_lock(scratch, "bfc test", 0, &fd), BFC_OK, "%s", bfc_last_error());
    cr_assert_geq(fd, 0);
    char want[64];
    snprintf(want, sizeof want, "pid %ld, bfc test", (long)getpid());
    for (int round = 0; round < 2; round++) {
        pid_t pid = fork();
        cr_assert_neq(pid, -1);
        if (pid == 0) {
            int fd2 = -1, st = bfc_dir_lock(scratch, "bfc other", 0, &fd2);
            if (round == 0) _exit(st == BFC_EINVAL && fd2 < 0 && strstr(bfc_last_error(), want) &&
                                          strstr(bfc_last_error(), scratch)
                                      ? 0
                                      : 1);
            _exit(st == BFC_OK && fd2 >= 0 ? 0 : 2);
        }
        int status = 0;
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "round %d: child check %d",
                  round, WEXITSTATUS(status));
        if (round == 0) bfc_dir_unlock(fd);
    }
    int fd3 = -1;
    cr_expect_eq(bfc_dir_lock(in_scratch("missing"), "bfc test", 0, &fd3), BFC_EIO);
    cr_expect_not_null(strstr(bfc_last_error(), "missing"), "%s", bfc_last_error());
}

/* With a wait, a lock held by a process that is finishing is taken once it is released. */
Test(fsutil, dir_lock_waits_for_a_holder_that_finishes)
{
    int fd = -1;
    cr_assert_eq(bfc_dir_lock(scratch, "bfc test", 0, &fd), BFC_OK, "%s", bfc_last_error());
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        close(fd); /* the parent's lock lives in this descriptor too until closed */
        int fd2 = -1;
        _exit(bfc_dir_lock(scratch, "bfc other", 0, &fd2) == BFC_EINVAL &&
                      bfc_dir_lock(scratch, "bfc other", 30, &fd2) == BFC_OK
                  ? 0
                  : 1);
    }
    usleep(200000);
    bfc_dir_unlock(fd);
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the waiting lock was not taken");
}

Test(fsutil, read_file_names_a_missing_file_and_reads_an_empty_one)
{
    char *p = in_scratch("missing.txt");
    size_t n = 5;
    cr_assert_null(bfc_read_file(p, &n));
    cr_assert(strstr(bfc_last_error(), p), "message: %s", bfc_last_error());
    cr_assert(strstr(bfc_last_error(), "No such file"), "message: %s", bfc_last_error());
    cr_assert_null(bfc_read_file(scratch, &n), "a directory is not a readable file");

    char *e = in_scratch("empty.txt");
    cr_assert_eq(bfc_write_file_atomic(e, NULL, 0), BFC_OK);
    char *s = bfc_read_file(e, &n);
    cr_assert_not_null(s);
    cr_assert_eq(n, 0);
    cr_assert_str_eq(s, "");
    free(s);
}

Test(fsutil, read_file_keeps_embedded_nul_bytes_in_the_length)
{
    char *p = in_scratch("bin");
    const char data[5] = {'a', '\0', 'b', '\0', 'c'};
    cr_assert_eq(bfc_write_file_atomic(p, data, 5), BFC_OK);
    size_t n;
    char *s = bfc_read_file(p, &n);
    cr_assert_eq(n, 5);
    cr_assert_eq(memcmp(s, data, 5), 0);
    cr_assert_eq(s[5], '\0');
    free(s);
}

Test(fsutil, path_join_adds_one_slash_and_refuses_to_truncate)
{
    char out[16];
    cr_assert_eq(bfc_path_join(out, sizeof out, "out", "x.csv"), BFC_OK);
    cr_assert_str_eq(out, "out/x.csv");
    cr_assert_eq(bfc_path_join(out, sizeof out, "out/", "x.csv"), BFC_OK);
    cr_assert_str_eq(out, "out/x.csv");
    cr_assert_eq(bfc_path_join(out, sizeof out, "", "x.csv"), BFC_OK);
    cr_assert_str_eq(out, "x.csv");
    cr_assert_eq(bfc_path_join(out, sizeof out, NULL, "x.csv"), BFC_OK);
    cr_assert_str_eq(out, "x.csv");
    cr_assert_eq(bfc_path_join(out, 10, "out", "x.csv"), BFC_OK, "exactly fits");
    cr_assert_eq(bfc_path_join(out, 9, "out", "x.csv"), BFC_EINVAL);
    cr_assert_str_eq(out, "");
    cr_assert(strstr(bfc_last_error(), "x.csv"), "message: %s", bfc_last_error());
}

Test(fsutil, csv_field_quotes_only_what_needs_it)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_not_null(f);
    bfc_csv_field(f, "plain");
    fputc('|', f);
    bfc_csv_field(f, "a,b");
    fputc('|', f);
    bfc_csv_field(f, "say \"hi\"");
    fputc('|', f);
    bfc_csv_field(f, "two\nlines");
    cr_assert_eq(fclose(f), 0);
    cr_expect_str_eq(buf, "plain|\"a,b\"|\"say \"\"hi\"\"\"|\"two\nlines\"");
    free(buf);
}
