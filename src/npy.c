/* npy.c: NumPy .npy reader and writer for 1-D/2-D '<f8' and '<f4' arrays.
 * Layout: "\x93NUMPY", major, minor, header length (uint16 LE for 1.0, uint32 LE for
 * 2.0/3.0), an ASCII Python dict literal padded with spaces and '\n' so that the data
 * starts at a multiple of 64 bytes, then the raw array data. */
#include "npy.h"

#include "bfc.h"
#include "fsutil.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char NPY_MAGIC[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};
#define NPY_MAX_HEADER (1u << 20) /* numpy writes < 64 KiB; anything near this is garbage */
#define NPY_CHUNK 4096            /* elements converted per step */

static int host_is_little_endian(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

static void swap_bytes(unsigned char *p, size_t count, size_t size)
{
    for (size_t i = 0; i < count; i++, p += size)
        for (size_t a = 0, z = size - 1; a < z; a++, z--) {
            unsigned char t = p[a];
            p[a] = p[z];
            p[z] = t;
        }
}

/* ------------------------------------------------------------------------ writing --- */

static int npy_save(const char *path, const void *a, size_t elsize, const char *descr,
                    int ndim, const size_t *shape)
{
    if (ndim != 1 && ndim != 2)
        return bfc_fail(BFC_EINVAL, "%s: cannot save a %d-d array (need 1-D or 2-D)", path,
                        ndim);
    size_t count = shape[0];
    if (ndim == 2) {
        if (shape[1] && shape[0] > SIZE_MAX / elsize / shape[1])
            return bfc_fail(BFC_EINVAL, "%s: shape (%zu, %zu) is too large", path, shape[0],
                            shape[1]);
        count = shape[0] * shape[1];
    } else if (count > SIZE_MAX / elsize) {
        return bfc_fail(BFC_EINVAL, "%s: shape (%zu,) is too large", path, count);
    }
    if (count > 0 && !a) return bfc_fail(BFC_EINVAL, "%s: no data to save", path);

    char dict[160];
    if (ndim == 1)
        snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (%zu,), }",
                 descr, shape[0]);
    else
        snprintf(dict, sizeof dict,
                 "{'descr': '%s', 'fortran_order': False, 'shape': (%zu, %zu), }", descr,
                 shape[0], shape[1]);
    /* 10 bytes preamble + dict + padding + '\n' is a multiple of 64 */
    size_t dl = strlen(dict);
    size_t total = (10 + dl + 1 + 63) / 64 * 64;
    size_t hlen = total - 10;
    unsigned char pre[10];
    memcpy(pre, NPY_MAGIC, 6);
    pre[6] = 1;
    pre[7] = 0;
    pre[8] = (unsigned char)(hlen & 0xff);
    pre[9] = (unsigned char)(hlen >> 8);

    bfc_afile *f = bfc_afile_open(path);
    if (!f) return BFC_EIO;
    FILE *fp = bfc_afile_fp(f);
    fwrite(pre, 1, sizeof pre, fp);
    fwrite(dict, 1, dl, fp);
    for (size_t i = 10 + dl; i < total - 1; i++) fputc(' ', fp);
    fputc('\n', fp);
    if (host_is_little_endian()) {
        if (count) fwrite(a, elsize, count, fp);
    } else {
        unsigned char buf[NPY_CHUNK * 8];
        for (size_t i = 0; i < count; i += NPY_CHUNK) {
            size_t m = count - i < NPY_CHUNK ? count - i : NPY_CHUNK;
            memcpy(buf, (const unsigned char *)a + i * elsize, m * elsize);
            swap_bytes(buf, m, elsize);
            fwrite(buf, elsize, m, fp);
        }
    }
    return bfc_afile_commit(f); /* reports any write error (e.g. disk full) */
}

int bfc_npy_save(const char *path, const double *a, int ndim, const size_t *shape)
{
    return npy_save(path, a, sizeof(double), "<f8", ndim, shape);
}

