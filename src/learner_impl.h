/* learner_impl.h: the learner's arithmetic (forward, backward, objective) written once for
 * one floating-point type. learner.c includes it twice, after defining
 *   REAL      double or float
 *   FN(name)  the name with this precision's suffix (name_d, name_f)
 *   WS        the member of bfc_learner holding this precision's parameters and workspace
 *   GEMM, SYRK, SYMM, DOT, AXPY   the CBLAS routines of REAL,
 * and undefines them at its end.
 * Inputs X, y and the outputs F(x) are double in both; the loss and the tie and weight-decay
 * values are summed in double. Shapes are row-major, B is the batch size. No header guard:
 * each inclusion instantiates the functions for the REAL of the moment. */

/* Carve this precision's workspace (and, with own_params, its copies of θ, the gradient and
 * R_l) out of the block w, in 64-byte-aligned pieces; w = NULL only counts. Returns the number
 * of REALs used. */
static size_t FN(ws_carve)(bfc_learner *lr, REAL *w, int own_params)
{
    const size_t Bs = (size_t)lr->bmax, align = 64 / sizeof(REAL);
    size_t used = 0;
#define TAKE(ptr, count)                                                                         \
    do {                                                                                         \
        if (w) (ptr) = w + used;                                                                 \
        used += ((size_t)(count) + align - 1) / align * align;                                   \
    } while (0)
    int wmax = 1;
    for (int l = 2; l <= lr->L; l++) {
        const size_t H = (size_t)lr->H[l];
        const int wide = lr->m[l] > lr->H[l] ? lr->m[l] : lr->H[l];
        TAKE(lr->WS.h[l], Bs * H);
        TAKE(lr->WS.dh[l], Bs * H);
        TAKE(lr->WS.P[l], Bs * (size_t)lr->m[l]);
        TAKE(lr->WS.S[l], Bs * (size_t)lr->k[l]);
        TAKE(lr->WS.dS[l], Bs * (size_t)lr->k[l]);
        TAKE(lr->WS.U[l], Bs * (size_t)lr->p[l]);
        TAKE(lr->WS.Q[l], H * H);
        TAKE(lr->WS.D[l], H * H);
        TAKE(lr->WS.M[l], H * H);
        TAKE(lr->WS.f[l], Bs);
        if (wide > wmax) wmax = wide;
    }
    const size_t Hs = (size_t)union_dim_max(lr);
    TAKE(lr->WS.hs, Bs * Hs);
    TAKE(lr->WS.hgs, Bs * Hs);
    TAKE(lr->WS.Ps, Bs * Hs);
    TAKE(lr->WS.Qs, Hs * Hs);
    TAKE(lr->WS.Ms, Hs * Hs);
    TAKE(lr->WS.scratch, Bs * (size_t)wmax);
    TAKE(lr->WS.e, Bs);
    if (own_params) {
        TAKE(lr->WS.theta, lr->n_params);
        TAKE(lr->WS.grad, lr->n_params);
        for (int l = 2; l < lr->L; l++)
            if (lr->p[l]) TAKE(lr->WS.R[l], (size_t)lr->p[l] * lr->k[l]);
    }
#undef TAKE
    return used;
}

/* ---- elementwise pieces -------------------------------------------------------------- */

/* σ with the optional clamp: value of σ(clamp(u)) and its derivative 2·clamp(u)·[|u| < B]. */
static inline REAL FN(clampv)(REAL u, REAL B)
{
    return B > 0 ? (u > B ? B : (u < -B ? -B : u)) : u;
}
static inline REAL FN(dsq_clamped)(REAL u, REAL B)
{
    return (B > 0 && (u >= B || u <= -B)) ? (REAL)0 : (REAL)2 * u;
}

/* Build h_l (B × H) from x and the lower layers' U (already computed): segment by segment,
 * each an inner loop over its columns with no branch inside (they vectorise). */
