/* npy.h: NumPy .npy files of 1-D and 2-D float arrays (C order, little-endian), the
 * exchange format between bfc, its baselines and Python. Writes format 1.0; reads
 * 1.0, 2.0 and 3.0 headers. */
#ifndef BFC_NPY_H
#define BFC_NPY_H

#include <stddef.h>

/* Save a (shape[0]) or a (shape[0], shape[1]) row-major as '<f8' to path, atomically
 * (bfc_afile: a crash never leaves a half-written file). ndim is 1 or 2; a may be NULL
 * only if the array is empty. BFC_EINVAL for a bad ndim or size, BFC_EIO if the file
 * cannot be written. */
int bfc_npy_save(const char *path, const double *a, int ndim, const size_t *shape);
/* The same for float data, written as '<f4'. */
int bfc_npy_save_f32(const char *path, const float *a, int ndim, const size_t *shape);

/* Load a 1-D or 2-D '<f8' or '<f4' (converted to double) array in C order.
 * On success *out holds shape[0] (x shape[1]) doubles, allocated with bfc_alloc_d
 * (free with bfc_free); *ndim is 1 or 2; for a 1-D array shape[1] = 1.
 * Errors (nothing allocated, *out = NULL): BFC_EIO if the file cannot be opened or read,
 * BFC_EFORMAT for anything malformed or unsupported, with a message naming the file and
 * the problem, e.g. "data/x.npy: dtype '<i8' not supported (need <f8 or <f4)";
 * BFC_ENOMEM if the array does not fit in memory. The file size must match the shape
 * exactly, so a truncated file or an absurd shape is reported before allocating. */
int bfc_npy_load(const char *path, double **out, int *ndim, size_t shape[2]);

#endif