int bfc_npy_save_f32(const char *path, const float *a, int ndim, const size_t *shape)
{
    return npy_save(path, a, sizeof(float), "<f4", ndim, shape);
}

/* ------------------------------------------------------------------------ reading --- */

/* The header dict, e.g. {'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), },
 * parsed as the small subset of Python literal syntax that numpy writes. */
typedef struct {
    const char *p, *end;
    const char *path;
    int st; /* first error */
    char descr[32];
    int fortran;
    int ndim;
    size_t shape[3];
    int seen_descr, seen_fortran, seen_shape;
} hdr;

__attribute__((format(printf, 2, 3))) static void hfail(hdr *h, const char *fmt, ...);

static void hfail(hdr *h, const char *fmt, ...)
{
    if (h->st) return;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    h->st = bfc_fail(BFC_EFORMAT, "%s: malformed header: %s", h->path, msg);
}

static void hws(hdr *h)
{
    while (h->p < h->end && (*h->p == ' ' || *h->p == '\t' || *h->p == '\n' || *h->p == '\r'))
        h->p++;
}

static int hpeek(hdr *h) { return h->p < h->end ? (unsigned char)*h->p : -1; }

/* A quoted Python string (no escapes needed for the keys and dtypes we accept). */
static int hstring(hdr *h, char *out, size_t cap)
{
    int q = hpeek(h);
    if (q != '\'' && q != '"') return -1;
    h->p++;
    size_t n = 0;
    while (h->p < h->end && *h->p != q) {
        if (*h->p == '\\' || (unsigned char)*h->p < 0x20 || n + 1 >= cap) return -1;
        out[n++] = *h->p++;
    }
    if (h->p >= h->end) return -1;
    h->p++;
    out[n] = '\0';
    return 0;
}

static int hword(hdr *h, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(h->end - h->p) < n || memcmp(h->p, w, n) != 0) return 0;
    const char *after = h->p + n;
    if (after < h->end && ((*after >= 'a' && *after <= 'z') || (*after >= 'A' && *after <= 'Z')))
        return 0;
    h->p = after;
    return 1;
}

static void hshape(hdr *h)
{
    if (hpeek(h) != '(') {
        hfail(h, "'shape' must be a tuple such as (3, 4)");
        return;
    }
    h->p++;
    h->ndim = 0;
    for (;;) {
        hws(h);
        if (hpeek(h) == ')') {
            h->p++;
            return;
        }
        if (hpeek(h) < '0' || hpeek(h) > '9') {
            hfail(h, "'shape' must hold non-negative integers");
            return;
        }
        uint64_t v = 0;
        while (hpeek(h) >= '0' && hpeek(h) <= '9') {
            if (v > (((uint64_t)1 << 62) - 9) / 10) { /* checked before it can wrap */
                hfail(h, "dimension in 'shape' is absurdly large");
                return;
            }
            v = v * 10 + (uint64_t)(*h->p++ - '0');
        }
        if (hpeek(h) == 'L') h->p++; /* Python 2 long literal, in old files */
        if (h->ndim < 3) h->shape[h->ndim] = (size_t)v;
        if (h->ndim < 1000) h->ndim++;
        hws(h);
        if (hpeek(h) == ',') {
            h->p++;
        } else if (hpeek(h) != ')') {
            hfail(h, "expected ',' or ')' in 'shape'");
            return;
        }
    }
}