static void FN(build_h_into)(bfc_learner *lr, const double *restrict X, int B, int nseg,
                             const int *seg, int H, REAL *restrict h)
{
    const int d = lr->d;
    const REAL Bc = (REAL)lr->cfg.clamp;
    const int both = nseg > 1 && seg[0] >= 0 && seg[1] >= 0;
    if (both) /* x and x² − 1 in one loop (alone, a copy loop becomes a memcpy call per row) */
        for (int b = 0; b < B; b++) {
            REAL *restrict h0 = h + (size_t)b * H + seg[0];
            REAL *restrict h1 = h + (size_t)b * H + seg[1];
            const double *restrict xb = X + (size_t)b * d;
            for (int i = 0; i < d; i++) {
                h0[i] = (REAL)xb[i];
                h1[i] = (REAL)(xb[i] * xb[i] - 1.0);
            }
        }
    for (int j = both ? 2 : 0; j < nseg; j++) {
        const int o = seg[j];
        if (o < 0) continue;
        if (j <= 1) {
            for (int b = 0; b < B; b++) {
                REAL *restrict hb = h + (size_t)b * H + o;
                const double *restrict xb = X + (size_t)b * d;
                if (j == 0)
                    for (int i = 0; i < d; i++) hb[i] = (REAL)xb[i];
                else
                    for (int i = 0; i < d; i++) hb[i] = (REAL)(xb[i] * xb[i] - 1.0);
            }
        } else {
            const int p = lr->p[j];
            const REAL *restrict U = lr->WS.U[j];
            for (int b = 0; b < B; b++) {
                REAL *restrict hb = h + (size_t)b * H + o;
                const REAL *restrict u = U + (size_t)b * p;
                if (Bc > 0)
                    for (int i = 0; i < p; i++) {
                        const REAL z = u[i] > Bc ? Bc : (u[i] < -Bc ? -Bc : u[i]);
                        hb[i] = z * z;
                    }
                else
                    for (int i = 0; i < p; i++) hb[i] = u[i] * u[i];
            }
        }
    }
    for (int b = 0; b < B; b++) h[(size_t)b * H + H - 1] = 1;
}

static void FN(build_h)(bfc_learner *lr, const double *X, int B, int l)
{
    FN(build_h_into)(lr, X, B, l, lr->seg[l], lr->H[l], lr->WS.h[l]);
}

/* The columns of h_l inside the union h* (union_layout) as runs: column src[r] + t of h_l is
 * column dst[r] + t of h*, t < len[r]; the constant last. Returns the number of runs. */
static int FN(union_runs)(const bfc_learner *lr, int l, const int *useg, int Hs, int *src,
                          int *dst, int *len)
{
    int n = 0;
    for (int j = 0; j < l; j++) {
        if (lr->seg[l][j] < 0) continue;
        src[n] = lr->seg[l][j];
        dst[n] = useg[j];
        len[n++] = j <= 1 ? lr->d : lr->p[j];
    }
    src[n] = lr->H[l] - 1;
    dst[n] = Hs - 1;
    len[n++] = 1;
    return n;
}

/* S_l (B × k) = h_l K_lᵀ and U_l (B × p) = S_l R_lᵀ. */
static void FN(feature_forward)(bfc_learner *lr, int B, int l)
{
    const int H = lr->H[l], k = lr->k[l];
    GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, B, k, H, 1.0, lr->WS.h[l], H,
         lr->WS.theta + lr->offK[l], H, 0.0, lr->WS.S[l], k);
    if (lr->p[l])
        GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, B, lr->p[l], k, 1.0, lr->WS.S[l], k,
             lr->WS.R[l], k, 0.0, lr->WS.U[l], lr->p[l]);
}

/* Clamped output branch forward: P_l = F_l = h_l W_lᵀ, f_l (B) = ‖clamp(F_l)‖² (with_S: S_l
 * and U_l first, feature_forward). */
