/* fsutil.c: directories, atomic file writes (temp + fsync + rename + directory fsync),
 * whole-file reads and path joining, with messages that name the path. */
#include "fsutil.h"

#include "bfc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

int bfc_mkdir_p(const char *dir)
{
    if (!dir || !*dir) return bfc_fail(BFC_EINVAL, "cannot create directory: empty path");
    size_t n = strlen(dir);
    char *p = malloc(n + 1);
    if (!p) return bfc_fail(BFC_ENOMEM, "cannot create directory %s: out of memory", dir);
    memcpy(p, dir, n + 1);
    /* Create each prefix ending before a '/' and then the whole path. */
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != '\0') continue;
        if (p[i - 1] == '/') continue; /* "a//b" or trailing slash */
        char saved = p[i];
        p[i] = '\0';
        if (mkdir(p, 0777) != 0) {
            int err = errno;
            /* EEXIST, but also EROFS/EACCES on an existing directory: fine if it is one. */
            if (!is_dir(p)) {
                if (err == EEXIST) err = ENOTDIR;
                int rc = (i == n) ? bfc_fail(BFC_EIO, "cannot create directory %s: %s", dir,
                                             strerror(err))
                                  : bfc_fail(BFC_EIO, "cannot create directory %s (at %s): %s",
                                             dir, p, strerror(err));
                free(p);
                return rc;
            }
        }
        p[i] = saved;
    }
    free(p);
    return BFC_OK;
}

int bfc_check_writable_dir(const char *dir)
{
    int rc = bfc_mkdir_p(dir);
    if (rc) return rc;
    char probe[4096];
    int m = snprintf(probe, sizeof probe, "%s/.bfc_write_probe.%ld", dir, (long)getpid());
    if (m < 0 || (size_t)m >= sizeof probe)
        return bfc_fail(BFC_EINVAL, "directory name too long: %s", dir);
    int fd = open(probe, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return bfc_fail(BFC_EIO, "directory %s is not writable: %s", dir, strerror(errno));
    int err = 0;
    if (write(fd, "x", 1) != 1) err = errno ? errno : EIO;
    if (close(fd) != 0 && !err) err = errno;
    unlink(probe);
    if (err) return bfc_fail(BFC_EIO, "directory %s is not writable: %s", dir, strerror(err));
    return BFC_OK;
}

int bfc_dir_lock(const char *dir, const char *who, double wait_s, int *fd)
{
    char path[4096];
    *fd = -1;
    int st = bfc_path_join(path, sizeof path, dir, ".lock");
    if (st) return st;
    int lfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lfd < 0) return bfc_fail(BFC_EIO, "cannot lock %s: %s: %s", dir, path, strerror(errno));
    int rc = flock(lfd, LOCK_EX | LOCK_NB);
    for (double waited = 0; rc != 0 && errno == EWOULDBLOCK && waited < wait_s; waited += 0.01) {
        struct timespec ts = {0, 10000000}; /* 10 ms */
        nanosleep(&ts, NULL);
        rc = flock(lfd, LOCK_EX | LOCK_NB);
    }
    if (rc != 0) {
        int err = errno;
        char holder[256] = "";
        ssize_t n = err == EWOULDBLOCK ? pread(lfd, holder, sizeof holder - 1, 0) : -1;
        close(lfd);
        if (err != EWOULDBLOCK) return bfc_fail(BFC_EIO, "cannot lock %s: %s", path, strerror(err));
        holder[n > 0 ? n : 0] = '\0';
        holder[strcspn(holder, "\n")] = '\0';
        return bfc_fail(BFC_EINVAL, "%s is in use by another process (%s): one run per "
                                    "directory at a time",
                        dir, holder[0] ? holder : "it has not said which yet");
    }
    char me[256];
    int m = snprintf(me, sizeof me, "pid %ld, %s\n", (long)getpid(), who ? who : "bfc");
    if (ftruncate(lfd, 0) != 0 || pwrite(lfd, me, (size_t)m, 0) != m) {
        /* the lock holds anyway; only the name of the holder would be missing */
    }
    *fd = lfd;
    return BFC_OK;
}