static void parse_header(hdr *h)
{
    char key[32];
    hws(h);
    if (hpeek(h) != '{') {
        hfail(h, "expected a dict starting with '{'");
        return;
    }
    h->p++;
    for (;;) {
        hws(h);
        if (hpeek(h) == '}') {
            h->p++;
            break;
        }
        if (hstring(h, key, sizeof key)) {
            hfail(h, "expected a quoted key or '}'");
            return;
        }
        hws(h);
        if (hpeek(h) != ':') {
            hfail(h, "expected ':' after key '%s'", key);
            return;
        }
        h->p++;
        hws(h);
        if (strcmp(key, "descr") == 0 && !h->seen_descr) {
            h->seen_descr = 1;
            if (hpeek(h) == '[') {
                h->st = bfc_fail(BFC_EFORMAT, "%s: structured dtype not supported (need <f8 or "
                                              "<f4)", h->path);
                return;
            }
            if (hstring(h, h->descr, sizeof h->descr)) {
                hfail(h, "'descr' must be a quoted dtype such as '<f8'");
                return;
            }
        } else if (strcmp(key, "fortran_order") == 0 && !h->seen_fortran) {
            h->seen_fortran = 1;
            if (hword(h, "True"))
                h->fortran = 1;
            else if (hword(h, "False"))
                h->fortran = 0;
            else {
                hfail(h, "'fortran_order' must be True or False");
                return;
            }
        } else if (strcmp(key, "shape") == 0 && !h->seen_shape) {
            h->seen_shape = 1;
            hshape(h);
            if (h->st) return;
        } else {
            hfail(h, "unexpected or repeated key '%s'", key);
            return;
        }
        hws(h);
        if (hpeek(h) == ',') {
            h->p++;
        } else if (hpeek(h) != '}') {
            hfail(h, "expected ',' or '}' after the value of '%s'", key);
            return;
        }
    }
    hws(h);
    if (h->p != h->end) {
        hfail(h, "unexpected text after the dict");
        return;
    }
    if (!h->seen_descr || !h->seen_fortran || !h->seen_shape)
        hfail(h, "missing key '%s'",
              !h->seen_descr ? "descr" : !h->seen_fortran ? "fortran_order" : "shape");
}

static int read_exact(FILE *fp, void *buf, size_t n, const char *path, const char *what)
{
    errno = 0;
    size_t got = fread(buf, 1, n, fp);
    if (got == n) return BFC_OK;
    if (ferror(fp)) return bfc_fail(BFC_EIO, "cannot read %s: %s", path, strerror(errno ? errno : EIO));
    return bfc_fail(BFC_EFORMAT, "%s: truncated %s (%zu of %zu bytes)", path, what, got, n);
}

