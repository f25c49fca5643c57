extension FakeCUDA {
    /// The fake's cuDNN (naive loops behind tagged, checked descriptors) and cuBLAS; closes the
    /// `extern "C"` block ``driverSource`` opens.
    static let cudnnSource = #"""
        // ---------------------------------------------------------------- cuDNN
        enum { TENSOR = 0x7e11, FILTER = 0xf11e, CONV = 0xc0c0 };
        struct Desc { int kind; int d[4]; int set; int pad[2], stride[2], dil[2], groups, math; };
        const int BAD = 3, NOT_SUPPORTED = 9;
        static Desc* as(void* p, int kind) { Desc* d = (Desc*)p; return d && d->kind == kind && d->set ? d : nullptr; }
        size_t cudnnGetVersion() { return 91400; }
        const char* cudnnGetErrorString(int s) {
            return s == 0 ? "CUDNN_STATUS_SUCCESS" : s == 3 ? "CUDNN_STATUS_BAD_PARAM"
                : s == 1008 ? "CUDNN_STATUS_SUBLIBRARY_LOADING_FAILED" : "CUDNN_STATUS_FAKE_ERROR";
        }
        // A failure injected into `name` (fakecuda_fail), with cuDNN 9's per-thread message.
        static int cudnnInjected(const char* name) {
            int s = injected(name);
            if (s) gCudnnLastError = std::string("fake cuDNN: ") + name + " was told to fail";
            return s;
        }
        #ifndef FAKE_LEGACY
        void cudnnGetLastErrorString(char* message, size_t size) {
            if (!message || size == 0) return;
            snprintf(message, size, "%s", gCudnnLastError.c_str()); gCudnnLastError.clear();
        }
        size_t cudnnGetCudartVersion() { return 13000; }
        int cudnnGraphVersionCheck() { return cudnnInjected("cudnnGraphVersionCheck"); }
        int cudnnOpsVersionCheck() { return cudnnInjected("cudnnOpsVersionCheck"); }
        int cudnnCnnVersionCheck() { return cudnnInjected("cudnnCnnVersionCheck"); }
        int cudnnAdvVersionCheck() { return 1008; }   // not used by the backend: never called
        #endif
        static int gHandle = 7;
        int cudnnCreate(void** h) { *h = &gHandle; return 0; }
        int cudnnDestroy(void* h) { return h == &gHandle ? 0 : BAD; }
        static int create(void** p, int kind) {
            bump("cudnn descriptors created"); Desc* d = new Desc(); d->kind = kind; d->groups = 1; *p = d; return 0;
        }
        static int destroy(void* p, int kind) { Desc* d = (Desc*)p; if (!d || d->kind != kind) return BAD; delete d; return 0; }
        int cudnnCreateTensorDescriptor(void** p) { return create(p, TENSOR); }
        int cudnnDestroyTensorDescriptor(void* p) { return destroy(p, TENSOR); }
        int cudnnCreateFilterDescriptor(void** p) { return create(p, FILTER); }
        int cudnnDestroyFilterDescriptor(void* p) { return destroy(p, FILTER); }
        int cudnnCreateConvolutionDescriptor(void** p) { return create(p, CONV); }
        int cudnnDestroyConvolutionDescriptor(void* p) { return destroy(p, CONV); }
        int cudnnSetTensor4dDescriptor(void* p, int format, int type, int n, int c, int h, int w) {
            Desc* d = (Desc*)p; if (!d || d->kind != TENSOR || format != 0 || type != 0 || n <= 0 || c <= 0 || h <= 0 || w <= 0) return BAD;
            d->d[0] = n; d->d[1] = c; d->d[2] = h; d->d[3] = w; d->set = 1; return 0;
        }
        int cudnnSetFilter4dDescriptor(void* p, int type, int format, int k, int c, int h, int w) {
            Desc* d = (Desc*)p; if (!d || d->kind != FILTER || format != 0 || type != 0 || k <= 0 || c <= 0 || h <= 0 || w <= 0) return BAD;
            d->d[0] = k; d->d[1] = c; d->d[2] = h; d->d[3] = w; d->set = 1; return 0;
        }
        int cudnnSetConvolution2dDescriptor(void* p, int ph, int pw, int u, int v, int dh, int dw, int mode, int type) {
            Desc* d = (Desc*)p; if (!d || d->kind != CONV || mode != 1 || type != 0 || u <= 0 || v <= 0 || ph < 0 || pw < 0 || dh != 1 || dw != 1) return BAD;
            d->pad[0] = ph; d->pad[1] = pw; d->stride[0] = u; d->stride[1] = v; d->dil[0] = dh; d->dil[1] = dw; d->set = 1; return 0;
        }
        int cudnnSetConvolutionGroupCount(void* p, int g) { Desc* d = as(p, CONV); if (!d || g <= 0) return BAD; d->groups = g; return 0; }
        int cudnnSetConvolutionMathType(void* p, int m) { Desc* d = as(p, CONV); if (!d || m < 0 || m > 3) return BAD; d->math = m; return 0; }
        int cudnnGetConvolution2dForwardOutputDim(void* c, void* x, void* w, int* n, int* k, int* h, int* wd) {
            Desc *cd = as(c, CONV), *xd = as(x, TENSOR), *fd = as(w, FILTER);
            if (!cd || !xd || !fd || xd->d[1] != fd->d[1] * cd->groups || fd->d[0] % cd->groups) return BAD;
            *n = xd->d[0]; *k = fd->d[0];
            *h = (xd->d[2] + 2 * cd->pad[0] - fd->d[2]) / cd->stride[0] + 1;
            *wd = (xd->d[3] + 2 * cd->pad[1] - fd->d[3]) / cd->stride[1] + 1;
            return 0;
        }
        static bool geometry(void* c, void* x, void* w, void* y) {
            int n, k, h, wd;
            Desc* yd = as(y, TENSOR);
            return yd && cudnnGetConvolution2dForwardOutputDim(c, x, w, &n, &k, &h, &wd) == 0 && yd->d[0] == n && yd->d[1] == k && yd->d[2] == h && yd->d[3] == wd;
        }
        struct Perf { int algo; int status; float time; size_t memory; int determinism; int mathType; int reserved[3]; };
        static_assert(sizeof(Perf) == 48, "cuDNN's perf struct");
        // The pass's FFT algorithm (`fft`: 4 forward, 2 backward) is the fastest, needs no workspace and is not
        // deterministic (fp32 runs must not pick it); algorithm 1 is the fastest of the rest but needs a 4 KiB
        // workspace and is not deterministic; 0 is deterministic and needs none; 5 is not supported. Running
        // algorithm 1 without its workspace fails.
        static int results(void* c, int requested, int* returned, Perf* perf, int fft) {
            Desc* cd = as(c, CONV); if (!cd || requested < 4) return BAD;
            perf[0] = {fft, 0, 0.25f, 0, 0, cd->math, {0, 0, 0}};
            perf[1] = {1, 0, 0.5f, 4096, 0, cd->math, {0, 0, 0}};
            perf[2] = {0, 0, 1.0f, 0, 1, cd->math, {0, 0, 0}};
            perf[3] = {5, NOT_SUPPORTED, -1.0f, 0, 0, cd->math, {0, 0, 0}};
            *returned = 4; return 0;
        }
        static int workspaceFor(int algo) { return algo == 1 ? 4096 : 0; }
        static int checkAlgo(void* c, int algo, void* ws, size_t wsSize, int fft) {
            Desc* cd = as(c, CONV); if (!cd) return BAD;
            if (algo != 0 && algo != 1 && algo != fft) return NOT_SUPPORTED;
            if ((size_t)workspaceFor(algo) > wsSize || (workspaceFor(algo) && !ws)) return BAD;
            return 0;
        }
        static void poison(void* p, size_t count) { float* f = (float*)p; for (size_t i = 0; i < count; ++i) f[i] = NAN; }
        static size_t count(void* d) { Desc* t = (Desc*)d; return (size_t)t->d[0] * t->d[1] * t->d[2] * t->d[3]; }

        // y = alpha·conv(x, w) + beta·y, with groups.
        static void convForward(Desc* cd, Desc* xd, const float* x, Desc* wd, const float* w, Desc* yd, float* y, float alpha, float beta) {
            int N = xd->d[0], C = xd->d[1], H = xd->d[2], W = xd->d[3], K = wd->d[0], Cg = wd->d[1], R = wd->d[2], S = wd->d[3];
            int P = yd->d[2], Q = yd->d[3], G = cd->groups, Kg = K / G;
            for (int n = 0; n < N; ++n) for (int k = 0; k < K; ++k) for (int p = 0; p < P; ++p) for (int q = 0; q < Q; ++q) {
                int g = k / Kg; double s = 0;
                for (int c = 0; c < Cg; ++c) for (int r = 0; r < R; ++r) for (int t = 0; t < S; ++t) {
                    int h = p * cd->stride[0] - cd->pad[0] + r, ww = q * cd->stride[1] - cd->pad[1] + t;
                    if (h < 0 || h >= H || ww < 0 || ww >= W) continue;
                    s += (double)x[((size_t)(n * C + g * Cg + c) * H + h) * W + ww] * w[((size_t)(k * Cg + c) * R + r) * S + t];
                }
                float& o = y[((size_t)(n * K + k) * P + p) * Q + q];
                o = alpha * (float)s + (beta == 0 ? 0.0f : beta * o);
            }
        }
        static void convBackwardData(Desc* cd, Desc* wd, const float* w, Desc* yd, const float* dy, Desc* xd, float* dx, float alpha, float beta) {
            int N = xd->d[0], C = xd->d[1], H = xd->d[2], W = xd->d[3], K = wd->d[0], Cg = wd->d[1], R = wd->d[2], S = wd->d[3];
            int P = yd->d[2], Q = yd->d[3], G = cd->groups, Kg = K / G;
            std::vector<double> acc((size_t)N * C * H * W, 0.0);
            for (int n = 0; n < N; ++n) for (int k = 0; k < K; ++k) for (int p = 0; p < P; ++p) for (int q = 0; q < Q; ++q) {
                int g = k / Kg; double v = dy[((size_t)(n * K + k) * P + p) * Q + q];
                for (int c = 0; c < Cg; ++c) for (int r = 0; r < R; ++r) for (int t = 0; t < S; ++t) {
                    int h = p * cd->stride[0] - cd->pad[0] + r, ww = q * cd->stride[1] - cd->pad[1] + t;
                    if (h < 0 || h >= H || ww < 0 || ww >= W) continue;
                    acc[((size_t)(n * C + g * Cg + c) * H + h) * W + ww] += v * w[((size_t)(k * Cg + c) * R + r) * S + t];
                }
            }
            for (size_t i = 0; i < acc.size(); ++i) dx[i] = alpha * (float)acc[i] + (beta == 0 ? 0.0f : beta * dx[i]);
        }
        static void convBackwardFilter(Desc* cd, Desc* xd, const float* x, Desc* yd, const float* dy, Desc* wd, float* dw, float alpha, float beta) {
            int N = xd->d[0], C = xd->d[1], H = xd->d[2], W = xd->d[3], K = wd->d[0], Cg = wd->d[1], R = wd->d[2], S = wd->d[3];
            int P = yd->d[2], Q = yd->d[3], G = cd->groups, Kg = K / G;
            for (int k = 0; k < K; ++k) for (int c = 0; c < Cg; ++c) for (int r = 0; r < R; ++r) for (int t = 0; t < S; ++t) {
                int g = k / Kg; double s = 0;
                for (int n = 0; n < N; ++n) for (int p = 0; p < P; ++p) for (int q = 0; q < Q; ++q) {
                    int h = p * cd->stride[0] - cd->pad[0] + r, ww = q * cd->stride[1] - cd->pad[1] + t;
                    if (h < 0 || h >= H || ww < 0 || ww >= W) continue;
                    s += (double)x[((size_t)(n * C + g * Cg + c) * H + h) * W + ww] * dy[((size_t)(n * K + k) * P + p) * Q + q];
                }
                float& o = dw[((size_t)(k * Cg + c) * R + r) * S + t];
                o = alpha * (float)s + (beta == 0 ? 0.0f : beta * o);
            }
        }
        int cudnnFindConvolutionForwardAlgorithmEx(void* h, void* x, const void* xp, void* w, const void* wp, void* c, void* y, void* yp,
                                                   int req, int* ret, Perf* perf, void* ws, size_t wsSize) {
            if (h != &gHandle || !as(x, TENSOR) || !as(w, FILTER) || !geometry(c, x, w, y) || !xp || !wp || !yp || (wsSize && !ws)) return BAD;
            gFindCalls++; poison(yp, count(y)); return results(c, req, ret, perf, 4);
        }
        int cudnnGetConvolutionForwardAlgorithm_v7(void* h, void* x, void* w, void* c, void* y, int req, int* ret, Perf* perf) {
            if (h != &gHandle || !as(x, TENSOR) || !as(w, FILTER) || !geometry(c, x, w, y)) return BAD; return results(c, req, ret, perf, 4);
        }
        int cudnnGetConvolutionForwardWorkspaceSize(void* h, void* x, void* w, void* c, void* y, int algo, size_t* size) {
            if (h != &gHandle || !geometry(c, x, w, y)) return BAD; *size = workspaceFor(algo); return 0;
        }
        int cudnnConvolutionForward(void* h, const void* alpha, void* x, const void* xp, void* w, const void* wp, void* c, int algo, void* ws, size_t wsSize,
                                    const void* beta, void* y, void* yp) {
            if (h != &gHandle || !as(x, TENSOR) || !as(w, FILTER) || !geometry(c, x, w, y)) return BAD;
            if (int s = checkAlgo(c, algo, ws, wsSize, 4)) return s;
            if (int s = cudnnInjected("cudnnConvolutionForward")) return s;
            convForward((Desc*)c, (Desc*)x, (const float*)xp, (Desc*)w, (const float*)wp, (Desc*)y, (float*)yp, *(const float*)alpha, *(const float*)beta);
            return 0;
        }
        int cudnnFindConvolutionBackwardDataAlgorithmEx(void* h, void* w, const void* wp, void* dy, const void* dyp, void* c, void* dx, void* dxp,
                                                        int req, int* ret, Perf* perf, void* ws, size_t wsSize) {
            if (h != &gHandle || !as(w, FILTER) || !as(dx, TENSOR) || !geometry(c, dx, w, dy) || !wp || !dyp || !dxp || (wsSize && !ws)) return BAD;
            gFindCalls++; poison(dxp, count(dx)); return results(c, req, ret, perf, 2);
        }
        int cudnnGetConvolutionBackwardDataAlgorithm_v7(void* h, void* w, void* dy, void* c, void* dx, int req, int* ret, Perf* perf) {
            if (h != &gHandle || !as(w, FILTER) || !as(dx, TENSOR) || !geometry(c, dx, w, dy)) return BAD; return results(c, req, ret, perf, 2);
        }
        int cudnnGetConvolutionBackwardDataWorkspaceSize(void* h, void* w, void* dy, void* c, void* dx, int algo, size_t* size) {
            if (h != &gHandle || !as(w, FILTER) || !geometry(c, dx, w, dy)) return BAD; *size = workspaceFor(algo); return 0;
        }
        int cudnnConvolutionBackwardData(void* h, const void* alpha, void* w, const void* wp, void* dy, const void* dyp, void* c, int algo, void* ws,
                                         size_t wsSize, const void* beta, void* dx, void* dxp) {
            if (h != &gHandle || !as(w, FILTER) || !as(dx, TENSOR) || !geometry(c, dx, w, dy)) return BAD;
            if (int s = checkAlgo(c, algo, ws, wsSize, 2)) return s;
            convBackwardData((Desc*)c, (Desc*)w, (const float*)wp, (Desc*)dy, (const float*)dyp, (Desc*)dx, (float*)dxp, *(const float*)alpha, *(const float*)beta);
            return 0;
        }
        int cudnnFindConvolutionBackwardFilterAlgorithmEx(void* h, void* x, const void* xp, void* dy, const void* dyp, void* c, void* dw, void* dwp,
                                                          int req, int* ret, Perf* perf, void* ws, size_t wsSize) {
            if (h != &gHandle || !as(x, TENSOR) || !as(dw, FILTER) || !geometry(c, x, dw, dy) || !xp || !dyp || !dwp || (wsSize && !ws)) return BAD;
            gFindCalls++; poison(dwp, count(dw)); return results(c, req, ret, perf, 2);
        }
        int cudnnGetConvolutionBackwardFilterAlgorithm_v7(void* h, void* x, void* dy, void* c, void* dw, int req, int* ret, Perf* perf) {
            if (h != &gHandle || !as(x, TENSOR) || !as(dw, FILTER) || !geometry(c, x, dw, dy)) return BAD; return results(c, req, ret, perf, 2);
        }
        int cudnnGetConvolutionBackwardFilterWorkspaceSize(void* h, void* x, void* dy, void* c, void* dw, int algo, size_t* size) {
            if (h != &gHandle || !as(x, TENSOR) || !geometry(c, x, dw, dy)) return BAD; *size = workspaceFor(algo); return 0;
        }
        int cudnnConvolutionBackwardFilter(void* h, const void* alpha, void* x, const void* xp, void* dy, const void* dyp, void* c, int algo, void* ws,
                                           size_t wsSize, const void* beta, void* dw, void* dwp) {
            if (h != &gHandle || !as(x, TENSOR) || !as(dw, FILTER) || !geometry(c, x, dw, dy)) return BAD;
            if (int s = checkAlgo(c, algo, ws, wsSize, 2)) return s;
            convBackwardFilter((Desc*)c, (Desc*)x, (const float*)xp, (Desc*)dy, (const float*)dyp, (Desc*)dw, (float*)dwp, *(const float*)alpha, *(const float*)beta);
            return 0;
        }
        int cudnnDeriveBNTensorDescriptor(void* bn, void* x, int mode) {
            Desc *b = (Desc*)bn, *xd = as(x, TENSOR);
            if (!b || b->kind != TENSOR || !xd || mode != 1) return BAD;
            b->d[0] = 1; b->d[1] = xd->d[1]; b->d[2] = 1; b->d[3] = 1; b->set = 1; return 0;
        }
        static bool bnArgs(int mode, void* x, void* y, void* bn) {
            Desc *xd = as(x, TENSOR), *yd = as(y, TENSOR), *bd = as(bn, TENSOR);
            return mode == 1 && xd && yd && bd && !memcmp(xd->d, yd->d, sizeof xd->d) && bd->d[0] == 1 && bd->d[1] == xd->d[1] && bd->d[2] == 1 && bd->d[3] == 1;
        }
        int cudnnBatchNormalizationForwardTraining(void* h, int mode, const void* alpha, const void* beta, void* x, const void* xp, void* y, void* yp,
                                                   void* bn, const void* scale, const void* bias, double factor, void* runMean, void* runVar,
                                                   double eps, void* saveMean, void* saveInv) {
            if (h != &gHandle || !bnArgs(mode, x, y, bn) || !scale || !bias || (!runMean) != (!runVar) || eps < 0 || *(const float*)alpha != 1 || *(const float*)beta != 0) return BAD;
            Desc* xd = (Desc*)x; int N = xd->d[0], C = xd->d[1], HW = xd->d[2] * xd->d[3]; long m = (long)N * HW;
            if (m < 2 && runMean) return BAD;   // the unbiased variance divides by m - 1
            const float* X = (const float*)xp; float* Y = (float*)yp;
            for (int c = 0; c < C; ++c) {
                double s = 0, ss = 0;
                for (int n = 0; n < N; ++n) for (int i = 0; i < HW; ++i) s += X[((size_t)n * C + c) * HW + i];
                double mean = s / m;
                for (int n = 0; n < N; ++n) for (int i = 0; i < HW; ++i) { double d = X[((size_t)n * C + c) * HW + i] - mean; ss += d * d; }
                double var = ss / m, inv = 1 / sqrt(var + eps);
                for (int n = 0; n < N; ++n) for (int i = 0; i < HW; ++i) {
                    size_t j = ((size_t)n * C + c) * HW + i; Y[j] = (float)((X[j] - mean) * inv * ((const float*)scale)[c] + ((const float*)bias)[c]);
                }
                if (runMean) {
                    float* rm = (float*)runMean; float* rv = (float*)runVar;
                    rm[c] = (float)((1 - factor) * rm[c] + factor * mean);
                    rv[c] = (float)((1 - factor) * rv[c] + factor * var * m / (m - 1));
                }
                if (saveMean) ((float*)saveMean)[c] = (float)mean;
                if (saveInv) ((float*)saveInv)[c] = (float)inv;
            }
            return 0;
        }
        int cudnnBatchNormalizationForwardInference(void* h, int mode, const void* alpha, const void* beta, void* x, const void* xp, void* y, void* yp,
                                                    void* bn, const void* scale, const void* bias, const void* mean, const void* var, double eps) {
            if (h != &gHandle || !bnArgs(mode, x, y, bn) || !scale || !bias || !mean || !var || *(const float*)alpha != 1 || *(const float*)beta != 0) return BAD;
            Desc* xd = (Desc*)x; int N = xd->d[0], C = xd->d[1], HW = xd->d[2] * xd->d[3];
            for (int n = 0; n < N; ++n) for (int c = 0; c < C; ++c) for (int i = 0; i < HW; ++i) {
                size_t j = ((size_t)n * C + c) * HW + i;
                double inv = 1 / sqrt((double)((const float*)var)[c] + eps);
                ((float*)yp)[j] = (float)((((const float*)xp)[j] - ((const float*)mean)[c]) * inv * ((const float*)scale)[c] + ((const float*)bias)[c]);
            }
            return 0;
        }
        int cudnnBatchNormalizationBackward(void* h, int mode, const void* ad, const void* bd, const void* ap, const void* bp, void* x, const void* xp,
                                            void* dy, const void* dyp, void* dx, void* dxp, void* bn, const void* scale, void* dScale, void* dBias,
                                            double eps, const void* savedMean, const void* savedInv) {
            if (h != &gHandle || !bnArgs(mode, x, dy, bn) || !bnArgs(mode, x, dx, bn) || !scale || !dScale || !dBias || !savedMean || !savedInv) return BAD;
            if (*(const float*)ad != 1 || *(const float*)bd != 0 || *(const float*)ap != 1 || *(const float*)bp != 0) return BAD;
            Desc* xd = (Desc*)x; int N = xd->d[0], C = xd->d[1], HW = xd->d[2] * xd->d[3]; double m = (double)N * HW;
            const float *X = (const float*)xp, *DY = (const float*)dyp; float* DX = (float*)dxp;
            for (int c = 0; c < C; ++c) {
                double mean = ((const float*)savedMean)[c], inv = ((const float*)savedInv)[c], sdy = 0, sdyx = 0;
                for (int n = 0; n < N; ++n) for (int i = 0; i < HW; ++i) { size_t j = ((size_t)n * C + c) * HW + i; sdy += DY[j]; sdyx += DY[j] * (X[j] - mean) * inv; }
                ((float*)dBias)[c] = (float)sdy; ((float*)dScale)[c] = (float)sdyx;
                double g = ((const float*)scale)[c];
                for (int n = 0; n < N; ++n) for (int i = 0; i < HW; ++i) {
                    size_t j = ((size_t)n * C + c) * HW + i; double xh = (X[j] - mean) * inv;
                    DX[j] = (float)(g * inv * (DY[j] - sdy / m - xh * sdyx / m));
                }
            }
            return 0;
        }

        // ---------------------------------------------------------------- cuBLAS
        static int gBlas = 9;
        int cublasCreate_v2(void** h) { *h = &gBlas; return 0; }
        int cublasDestroy_v2(void* h) { return h == &gBlas ? 0 : 1; }
        int cublasSetMathMode(void* h, int mode) {
            bump("cublasSetMathMode=" + std::to_string(mode)); return h == &gBlas && (mode == 0 || mode == 2 || mode == 3) ? 0 : 7;
        }
        int cublasGetVersion_v2(void* h, int* v) { *v = 130100; return h == &gBlas ? 0 : 1; }
        const char* cublasGetStatusString(int s) { return s == 0 ? "CUBLAS_STATUS_SUCCESS" : "CUBLAS_STATUS_INVALID_VALUE"; }
        int cublasSgemm_v2(void* h, int ta, int tb, int m, int n, int k, const float* alpha, const float* A, int lda, const float* B, int ldb,
                           const float* beta, float* Cm, int ldc) {
            if (h != &gBlas || (ta != 0 && ta != 1) || (tb != 0 && tb != 1) || m < 0 || n < 0 || k < 0) return 7;
            if (lda < (ta == 0 ? (m > 1 ? m : 1) : (k > 1 ? k : 1)) || ldb < (tb == 0 ? (k > 1 ? k : 1) : (n > 1 ? n : 1)) || ldc < (m > 1 ? m : 1)) return 7;
            if (!inside((uint64_t)(uintptr_t)A, 4 * (size_t)lda * (ta == 0 ? k : m) - 4 * (lda - (ta == 0 ? m : k)))) return 7;
            if (!inside((uint64_t)(uintptr_t)B, 4 * (size_t)ldb * (tb == 0 ? n : k) - 4 * (ldb - (tb == 0 ? k : n)))) return 7;
            if (!inside((uint64_t)(uintptr_t)Cm, 4 * (size_t)ldc * n - 4 * (ldc - m))) return 7;
            for (int j = 0; j < n; ++j) for (int i = 0; i < m; ++i) {
                double s = 0;
                for (int l = 0; l < k; ++l) s += (double)(ta == 0 ? A[i + (size_t)l * lda] : A[l + (size_t)i * lda]) * (tb == 0 ? B[l + (size_t)j * ldb] : B[j + (size_t)l * ldb]);
                float& c = Cm[i + (size_t)j * ldc];
                c = *alpha * (float)s + (*beta == 0 ? 0.0f : *beta * c);
            }
            return 0;
        }
        int fakecuda_find_calls() { return gFindCalls; }
        int fakecuda_live_allocations() { std::lock_guard<std::mutex> g(gLock); return (int)gAllocations.size(); }
        }
        """#
}
