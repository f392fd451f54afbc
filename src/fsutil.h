/* fsutil.h: file-system helpers: directories, atomic (crash-safe) file writes, whole-file
 * reads and path joining. Every failure returns a status from bfc.h with a message
 * (bfc_last_error) naming the path and the reason. */
#ifndef BFC_FSUTIL_H
#define BFC_FSUTIL_H

#include <stddef.h>
#include <stdio.h>

/* Create dir and any missing parents (like mkdir -p, mode 0777 & ~umask). An existing
 * directory is fine. BFC_EINVAL for an empty path, BFC_EIO if a component cannot be created
 * or exists and is not a directory. */
int bfc_mkdir_p(const char *dir);

/* Create dir if needed (bfc_mkdir_p) and check that a file can be created and written in
 * it, by creating and removing a probe file. BFC_EIO naming the directory otherwise. */
int bfc_check_writable_dir(const char *dir);

/* One writer per directory: an exclusive lock (flock) on the file dir/.lock, held until
 * bfc_dir_unlock or the end of the process and not inherited by exec'd children. The file
 * records the holder ("pid 1234, bfc train"), so that a process refused is told who holds it.
 * dir must exist. Waits up to wait_s seconds for a holder to finish (0: not at all).
 * BFC_OK and *fd; BFC_EINVAL when another process holds the lock (the message names dir and
 * the holder); BFC_EIO when the lock file cannot be opened. */
int bfc_dir_lock(const char *dir, const char *who, double wait_s, int *fd);
/* Release a lock from bfc_dir_lock (the file stays, empty). A negative fd is a no-op. */
void bfc_dir_unlock(int fd);

/* Atomic files: the content goes to "<path>.tmp.<pid>" in the same directory and only
 * replaces path (by rename) once it is completely written and synced, so a reader never
 * sees a half-written file and a crash leaves the old file intact.
 *
 *   bfc_afile *f = bfc_afile_open(path);       NULL + bfc_fail message on error
 *   fprintf(bfc_afile_fp(f), ...);             write freely; errors are checked at commit
 *   if (bfc_afile_commit(f)) ... error         f is freed in every case
 *
 * or bfc_afile_abort(f) to drop the temporary file. Not for two writers of the same path
 * in one process at once (they would share the temporary name).
 *
 * For tests: with BFC_FAULT_FULL_DISK=NAME in the environment, every atomic file whose name
 * (the last component of path) is NAME fails as on a full disk: its writes report ENOSPC. */
typedef struct bfc_afile bfc_afile;

/* Open the temporary file for path. NULL on failure (BFC_EIO message names path). */
bfc_afile *bfc_afile_open(const char *path);
/* The stream to write to; owned by f (do not fclose). */
FILE *bfc_afile_fp(bfc_afile *f);
/* Flush, check for write errors, fsync, close, rename over path, fsync the directory.
 * Frees f. On any error (including a full disk) the temporary file is removed and
 * BFC_EIO is returned with a message naming path. */
int bfc_afile_commit(bfc_afile *f);
/* Remove the temporary file and free f; path is untouched. NULL is a no-op. */
void bfc_afile_abort(bfc_afile *f);

/* Write len bytes of data to path atomically (bfc_afile). BFC_EIO on failure. */
int bfc_write_file_atomic(const char *path, const void *data, size_t len);

/* Read a whole file. Returns a malloc'd buffer (free with free()) holding the content plus
 * a terminating NUL not counted in *len (len may be NULL). NULL + message on failure. */
char *bfc_read_file(const char *path, size_t *len);

/* out = dir + "/" + name (no doubled slash if dir ends in '/'; just name if dir is "" or
 * NULL). out has cap bytes; BFC_EINVAL with a message if the result would not fit. */
int bfc_path_join(char *out, size_t cap, const char *dir, const char *name);

/* Write s to f as one CSV field, quoted (RFC 4180: inner quotes doubled) when it holds a
 * comma, a quote or a newline, as is otherwise. */
void bfc_csv_field(FILE *f, const char *s);

#endif