void bfc_dir_unlock(int fd)
{
    if (fd < 0) return;
    if (ftruncate(fd, 0) != 0) { /* a stale name is harmless: it is only read when locked */
    }
    close(fd); /* releases the lock */
}

struct bfc_afile {
    FILE *fp;  /* a stream over fd that records the first write error (afile_write) */
    int fd;
    int err;   /* errno of the first failed write(2): ENOSPC for a full disk, not "EIO" */
    int full;  /* BFC_FAULT_FULL_DISK names this file: every write fails with ENOSPC */
    char *path;
    char *tmp;
};

/* The stream's write: all of buf or an error. stdio keeps only an error flag, so the errno
 * of a failed write (ENOSPC, EFBIG, EDQUOT...) is kept here for bfc_afile_commit's message. */
static ssize_t afile_write(void *cookie, const char *buf, size_t n)
{
    bfc_afile *f = cookie;
    size_t done = 0;
    if (f->full) {
        if (!f->err) f->err = ENOSPC;
        return 0;
    }
    while (done < n) {
        ssize_t w = write(f->fd, buf + done, n - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            if (!f->err) f->err = w < 0 ? errno : EIO;
            return (ssize_t)done; /* a short count: stdio sets the error flag */
        }
        done += (size_t)w;
    }
    return (ssize_t)n;
}

static int afile_close(void *cookie)
{
    bfc_afile *f = cookie;
    int rc = close(f->fd);
    if (rc != 0 && !f->err) f->err = errno;
    f->fd = -1;
    return rc;
}

static void afile_free(bfc_afile *f)
{
    free(f->path);
    free(f->tmp);
    free(f);
}

bfc_afile *bfc_afile_open(const char *path)
{
    if (!path || !*path) {
        bfc_fail(BFC_EINVAL, "cannot write file: empty path");
        return NULL;
    }
    bfc_afile *f = calloc(1, sizeof *f);
    size_t n = strlen(path);
    if (f) f->path = malloc(n + 1);
    if (f) f->tmp = malloc(n + 32);
    if (!f || !f->path || !f->tmp) {
        if (f) afile_free(f);
        bfc_fail(BFC_ENOMEM, "cannot write %s: out of memory", path);
        return NULL;
    }
    memcpy(f->path, path, n + 1);
    snprintf(f->tmp, n + 32, "%s.tmp.%ld", path, (long)getpid());
    const char *fault = getenv("BFC_FAULT_FULL_DISK"), *base = strrchr(path, '/');
    f->full = fault && *fault && !strcmp(base ? base + 1 : path, fault);
    int fd = open(f->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        bfc_fail(BFC_EIO, "cannot write %s: %s", path, strerror(errno));
        afile_free(f);
        return NULL;
    }
    f->fd = fd;
    f->fp = fopencookie(f, "wb", (cookie_io_functions_t){NULL, afile_write, NULL, afile_close});
    if (!f->fp) {
        int err = errno;
        close(fd);
        unlink(f->tmp);
        bfc_fail(BFC_EIO, "cannot write %s: %s", path, strerror(err));
        afile_free(f);
        return NULL;
    }
    return f;
}

FILE *bfc_afile_fp(bfc_afile *f) { return f ? f->fp : NULL; }

/* fsync the directory holding path, so that the rename itself is durable. */
static int fsync_parent(const char *path)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash) {
        strcpy(dir, ".");
    } else if (slash == path) {
        strcpy(dir, "/");
    } else {
        size_t k = (size_t)(slash - path);
        if (k >= sizeof dir) return 0; /* cannot name it; the rename is done anyway */
        memcpy(dir, path, k);
        dir[k] = '\0';
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return errno;
    int err = 0;
    if (fsync(fd) != 0 && errno != EINVAL) err = errno; /* EINVAL: fs cannot sync dirs */
    close(fd);
    return err;
}

