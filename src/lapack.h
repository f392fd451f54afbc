/* lapack.h: prototypes of the LAPACK routines bfc calls, from the Fortran ABI that
 * OpenBLAS exports (column-major; a row-major symmetric matrix is its own transpose).
 * Declared here so that the suite links OpenBLAS alone and never reference LAPACK. */
#ifndef BFC_LAPACK_H
#define BFC_LAPACK_H

/* Cholesky factorisation of a symmetric positive-definite matrix. */
void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info);
/* Solve A X = B with the factor from dpotrf_. */
void dpotrs_(const char *uplo, const int *n, const int *nrhs, const double *a, const int *lda,
             double *b, const int *ldb, int *info);
/* Symmetric eigendecomposition, divide and conquer. */
void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda,
             double *w, double *work, const int *lwork, int *iwork, const int *liwork, int *info);
/* Symmetric eigendecomposition, relatively robust representations (subset of eigenpairs). */
void dsyevr_(const char *jobz, const char *range, const char *uplo, const int *n, double *a,
             const int *lda, const double *vl, const double *vu, const int *il, const int *iu,
             const double *abstol, int *m, double *w, double *z, const int *ldz, int *isuppz,
             double *work, const int *lwork, int *iwork, const int *liwork, int *info);
/* Least squares by QR (full rank). */
void dgels_(const char *trans, const int *m, const int *n, const int *nrhs, double *a,
            const int *lda, double *b, const int *ldb, double *work, const int *lwork, int *info);
/* Least squares by SVD (rank deficient allowed). */
void dgelsd_(const int *m, const int *n, const int *nrhs, double *a, const int *lda, double *b,
             const int *ldb, double *s, const double *rcond, int *rank, double *work,
             const int *lwork, int *iwork, int *info);
/* Singular value decomposition. */
void dgesdd_(const char *jobz, const int *m, const int *n, double *a, const int *lda, double *s,
             double *u, const int *ldu, double *vt, const int *ldvt, double *work,
             const int *lwork, int *iwork, int *info);
/* Single-precision Cholesky, for the float path. */
void spotrf_(const char *uplo, const int *n, float *a, const int *lda, int *info);

/* Symmetric eigendecomposition, QR iteration: O(n) workspace (memory-lean fallback). */
void dsyev_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda,
            double *w, double *work, const int *lwork, int *info);

#endif