static void FN(output_forward)(bfc_learner *lr, int B, int l, int with_S)
{
    const int H = lr->H[l], m = lr->m[l];
    const REAL *W = lr->WS.theta + lr->off[l], *h = lr->WS.h[l];
    const REAL Bc = (REAL)lr->cfg.clamp;
    REAL *P = lr->WS.P[l], *f = lr->WS.f[l];
    if (with_S) FN(feature_forward)(lr, B, l);
    GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, B, m, H, 1.0, h, H, W, H, 0.0, P, m);
    for (int b = 0; b < B; b++) {
        REAL s = 0;
        const REAL *Fb = P + (size_t)b * m;
        for (int i = 0; i < m; i++) {
            const REAL z = FN(clampv)(Fb[i], Bc);
            s += z * z;
        }
        f[b] = s;
    }
}

/* Unclamped output, all active layers at once through the union h* (union_layout):
 * Σ_l α_l h_lᵀQ_l h_l = h*ᵀQ*h* with Q_l = W_lᵀW_l and Q* = Σ_l α_l E_l Q_l E_lᵀ (E_l places
 * the columns of h_l in h*). One GEMM P* = h*Q* replaces one per layer: the columns the layers
 * share (x, the constant) are multiplied once, and the matrix is larger (fewer flops, fewer
 * calls). out (B) = rowwise <P*, h*> (minus the bias for classification). */
static void FN(quad_forward)(bfc_learner *lr, const double *X, int B, int top, double *out)
{
    int useg[BFC_MAX_L], src[BFC_MAX_L + 1], dst[BFC_MAX_L + 1], len[BFC_MAX_L + 1];
    const int Hs = union_layout(lr, top, useg);
    REAL *hs = lr->WS.hs, *Qs = lr->WS.Qs, *Ps = lr->WS.Ps;
    FN(build_h_into)(lr, X, B, top, useg, Hs, hs);
    memset(Qs, 0, sizeof(REAL) * (size_t)Hs * Hs);
    for (int l = 2; l <= top; l++) {
        const int H = lr->H[l], m = lr->m[l], n = FN(union_runs)(lr, l, useg, Hs, src, dst, len);
        const REAL a = (REAL)lr->alpha[l], *W = lr->WS.theta + lr->off[l];
        REAL *Q = lr->WS.Q[l];
        SYRK(CblasRowMajor, CblasUpper, CblasTrans, H, m, 1.0, W, H, 0.0, Q, H);
        for (int i = 0; i < H; i++)
            for (int j = 0; j < i; j++) Q[(size_t)i * H + j] = Q[(size_t)j * H + i];
        for (int r1 = 0; r1 < n; r1++)
            for (int t1 = 0; t1 < len[r1]; t1++) {
                const REAL *q = Q + (size_t)(src[r1] + t1) * H;
                REAL *qs = Qs + (size_t)(dst[r1] + t1) * Hs;
                for (int r2 = 0; r2 < n; r2++) {
                    REAL *restrict to = qs + dst[r2];
                    const REAL *restrict from = q + src[r2];
                    for (int t2 = 0; t2 < len[r2]; t2++) to[t2] += a * from[t2];
                }
            }
    }
    GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, Hs, Hs, 1.0, hs, Hs, Qs, Hs, 0.0, Ps, Hs);
    const double bias = lr->task == BFC_TASK_CLASSIFICATION ? (double)lr->WS.theta[0] : 0.0;
    for (int b = 0; b < B; b++)
        out[b] = (double)DOT(Hs, Ps + (size_t)b * Hs, 1, hs + (size_t)b * Hs, 1) - bias;
}

/* Forward through layers 2..top. need_S_top: also compute S_top (for feature read-out).
 * with_output: out (B) = Σ α_l f_l (minus the bias for classification). */
