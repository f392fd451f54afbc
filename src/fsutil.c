/* fsutil.c: directories, atomic file writes (temp + fsync + rename + directory fsync),
 * whole-file reads and path joining, with messages that name the path. */
#include "fsutil.h"

#include "bfc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
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

struct bfc_afile {
    FILE *fp;
    char *path;
    char *tmp;
};

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
    int fd = open(f->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        bfc_fail(BFC_EIO, "cannot write %s: %s", path, strerror(errno));
        afile_free(f);
        return NULL;
    }
    f->fp = fdopen(fd, "wb");
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
    errno = 0;
    if (fflush(f->fp) != 0) {
        err = errno ? errno : EIO;
    } else if (ferror(f->fp)) {
        err = EIO;
        what = "a write failed for";
    } else if (fsync(fileno(f->fp)) != 0) {
        err = errno;
    }
    if (fclose(f->fp) != 0 && !err) err = errno ? errno : EIO;
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
