/* test_cli_dirs.c: the output directories of bfc train, fit and gen: one run per directory at
 * a time (the second is told who holds it), another run's results are never overwritten or
 * mixed with a new run's unless --force, --resume continues its own run only, a directory
 * written by gen is complete or absent, and the sweep takes over its killed cells. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bfc.h"
#include "cli_run.h"
#include "fsutil.h"
#include "scratch.h"

#define DATA "--d 6 --n 512 --n-test 500 --n-ref 5000 --quiet"
#define SMALL DATA " --steps 50"

static int exists(const char *dir, const char *name)
{
    char p[8448];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

/* The "seed" of DIR/result.json or DIR/target.json, −1 if absent. */
static long seed_in(const char *dir, const char *file, const char *key)
{
    char p[4400], buf[1 << 15], pat[32];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *s = strstr(slurp(p, buf, sizeof buf), pat);
    return s ? strtol(s + strlen(pat), NULL, 10) : -1;
}

Test(cli_dirs, train_and_fit_refuse_a_directory_holding_another_runs_results_unless_forced)
{
    const char *cmds[] = {"train " SMALL, "fit " DATA " --method krr --ridge 1e-3"};
    for (int c = 0; c < 2; c++) {
        char *dir = bfc_test_tmpdir("bfc-dirs"), args[8192];
        snprintf(args, sizeof args, "%s --seed 1 --out %s/r", cmds[c], dir);
        cr_assert_eq(bfc_run(args), 0, "%s", err_buf);
        snprintf(args, sizeof args, "%s --seed 2 --out %s/r", cmds[c], dir);
        cr_expect_eq(bfc_run(args), 2, "%s: %s", cmds[c], err_buf);
        cr_expect_not_null(strstr(err_buf, "result.json"), "%s", err_buf);
        cr_expect_not_null(strstr(err_buf, "--force"), "%s", err_buf);
        char r[4200];
        snprintf(r, sizeof r, "%s/r", dir);
        cr_expect_eq(seed_in(r, "result.json", "seed"), 1, "the first run's results were touched");
        snprintf(args, sizeof args, "%s --seed 2 --out %s/r --force", cmds[c], dir);
        cr_expect_eq(bfc_run(args), 0, "%s", err_buf);
        cr_expect_eq(seed_in(r, "result.json", "seed"), 2);
    }
}

/* A run started under --force removes the previous run's results before it starts, so that
 * when it is killed its checkpoint does not sit beside another run's complete-looking
 * result.json. */
Test(cli_dirs, a_forced_run_that_is_killed_leaves_no_older_results_beside_its_checkpoint)
{
    char *dir = bfc_test_tmpdir("bfc-dirs"), args[8192], r[4200];
    snprintf(r, sizeof r, "%s/r", dir);
    snprintf(args, sizeof args, "train " SMALL " --seed 1 --out %s", r);
    cr_assert_eq(bfc_run(args), 0, "%s", err_buf);
    cr_assert(exists(r, "result.json") && exists(r, "result.csv") && exists(r, "curve.csv"));
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stderr)) _exit(99);
        execl(BFC, "bfc", "train", "--d", "6", "--n", "512", "--n-test", "500", "--n-ref",
              "5000", "--quiet", "--steps", "100000", "--checkpoint-every", "20", "--seed", "2",
              "--out", r, "--force", (char *)NULL);
        _exit(98);
    }
    int waited = 0;
    while (!exists(r, "checkpoint.bin") && waited < 60000) {
        usleep(5000);
        waited += 5;
    }
    kill(pid, SIGKILL);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(exists(r, "checkpoint.bin"), "no checkpoint after %d ms", waited);
    cr_expect(!exists(r, "result.json") && !exists(r, "result.csv"),
              "the older run's results are still beside the new run's checkpoint");
    /* and the interrupted run is recognised as such */
    snprintf(args, sizeof args, "train " SMALL " --seed 3 --out %s", r);
    cr_expect_eq(bfc_run(args), 2);
    cr_expect_not_null(strstr(err_buf, "--resume"), "%s", err_buf);
}