static void FN(forward_rows)(bfc_learner *lr, const double *X, int B, int top, int need_S_top,
                             int with_output, double *out)
{
    const int clamped = lr->cfg.clamp > 0;
    for (int l = 2; l <= top; l++) {
        const int need_S = l < lr->L && (l < top || need_S_top);
        /* (unclamped, the output reads h*, and h_top only feeds S_top and the backward of K_top,
         * which has no data term at the top) */
        if (need_S || clamped || !with_output) FN(build_h)(lr, X, B, l);
        if (with_output && clamped) FN(output_forward)(lr, B, l, need_S);
        else if (need_S) FN(feature_forward)(lr, B, l);
    }
    if (!with_output) return;
    if (!clamped) {
        FN(quad_forward)(lr, X, B, top, out);
        return;
    }
    const double bias = lr->task == BFC_TASK_CLASSIFICATION ? (double)lr->WS.theta[0] : 0.0;
    for (int b = 0; b < B; b++) {
        double s = 0.0;
        for (int l = 2; l <= top; l++) s += lr->alpha[l] * lr->WS.f[l][b];
        out[b] = s - bias;
    }
}

/* ---- backward ------------------------------------------------------------------------ */

/* Tie matrix D_l = K_lᵀK_l − W_lᵀW_l (H × H, full); returns ‖D_l‖²_F. Uses Q_l = W_lᵀW_l when
 * the unclamped forward already formed it. */
static double FN(tie_matrix)(bfc_learner *lr, int l)
{
    const int H = lr->H[l], m = lr->m[l], k = lr->k[l];
    const REAL *W = lr->WS.theta + lr->off[l], *K = lr->WS.theta + lr->offK[l];
    REAL *D = lr->WS.D[l];
    if (lr->cfg.clamp > 0) {
        SYRK(CblasRowMajor, CblasUpper, CblasTrans, H, m, -1.0, W, H, 0.0, D, H);
    } else {
        for (int i = 0; i < H; i++)
            for (int j = i; j < H; j++) D[(size_t)i * H + j] = -lr->WS.Q[l][(size_t)i * H + j];
    }
    SYRK(CblasRowMajor, CblasUpper, CblasTrans, H, k, 1.0, K, H, 1.0, D, H);
    double s = 0.0;
    for (int i = 0; i < H; i++) {
        const double di = D[(size_t)i * H + i];
        s += di * di;
        for (int j = i + 1; j < H; j++) {
            const REAL v = D[(size_t)i * H + j];
            D[(size_t)j * H + i] = v;
            s += 2.0 * v * v;
        }
    }
    return s;
}

/* Backward pass after forward_rows with e (B) = d objective / d out: gradient of the data
 * term plus (if reg) the tie and weight decay of layers lo..top into grad; returns the tie
 * and weight-decay values in *tie_out, *wd_out. */