int bfc_afile_commit(bfc_afile *f)
{
    if (!f) return BFC_EIO; /* bfc_afile_open failed and said why */
    int err = 0;
    const char *what = "cannot write";
    if (fflush(f->fp) != 0 || ferror(f->fp))
        err = f->err ? f->err : EIO;
    else if (fsync(f->fd) != 0)
        err = errno;
    if (fclose(f->fp) != 0 && !err) err = f->err ? f->err : EIO;
    f->fp = NULL;
    if (!err && rename(f->tmp, f->path) != 0) {
        err = errno;
        what = "cannot rename temporary file onto";
    }
    if (err) {
        unlink(f->tmp);
        int rc = bfc_fail(BFC_EIO, "%s %s: %s", what, f->path, strerror(err));
        afile_free(f);
        return rc;
    }
    err = fsync_parent(f->path);
    int rc = err ? bfc_fail(BFC_EIO, "cannot sync the directory of %s: %s", f->path,
                            strerror(err))
                 : BFC_OK;
    afile_free(f);
    return rc;
}

void bfc_afile_abort(bfc_afile *f)
{
    if (!f) return;
    if (f->fp) fclose(f->fp);
    unlink(f->tmp);
    afile_free(f);
}

int bfc_write_file_atomic(const char *path, const void *data, size_t len)
{
    bfc_afile *f = bfc_afile_open(path);
    if (!f) return BFC_EIO;
    /* A short write sets the stream's error flag; commit reports it and cleans up. */
    if (len > 0) (void)fwrite(data, 1, len, bfc_afile_fp(f));
    return bfc_afile_commit(f);
}

char *bfc_read_file(const char *path, size_t *len)
{
    if (len) *len = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        bfc_fail(BFC_EIO, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    size_t cap = 4096;
    if (fstat(fileno(fp), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
        (unsigned long long)st.st_size < (unsigned long long)SIZE_MAX - 1)
        cap = (size_t)st.st_size + 1;
    char *buf = malloc(cap);
    size_t n = 0;
    errno = 0;
    while (buf) {
        n += fread(buf + n, 1, cap - n, fp);
        if (n < cap) break; /* EOF or error; ferror below tells which */
        if (cap > SIZE_MAX / 2) {
            free(buf);
            buf = NULL;
            break;
        }
        char *nb = realloc(buf, cap * 2);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    if (!buf) {
        fclose(fp);
        bfc_fail(BFC_ENOMEM, "cannot read %s: out of memory", path);
        return NULL;
    }
    if (ferror(fp)) {
        int err = errno ? errno : EIO;
        fclose(fp);
        free(buf);
        bfc_fail(BFC_EIO, "cannot read %s: %s", path, strerror(err));
        return NULL;
    }
    fclose(fp);
    buf[n] = '\0'; /* n < cap here */
    if (len) *len = n;
    return buf;
}

int bfc_path_join(char *out, size_t cap, const char *dir, const char *name)
{
    if (!out || cap == 0) return bfc_fail(BFC_EINVAL, "bfc_path_join: no output buffer");
    if (!name) name = "";
    int m;
    if (!dir || !*dir) {
        m = snprintf(out, cap, "%s", name);
    } else {
        size_t dl = strlen(dir);
        const char *sep = dir[dl - 1] == '/' ? "" : "/";
        m = snprintf(out, cap, "%s%s%s", dir, sep, name);
    }
    if (m < 0 || (size_t)m >= cap) {
        out[0] = '\0';
        return bfc_fail(BFC_EINVAL, "path too long (%d bytes, limit %zu): %s/%s", m, cap - 1,
                        dir ? dir : "", name);
    }
    return BFC_OK;
}

void bfc_csv_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}