Test(cli_dirs, resume_on_a_finished_run_says_there_is_nothing_to_resume)
{
    char *dir = bfc_test_tmpdir("bfc-dirs"), args[8192];
    snprintf(args, sizeof args, "train " SMALL " --out %s/r", dir);
    cr_assert_eq(bfc_run(args), 0, "%s", err_buf);
    snprintf(args, sizeof args, "train " SMALL " --out %s/r --resume", dir);
    cr_expect_eq(bfc_run(args), 2);
    cr_expect_not_null(strstr(err_buf, "nothing to resume: the run finished"), "%s", err_buf);
    snprintf(args, sizeof args, "train " SMALL " --out %s/empty --resume", dir);
    cr_expect_eq(bfc_run(args), 2);
    cr_expect_not_null(strstr(err_buf, "nothing to resume"), "%s", err_buf);
    cr_expect_eq(bfc_run("train " SMALL " --resume --force --out x"), 2);
    cr_expect_not_null(strstr(err_buf, "--force"), "%s", err_buf);
}

/* While one process holds a directory, a run into it is refused naming the holder's pid. */
Test(cli_dirs, a_run_into_a_directory_in_use_is_refused_naming_the_holder)
{
    char *dir = bfc_test_tmpdir("bfc-dirs"), args[8192], want[64], g[4200];
    int fd = -1;
    cr_assert_eq(bfc_dir_lock(dir, "bfc test", 0, &fd), BFC_OK, "%s", bfc_last_error());
    snprintf(want, sizeof want, "pid %ld, bfc test", (long)getpid());
    const char *cmds[] = {"train " SMALL, "fit " DATA, "train " SMALL " --force"};
    for (int c = 0; c < 3; c++) {
        snprintf(args, sizeof args, "%s --out %s", cmds[c], dir);
        cr_expect_eq(bfc_run(args), 2, "%s: %s", cmds[c], err_buf);
        cr_expect_not_null(strstr(err_buf, want), "%s: '%s' lacks '%s'", cmds[c], err_buf, want);
    }
    bfc_dir_unlock(fd);
    /* gen holds DIR.tmp, where it writes before renaming it to DIR */
    snprintf(g, sizeof g, "%s/g.tmp", dir);
    cr_assert_eq(mkdir(g, 0777), 0);
    cr_assert_eq(bfc_dir_lock(g, "bfc test", 0, &fd), BFC_OK, "%s", bfc_last_error());
    snprintf(args, sizeof args, "gen " DATA " --out %s/g", dir);
    cr_expect_eq(bfc_run(args), 2, "%s", err_buf);
    cr_expect_not_null(strstr(err_buf, want), "'%s' lacks '%s'", err_buf, want);
    bfc_dir_unlock(fd);
    cr_expect_eq(bfc_run(args), 0, "%s", err_buf);
    cr_expect(!exists(dir, "g.tmp"), "the staging directory is left");
}

Test(cli_dirs, gen_replaces_a_target_only_under_force_and_nothing_it_did_not_write)
{
    char *dir = bfc_test_tmpdir("bfc-dirs"), args[8192], g[4200], path[4400];
    snprintf(g, sizeof g, "%s/g", dir);
    snprintf(args, sizeof args, "gen " DATA " --seed 1 --out %s", g);
    cr_assert_eq(bfc_run(args), 0, "%s", err_buf);
    snprintf(args, sizeof args, "gen " DATA " --seed 2 --out %s", g);
    cr_expect_eq(bfc_run(args), 2);
    cr_expect_not_null(strstr(err_buf, "target.json"), "%s", err_buf);
    cr_expect_not_null(strstr(err_buf, "--force"), "%s", err_buf);
    cr_expect_eq(seed_in(g, "target.json", "seed"), 1);
    snprintf(args, sizeof args, "gen " DATA " --seed 2 --out %s --force", g);
    cr_expect_eq(bfc_run(args), 0, "%s", err_buf);
    cr_expect_eq(seed_in(g, "target.json", "seed"), 2);
    cr_expect(!exists(dir, "g.tmp"));
    /* a file gen did not write is never deleted, even under --force */
    snprintf(path, sizeof path, "%s/notes.txt", g);
    FILE *f = fopen(path, "w");
    fputs("mine", f);
    fclose(f);
    cr_expect_eq(bfc_run(args), 2);
    cr_expect_not_null(strstr(err_buf, "notes.txt"), "%s", err_buf);
    cr_expect(exists(g, "notes.txt") && exists(g, "target.json"));
    /* an empty directory is fine */
    snprintf(path, sizeof path, "%s/e", dir);
    cr_assert_eq(mkdir(path, 0777), 0);
    snprintf(args, sizeof args, "gen " DATA " --out %s", path);
    cr_expect_eq(bfc_run(args), 0, "%s", err_buf);
    cr_expect(exists(path, "train_x.npy"));
}