static void FN(backward)(bfc_learner *lr, int B, int top, int lo, int reg, REAL *grad,
                         double *tie_out, double *wd_out)
{
    const double lt = reg ? lr->cfg.lambda_tie : 0.0, lw = reg ? lr->cfg.lambda_wd : 0.0;
    const REAL Bc = (REAL)lr->cfg.clamp;
    const REAL *e = lr->WS.e;
    for (int l = lo; l < top; l++)
        if (lr->k[l]) memset(lr->WS.dS[l], 0, sizeof(REAL) * (size_t)B * lr->k[l]);

    /* Unclamped: through the union h* of quad_forward, out = h*ᵀQ*h*. dQ* = Σ_b e_b h*_b h*_bᵀ
     * in one GEMM (Ms = 2 dQ*; layer l's block, times α_l, is its 2 dQ_l), and the output's
     * gradient into each segment σ(R_j S_j), 2 e_b (h*Q*)_b, summed over all the layers reading
     * it, goes into dS_j here once (the feature branches add theirs below). */
    int useg[BFC_MAX_L], src[BFC_MAX_L + 1], dst[BFC_MAX_L + 1], len[BFC_MAX_L + 1], Hs = 0;
    if (Bc <= 0) {
        Hs = union_layout(lr, top, useg);
        const REAL *hs = lr->WS.hs, *Ps = lr->WS.Ps;
        REAL *hgs = lr->WS.hgs;
        for (int b = 0; b < B; b++)
            for (int i = 0; i < Hs; i++) hgs[(size_t)b * Hs + i] = e[b] * hs[(size_t)b * Hs + i];
        GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, Hs, Hs, B, 2.0, hs, Hs, hgs, Hs, 0.0,
             lr->WS.Ms, Hs);
        for (int j = lo; j < top; j++) {
            if (j < 2 || useg[j] < 0) continue;
            const int p = lr->p[j], kj = lr->k[j];
            const REAL *U = lr->WS.U[j];
            REAL *dU = lr->WS.scratch;
            for (int b = 0; b < B; b++)
                for (int i = 0; i < p; i++)
                    dU[(size_t)b * p + i] = (REAL)2 * e[b] * Ps[(size_t)b * Hs + useg[j] + i] *
                                            FN(dsq_clamped)(U[(size_t)b * p + i], Bc);
            GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, kj, p, 1.0, dU, p, lr->WS.R[j], kj,
                 1.0, lr->WS.dS[j], kj);
        }
    }

    double tie = 0.0, wd = 0.0;
    for (int l = top; l >= lo; l--) {
        const int H = lr->H[l], m = lr->m[l], k = lr->k[l];
        const REAL *W = lr->WS.theta + lr->off[l], *h = lr->WS.h[l];
        REAL *gW = grad + lr->off[l], *dh = lr->WS.dh[l], *hg = lr->WS.scratch;
        const REAL a = (REAL)lr->alpha[l];
        int need_dh = 0; /* does h_l carry gradient into a trainable lower layer? */
        for (int j = lo; j < l; j++)
            if (j >= 2 && lr->seg[l][j] >= 0) need_dh = 1;
        const int has_tie = l < lr->L && lt > 0;
        if (has_tie) tie += lt * FN(tie_matrix)(lr, l);

        if (Bc > 0) {
            /* dF (B × m) = 2 α e_b clamp(F) [|F| < B]; gW = dFᵀ h; dh = dF W */
            const REAL *F = lr->WS.P[l];
            for (int b = 0; b < B; b++)
                for (int i = 0; i < m; i++) {
                    const REAL u = F[(size_t)b * m + i];
                    hg[(size_t)b * m + i] = a * e[b] * FN(dsq_clamped)(u, Bc);
                }
            GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, m, H, B, 1.0, hg, m, h, H, 0.0, gW, H);
            if (has_tie)
                SYMM(CblasRowMajor, CblasRight, CblasUpper, m, H, (REAL)(-4.0 * lt), lr->WS.D[l],
                     H, W, H, 1.0, gW, H);
            for (int j = lo; j < l && need_dh; j++) /* dh = dF W, on the columns read below */
                if (j >= 2 && lr->seg[l][j] >= 0)
                    GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, lr->p[j], m, 1.0, hg, m,
                         W + lr->seg[l][j], H, 0.0, dh + lr->seg[l][j], H);
        } else {
            /* gW = W (2 dQ_l − 4 λ D), 2 dQ_l = α_l times layer l's block of Ms */
            REAL *Mx = lr->WS.M[l];
            const int n = FN(union_runs)(lr, l, useg, Hs, src, dst, len);
            for (int r1 = 0; r1 < n; r1++)
                for (int t1 = 0; t1 < len[r1]; t1++) {
                    REAL *mx = Mx + (size_t)(src[r1] + t1) * H;
                    const REAL *ms = lr->WS.Ms + (size_t)(dst[r1] + t1) * Hs;
                    for (int r2 = 0; r2 < n; r2++) {
                        REAL *restrict to = mx + src[r2];
                        const REAL *restrict from = ms + dst[r2];
                        for (int t2 = 0; t2 < len[r2]; t2++) to[t2] = a * from[t2];
                    }
                }
            if (has_tie) AXPY(H * H, (REAL)(-4.0 * lt), lr->WS.D[l], 1, Mx, 1);
            GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, H, H, 1.0, W, H, Mx, H, 0.0, gW, H);
        }
        if (lw > 0) {
            wd += lw * DOT(m * H, W, 1, W, 1);
            AXPY(m * H, (REAL)(2.0 * lw), W, 1, gW, 1);
        }

        if (l < lr->L) {
            /* K_l: gK = dS_lᵀ h_l + 4 λ K_l D_l + 2 λ_wd K_l; dh += dS_l K_l */
            const REAL *K = lr->WS.theta + lr->offK[l];
            REAL *gK = grad + lr->offK[l];
            if (l < top)
                GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, k, H, B, 1.0, lr->WS.dS[l], k, h, H,
                     0.0, gK, H);
            else
                memset(gK, 0, sizeof(REAL) * (size_t)k * H);
            if (has_tie)
                SYMM(CblasRowMajor, CblasRight, CblasUpper, k, H, (REAL)(4.0 * lt), lr->WS.D[l], H,
                     K, H, 1.0, gK, H);
            if (lw > 0) {
                wd += lw * DOT(k * H, K, 1, K, 1);
                AXPY(k * H, (REAL)(2.0 * lw), K, 1, gK, 1);
            }
            /* (unclamped: dh holds only this term, the output's went in above) */
            for (int j = lo; j < l && need_dh && l < top; j++)
                if (j >= 2 && lr->seg[l][j] >= 0)
                    GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, lr->p[j], k, 1.0,
                         lr->WS.dS[l], k, K + lr->seg[l][j], H, Bc > 0 ? 1.0 : 0.0,
                         dh + lr->seg[l][j], H);
        }

        /* into the segments σ(R_j S_j) of h_l: dU = dh_seg ⊙ σ'(U), dS_j += dU R_j */
        if (!need_dh || (Bc <= 0 && !(l < top && l < lr->L))) continue;
        for (int j = lo; j < l; j++) {
            const int o = lr->seg[l][j];
            if (j < 2 || o < 0) continue;
            const int p = lr->p[j], kj = lr->k[j];
            const REAL *U = lr->WS.U[j];
            REAL *dU = lr->WS.scratch; /* hg no longer needed */
            for (int b = 0; b < B; b++)
                for (int i = 0; i < p; i++)
                    dU[(size_t)b * p + i] =
                        dh[(size_t)b * H + o + i] * FN(dsq_clamped)(U[(size_t)b * p + i], Bc);
            GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, kj, p, 1.0, dU, p, lr->WS.R[j], kj,
                 1.0, lr->WS.dS[j], kj);
        }
    }
    *tie_out = tie;
    *wd_out = wd;
}