int bfc_npy_load(const char *path, double **out, int *ndim, size_t shape[2])
{
    *out = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp) return bfc_fail(BFC_EIO, "cannot open %s: %s", path, strerror(errno));
    int st = BFC_OK;
    char *header = NULL;
    double *a = NULL;
    struct stat sb;
    if (fstat(fileno(fp), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        st = bfc_fail(BFC_EIO, "cannot read %s: not a regular file", path);
        goto done;
    }
    unsigned char pre[12];
    if ((st = read_exact(fp, pre, 8, path, "preamble"))) goto done;
    if (memcmp(pre, NPY_MAGIC, 6) != 0) {
        st = bfc_fail(BFC_EFORMAT, "%s: not a .npy file (bad magic; expected \\x93NUMPY)", path);
        goto done;
    }
    int major = pre[6], minor = pre[7];
    size_t lenbytes = major == 1 ? 2 : 4;
    if ((major < 1 || major > 3) || minor != 0) {
        st = bfc_fail(BFC_EFORMAT, "%s: .npy format version %d.%d not supported (need 1.0, 2.0 "
                                   "or 3.0)", path, major, minor);
        goto done;
    }
    if ((st = read_exact(fp, pre + 8, lenbytes, path, "preamble"))) goto done;
    size_t hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
    if (lenbytes == 4) hlen |= (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
    size_t data_off = 8 + lenbytes + hlen;
    if (hlen == 0 || hlen > NPY_MAX_HEADER) {
        st = bfc_fail(BFC_EFORMAT, "%s: implausible header length %zu", path, hlen);
        goto done;
    }
    if ((unsigned long long)sb.st_size < data_off) {
        st = bfc_fail(BFC_EFORMAT, "%s: truncated header (file has %lld bytes, header needs "
                                   "%zu)", path, (long long)sb.st_size, data_off);
        goto done;
    }
    header = malloc(hlen);
    if (!header) {
        st = bfc_fail(BFC_ENOMEM, "%s: out of memory for the header", path);
        goto done;
    }
    if ((st = read_exact(fp, header, hlen, path, "header"))) goto done;
    for (size_t i = 0; i < hlen; i++) {
        unsigned char c = (unsigned char)header[i];
        if (c == 0 || (c >= 0x80 && major < 3)) { /* 3.0 allows UTF-8 */
            st = bfc_fail(BFC_EFORMAT, "%s: malformed header: byte 0x%02x at offset %zu", path,
                          c, 8 + lenbytes + i);
            goto done;
        }
    }

    hdr h = {.p = header, .end = header + hlen, .path = path};
    parse_header(&h);
    if ((st = h.st)) goto done;
    size_t elsize;
    if (strcmp(h.descr, "<f8") == 0) {
        elsize = 8;
    } else if (strcmp(h.descr, "<f4") == 0) {
        elsize = 4;
    } else {
        st = bfc_fail(BFC_EFORMAT, "%s: dtype '%s' not supported (need <f8 or <f4)", path,
                      h.descr);
        goto done;
    }
    if (h.fortran) {
        st = bfc_fail(BFC_EFORMAT, "%s: fortran_order True not supported (save a C-ordered "
                                   "array, e.g. np.ascontiguousarray)", path);
        goto done;
    }
    if (h.ndim != 1 && h.ndim != 2) {
        st = bfc_fail(BFC_EFORMAT, "%s: %d-d array not supported (need 1-D or 2-D)", path,
                      h.ndim);
        goto done;
    }
    size_t d0 = h.shape[0], d1 = h.ndim == 2 ? h.shape[1] : 1;
    if (d1 && d0 > SIZE_MAX / elsize / d1) {
        st = bfc_fail(BFC_EFORMAT, "%s: shape (%zu, %zu) is absurdly large", path, d0, d1);
        goto done;
    }
    size_t count = d0 * d1, bytes = count * elsize;
    unsigned long long have = (unsigned long long)sb.st_size - data_off;
    if (have != bytes) {
        char shp[64];
        if (h.ndim == 1)
            snprintf(shp, sizeof shp, "(%zu,)", d0);
        else
            snprintf(shp, sizeof shp, "(%zu, %zu)", d0, d1);
        st = bfc_fail(BFC_EFORMAT, "%s: %s: shape %s of %s needs %zu data bytes but the file "
                                   "holds %llu", path, have < bytes ? "truncated" : "too long",
                      shp, h.descr, bytes, have);
        goto done;
    }
    a = bfc_alloc_d(count);
    if (!a) {
        st = bfc_fail(BFC_ENOMEM, "%s: out of memory for %zu values", path, count);
        goto done;
    }
    if (elsize == 8) {
        if ((st = read_exact(fp, a, bytes, path, "data"))) goto done;
        if (!host_is_little_endian()) swap_bytes((unsigned char *)a, count, 8);
    } else {
        float buf[NPY_CHUNK];
        for (size_t i = 0; i < count; i += NPY_CHUNK) {
            size_t m = count - i < NPY_CHUNK ? count - i : NPY_CHUNK;
            if ((st = read_exact(fp, buf, m * 4, path, "data"))) goto done;
            if (!host_is_little_endian()) swap_bytes((unsigned char *)buf, m, 4);
            for (size_t k = 0; k < m; k++) a[i + k] = (double)buf[k];
        }
    }
    *ndim = h.ndim;
    shape[0] = d0;
    shape[1] = d1;
done:
    fclose(fp);
    free(header);
    if (st) {
        bfc_free(a);
        a = NULL;
    }
    *out = a;
    return st;
}