/* A disk that fills up (here: the file-size limit, as a full disk would) is named with its
 * reason, and gen leaves neither the directory nor its staging copy: complete or absent. */
Test(cli_dirs, gen_on_a_full_disk_names_the_reason_and_leaves_no_directory)
{
    char *dir = bfc_test_tmpdir("bfc-dirs"), cmd[8192];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && sh -c 'ulimit -f 64; trap \"\" XFSZ; exec %s gen --d 6 --n 5000 "
             "--n-test 500 --n-ref 5000 --quiet --out g' 2>err.txt",
             dir, BFC);
    int rc = system(cmd);
    cr_expect(WIFEXITED(rc) && WEXITSTATUS(rc) == 1, "exit %d", WEXITSTATUS(rc));
    char p[4400], err[4096];
    snprintf(p, sizeof p, "%s/err.txt", dir);
    slurp(p, err, sizeof err);
    cr_expect_not_null(strstr(err, strerror(EFBIG)), "'%s' does not name the reason", err);
    cr_expect_null(strstr(err, strerror(EIO)), "%s", err);
    cr_expect(!exists(dir, "g") && !exists(dir, "g.tmp"), "gen left a partial directory");
}

/* The sweep owns its cells' directories: a cell whose earlier run was killed (its checkpoint
 * left, its status gone) is run again afresh (the sweep passes --force), and a second sweep
 * into a directory in use is refused naming the holder. */
Test(cli_dirs, a_sweep_reruns_a_killed_cell_and_refuses_a_directory_in_use)
{
    static const char config[] =
        "{\"targets\": [{\"name\": \"T\", \"d\": 4, \"L\": 3, \"n_ref\": 2000, \"n_test\": 200}],"
        " \"methods\": [{\"name\": \"e2e\", \"command\": \"train\", \"args\": {\"steps\": 50,"
        " \"batch\": 32, \"eval_every\": 50}}], \"n\": [64], \"seeds\": [0]}\n";
    char *dir = bfc_test_tmpdir("bfc-dirs"), cfg[1024], out[1024], args[4096], cell[1400];
    snprintf(cfg, sizeof cfg, "%s/tiny.json", dir);
    snprintf(out, sizeof out, "%s/s", dir);
    cr_assert_eq(bfc_write_file_atomic(cfg, config, strlen(config)), BFC_OK);
    snprintf(args, sizeof args, "sweep %s --out %s --quiet", cfg, out);
    cr_assert_eq(bfc_run(args), 0, "%s", err_buf);
    char cells[1100], list[256];
    snprintf(cells, sizeof cells, "%s/cells", out);
    DIR *d = opendir(cells);
    cr_assert_not_null(d);
    list[0] = '\0';
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.') snprintf(list, sizeof list, "%s", e->d_name);
    closedir(d);
    cr_assert(list[0], "no cell in %s", cells);
    snprintf(cell, sizeof cell, "%s/%s", cells, list);
    /* as a run killed after its first checkpoint leaves it */
    char path[1500];
    snprintf(path, sizeof path, "%s/status.json", cell);
    cr_assert_eq(unlink(path), 0);
    snprintf(path, sizeof path, "%s/checkpoint.bin", cell);
    cr_assert_eq(bfc_write_file_atomic(path, "partial", 7), BFC_OK);
    cr_expect_eq(bfc_run(args), 0, "the killed cell was not rerun: %s", err_buf);
    cr_expect(exists(cell, "status.json") && exists(cell, "result.json") &&
              !exists(cell, "checkpoint.bin"));
    int fd = -1;
    char want[64];
    cr_assert_eq(bfc_dir_lock(out, "bfc test", 0, &fd), BFC_OK, "%s", bfc_last_error());
    snprintf(want, sizeof want, "pid %ld, bfc test", (long)getpid());
    cr_expect_neq(bfc_run(args), 0);
    cr_expect_not_null(strstr(err_buf, want), "'%s' lacks '%s'", err_buf, want);
    bfc_dir_unlock(fd);
}