/* Objective and gradient (into grad, this precision's) on a batch; see bfc_learner_loss_grad.
 * The outputs go through lr->out (double), the loss derivative e through this precision. */
static double FN(loss_grad)(bfc_learner *lr, const double *X, const double *y, int B, int top,
                            int lo, REAL *grad, double parts[3])
{
    double *out = lr->out;
    REAL *e = lr->WS.e;
    FN(forward_rows)(lr, X, B, top, 0, 1, out);

    /* loss and dloss/dout */
    double loss = 0.0;
    if (lr->task == BFC_TASK_CLASSIFICATION) {
        double gb = 0.0;
        for (int b = 0; b < B; b++) {
            const double z = y[b] * out[b];
            /* log(1 + e^{−z}) computed stably; d/dout = −y σ(−z) */
            loss += z > 0 ? log1p(exp(-z)) : -z + log1p(exp(z));
            const double s = z > 0 ? exp(-z) / (1.0 + exp(-z)) : 1.0 / (1.0 + exp(z));
            e[b] = (REAL)(-y[b] * s / B);
            gb -= e[b];
        }
        grad[0] = (REAL)gb;
    } else {
        for (int b = 0; b < B; b++) {
            const double r = out[b] - y[b];
            loss += r * r;
            e[b] = (REAL)(2.0 * r / B);
        }
    }
    loss /= B;
    double tie = 0.0, wd = 0.0;
    FN(backward)(lr, B, top, lo, 1, grad, &tie, &wd);
    if (parts) {
        parts[0] = loss;
        parts[1] = tie;
        parts[2] = wd;
    }
    return loss + tie + wd;
}

/* The parameters of this inclusion end with it, so the next one can set them afresh. */
#undef REAL
#undef FN
#undef WS
#undef GEMM
#undef SYRK
#undef SYMM
#undef DOT
#undef AXPY
