/* metrics.c: relative error, classification error, least-squares feature error, and the
 * medians and log-log fits of results (from GSL). */
#include "metrics.h"

#include <gsl/gsl_fit.h>
#include <gsl/gsl_statistics_double.h>
#include <math.h>
#include <stdlib.h>

#include "bfc.h"
#include "lapack.h"

double bfc_relative_error(const double *pred, const double *g, int n)
{
    double mean = 0.0;
    for (int i = 0; i < n; i++) mean += g[i];
    mean /= n;
    double var = 0.0, mse = 0.0;
    for (int i = 0; i < n; i++) {
        var += (g[i] - mean) * (g[i] - mean);
        mse += (pred[i] - g[i]) * (pred[i] - g[i]);
    }
    return mse / var;
}

/* Ascending, NaN last. */
static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    int nx = isnan(x), ny = isnan(y);
    if (nx || ny) return nx - ny;
    return (x > y) - (x < y);
}

double bfc_median(double *v, int n)
{
    if (n <= 0) return NAN;
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return gsl_stats_median_from_sorted_data(v, 1, (size_t)n);
}

int bfc_loglog_fit(const double *x, const double *y, int m, double *b, double *c, double *b_se)
{
    enum { MAX_POINTS = 256 };
    if (m < 2 || m > MAX_POINTS) return 0;
    double lx[MAX_POINTS], ly[MAX_POINTS], mean = 0, ss = 0;
    for (int i = 0; i < m; i++) {
        lx[i] = log(x[i]);
        ly[i] = log(y[i]);
        mean += lx[i];
    }
    mean /= m;
    for (int i = 0; i < m; i++) ss += (lx[i] - mean) * (lx[i] - mean);
    if (!(ss > 0)) return 0;
    double c0, c1, cov00, cov01, cov11, sumsq;
    gsl_fit_linear(lx, 1, ly, 1, (size_t)m, &c0, &c1, &cov00, &cov01, &cov11, &sumsq);
    *b = c1;
    *c = c0;
    if (b_se) *b_se = m >= 3 ? sqrt(cov11) : NAN;
    return 1;
}

double bfc_relative_error_bulk(const double *pred, const double *g, int n, double keep)
{
    double *dev = bfc_alloc_d((size_t)n);
    if (!dev || n < 2) {
        bfc_free(dev);
        return NAN;
    }
    double mean = 0.0;
    for (int i = 0; i < n; i++) mean += g[i];
    mean /= n;
    for (int i = 0; i < n; i++) dev[i] = fabs(g[i] - mean);
    qsort(dev, (size_t)n, sizeof(double), cmp_double);
    int kidx = (int)floor(keep * (double)n);
    if (kidx > n - 1) kidx = n - 1;
    if (kidx < 0) kidx = 0;
    double thr = dev[kidx];
    bfc_free(dev);
    double m = 0.0;
    int cnt = 0;
    for (int i = 0; i < n; i++)
        if (fabs(g[i] - mean) < thr) {
            m += g[i];
            cnt++;
        }
    if (cnt < 2) return NAN;
    m /= cnt;
    double var = 0.0, mse = 0.0;
    for (int i = 0; i < n; i++)
        if (fabs(g[i] - mean) < thr) {
            var += (g[i] - m) * (g[i] - m);
            mse += (pred[i] - g[i]) * (pred[i] - g[i]);
        }
    return mse / var;
}

double bfc_classification_error(const double *pred, const double *y, int n)
{
    int wrong = 0;
    for (int i = 0; i < n; i++) wrong += (pred[i] > 0 ? 1.0 : -1.0) != y[i];
    return (double)wrong / n;
}

int bfc_feature_error(const double *S, int k, const double *Sstar, int ks, int n, double *err)
{
    int nc = k + 1, one = 1;
    double *A = bfc_alloc_d((size_t)n * nc);  /* column-major n × (k+1) */
    double *Bm = bfc_alloc_d((size_t)n * ks); /* column-major n × ks */
    double *sv = bfc_alloc_d((size_t)nc);
    int *iwork = malloc(sizeof(int) * (size_t)(64 * nc + 64));
    int st = BFC_OK;
    if (!A || !Bm || !sv || !iwork) {
        st = bfc_fail(BFC_ENOMEM, "out of memory computing a feature error");
        goto out;
    }
    for (int i = 0; i < n; i++) {
        for (int a = 0; a < k; a++) A[(size_t)a * n + i] = S[(size_t)i * k + a];
        A[(size_t)k * n + i] = 1.0;
        for (int a = 0; a < ks; a++) Bm[(size_t)a * n + i] = Sstar[(size_t)i * ks + a];
    }
    double denom = 0.0;
    for (int a = 0; a < ks; a++) {
        double mean = 0.0;
        for (int i = 0; i < n; i++) mean += Bm[(size_t)a * n + i];
        mean /= n;
        for (int i = 0; i < n; i++) denom += pow(Bm[(size_t)a * n + i] - mean, 2);
    }
    /* Copy of B to form the residual after the solve. */
    double *B0 = bfc_alloc_d((size_t)n * ks);
    double *A0 = bfc_alloc_d((size_t)n * nc);
    if (!B0 || !A0) {
        bfc_free(B0);
        bfc_free(A0);
        st = bfc_fail(BFC_ENOMEM, "out of memory computing a feature error");
        goto out;
    }
    for (size_t i = 0; i < (size_t)n * ks; i++) B0[i] = Bm[i];
    for (size_t i = 0; i < (size_t)n * nc; i++) A0[i] = A[i];
    double rcond = 1e-12, wq;
    int rank, info, lwork = -1;
    dgelsd_(&n, &nc, &ks, A, &n, Bm, &n, sv, &rcond, &rank, &wq, &lwork, iwork, &info);
    lwork = (int)wq + 1;
    double *work = bfc_alloc_d((size_t)lwork);
    if (!work) {
        st = bfc_fail(BFC_ENOMEM, "out of memory computing a feature error");
    } else {
        dgelsd_(&n, &nc, &ks, A, &n, Bm, &n, sv, &rcond, &rank, work, &lwork, iwork, &info);
        if (info != 0) st = bfc_fail(BFC_ENUMERIC, "feature error: least squares failed (info %d)", info);
    }
    if (!st) {
        double res = 0.0;
        for (int a = 0; a < ks; a++)
            for (int i = 0; i < n; i++) {
                double p = 0.0;
                for (int c = 0; c < nc; c++) p += A0[(size_t)c * n + i] * Bm[(size_t)a * n + c];
                double r = B0[(size_t)a * n + i] - p;
                res += r * r;
            }
        *err = res / denom;
        if (!isfinite(*err)) st = bfc_fail(BFC_ENUMERIC, "feature error is not finite");
    }
    (void)one;
    bfc_free(work);
    bfc_free(B0);
    bfc_free(A0);
out:
    bfc_free(A);
    bfc_free(Bm);
    bfc_free(sv);
    free(iwork);
    return st;
}

double bfc_relative_diff(const double *a, const double *b, size_t n)
{
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n; i++) {
        num += (a[i] - b[i]) * (a[i] - b[i]);
        den += b[i] * b[i];
    }
    return sqrt(num / (den > 0 ? den : 1.0));
}
