extension FakeCUDA {
    /// The fake's driver and NVRTC, with the test hooks (counters and injected failures); the C++ file
    /// starts with it and goes on with ``cudnnSource``.
    static let driverSource = #"""
        // A fake CUDA driver, NVRTC, cuDNN and cuBLAS in one shared library, for testing the CUDA backend's
        // host code on a machine without a GPU: "device memory" is host memory, kernels run as C++ on the CPU
        // (the real kernel sources with CUDA's built-ins emulated), cuDNN and cuBLAS calls are naive loops.
        // Descriptors are tagged and checked, so arguments passed in the wrong place fail with BAD_PARAM.
        #include "emu.h"
        #include "kernels.cu"
        #include <cstring>
        #include <cstdint>
        #include <string>
        #include <map>
        #include <mutex>
        #include <cstdlib>

        typedef void (*Trampoline)(void**);
        struct KernelEntry { const char* name; Trampoline fn; bool block; };
        #include "trampolines.inc"   // static KernelEntry kernelTable[]; static int kernelCount;

        static std::mutex gLock;
        static std::map<uintptr_t, size_t> gAllocations;
        static int gFindCalls = 0;

        // Test hooks: named counters, and failures injected by name.
        static std::mutex gHookLock;
        static std::map<std::string, long> gCounters;
        static std::map<std::string, int> gFailures;
        static void bump(const std::string& name) { std::lock_guard<std::mutex> g(gHookLock); gCounters[name]++; }
        // A failure set by fakecuda_fail, or by FAKECUDA_FAIL="name=status,..." in the environment (for other processes).
        static int injected(const std::string& name) {
            bump(name);
            std::lock_guard<std::mutex> g(gHookLock);
            auto it = gFailures.find(name);
            if (it != gFailures.end()) return it->second;
            const char* env = getenv("FAKECUDA_FAIL");
            std::string list = env ? std::string(",") + env : "", key = "," + name + "=";
            size_t at = list.find(key);
            return at == std::string::npos ? 0 : atoi(list.c_str() + at + key.size());
        }
        static thread_local std::string gCudnnLastError;   // cuDNN 9's per-thread last error message

        extern "C" {
        long fakecuda_counter(const char* name) { std::lock_guard<std::mutex> g(gHookLock); auto it = gCounters.find(name); return it == gCounters.end() ? 0 : it->second; }
        void fakecuda_fail(const char* name, int status) { std::lock_guard<std::mutex> g(gHookLock); gFailures[name] = status; }
        void fakecuda_reset() { std::lock_guard<std::mutex> g(gHookLock); gCounters.clear(); gFailures.clear(); }
        // ---------------------------------------------------------------- driver
        typedef int CUresult;
        CUresult cuInit(unsigned) { return 0; }
        CUresult cuDriverGetVersion(int* v) { *v = 13000; return 0; }
        CUresult cuDeviceGetCount(int* n) { *n = 1; return 0; }
        CUresult cuDeviceGet(int* d, int ordinal) { if (ordinal != 0) return 101; *d = 0; return 0; }
        CUresult cuDeviceGetName(char* name, int len, int) { snprintf(name, len, "Fake GPU (CPU emulation)"); return 0; }
        CUresult cuDeviceGetAttribute(int* v, int attribute, int) {
            switch (attribute) { case 75: *v = 9; break; case 76: *v = 0; break; case 16: *v = 4; break; default: return 1; }
            return 0;
        }
        CUresult cuDeviceTotalMem_v2(size_t* bytes, int) { *bytes = size_t(16) << 30; return 0; }
        static int gContext = 42;
        CUresult cuDevicePrimaryCtxRetain(void** ctx, int) { *ctx = &gContext; return 0; }
        CUresult cuDevicePrimaryCtxRelease_v2(int) { return 0; }
        CUresult cuCtxSetCurrent(void* ctx) { return ctx == &gContext ? 0 : 201; }
        static void settleCopies(size_t upTo);
        CUresult cuCtxSynchronize() { settleCopies(SIZE_MAX); return 0; }
        CUresult cuMemAlloc_v2(uint64_t* p, size_t bytes) {
            if (bytes == 0) return 1;
            void* m = aligned_alloc(256, (bytes + 255) / 256 * 256);
            if (!m) return 2;
            std::lock_guard<std::mutex> g(gLock); gAllocations[(uintptr_t)m] = bytes; *p = (uint64_t)(uintptr_t)m; return 0;
        }
        CUresult cuMemFree_v2(uint64_t p) {
            std::lock_guard<std::mutex> g(gLock);
            if (!gAllocations.erase((uintptr_t)p)) return 1;
            free((void*)(uintptr_t)p); return 0;
        }
        // Whether [p, p + bytes) lies inside one allocation.
        static bool inside(uint64_t p, size_t bytes) {
            std::lock_guard<std::mutex> g(gLock);
            auto it = gAllocations.upper_bound((uintptr_t)p);
            if (it == gAllocations.begin()) return false;
            --it;
            return (uintptr_t)p >= it->first && (uintptr_t)p + bytes <= it->first + it->second;
        }
        CUresult cuMemGetInfo_v2(size_t* freeBytes, size_t* total) { *freeBytes = size_t(256) << 20; *total = size_t(16) << 30; return 0; }
        CUresult cuMemcpyHtoD_v2(uint64_t dst, const void* src, size_t n) {
            bump("cuMemcpyHtoD_v2"); if (!inside(dst, n)) return 1; memcpy((void*)(uintptr_t)dst, src, n); return 0;
        }
        // Pinned host memory, asynchronous uploads from it only, and events. The copy happens at once, but the
        // source stays "in flight" (with a checksum) until an event recorded after it, or the context, is
        // synchronized: a source changed before that was overwritten while a real GPU might still read it.
        static std::map<uintptr_t, size_t> gPinned;
        struct InFlight { const unsigned char* source; size_t bytes; uint64_t sum; };
        static std::vector<InFlight> gInFlight;   // in queue order; settled ones are erased from the front
        static size_t gQueued = 0;                // copies queued so far; gInFlight holds the last ones
        static uint64_t checksum(const unsigned char* p, size_t n) { uint64_t h = 1469598103934665603ull; for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull; return h; }
        // Checks and retires the in-flight copies among the first `upTo` queued (under gLock).
        static void settleCopies(size_t upTo) {
            std::lock_guard<std::mutex> g(gLock);
            size_t first = gQueued - gInFlight.size();
            while (!gInFlight.empty() && first < upTo) {
                if (checksum(gInFlight.front().source, gInFlight.front().bytes) != gInFlight.front().sum) bump("staging overwritten in flight");
                gInFlight.erase(gInFlight.begin()); first++;
            }
        }
        CUresult cuMemHostAlloc(void** p, size_t bytes, unsigned flags) {
            if (bytes == 0 || flags != 0) return 1;
            void* m = aligned_alloc(4096, (bytes + 4095) / 4096 * 4096);
            if (!m) return 2;
            std::lock_guard<std::mutex> g(gLock); gPinned[(uintptr_t)m] = bytes; *p = m; bump("cuMemHostAlloc"); return 0;
        }
        CUresult cuMemFreeHost(void* p) {
            std::lock_guard<std::mutex> g(gLock);
            for (auto& f : gInFlight) if (f.source >= (const unsigned char*)p && f.source < (const unsigned char*)p + gPinned[(uintptr_t)p]) bump("pinned memory freed in flight");
            if (!gPinned.erase((uintptr_t)p)) return 1;
            free(p); return 0;
        }
        static bool pinned(const void* p, size_t n) {
            std::lock_guard<std::mutex> g(gLock);
            auto it = gPinned.upper_bound((uintptr_t)p);
            if (it == gPinned.begin()) return false;
            --it;
            return (uintptr_t)p >= it->first && (uintptr_t)p + n <= it->first + it->second;
        }
        CUresult cuMemcpyHtoDAsync_v2(uint64_t dst, const void* src, size_t n, void* stream) {
            bump("cuMemcpyHtoDAsync_v2");
            if (stream || !inside(dst, n)) return 1;
            if (!pinned(src, n)) { bump("pageable async upload"); return 1; }
            {
                std::lock_guard<std::mutex> g(gLock);
                for (auto& f : gInFlight) if (checksum(f.source, f.bytes) != f.sum) bump("staging overwritten in flight");
                gInFlight.push_back({(const unsigned char*)src, n, checksum((const unsigned char*)src, n)}); gQueued++;
            }
            memcpy((void*)(uintptr_t)dst, src, n); return 0;
        }
        struct Event { size_t after = 0; bool recorded = false; };
        CUresult cuEventCreate(void** e, unsigned flags) { if (flags != 2) return 1; *e = new Event(); return 0; }
        CUresult cuEventRecord(void* e, void* stream) {
            if (!e || stream) return 1;
            std::lock_guard<std::mutex> g(gLock); ((Event*)e)->after = gQueued; ((Event*)e)->recorded = true; return 0;
        }
        CUresult cuEventSynchronize(void* e) { if (!e) return 1; bump("cuEventSynchronize"); settleCopies(((Event*)e)->after); return 0; }
        CUresult cuEventDestroy_v2(void* e) { delete (Event*)e; return 0; }
        CUresult cuMemcpyDtoH_v2(void* dst, uint64_t src, size_t n) { if (!inside(src, n)) return 1; memcpy(dst, (void*)(uintptr_t)src, n); return 0; }
        CUresult cuMemcpyDtoD_v2(uint64_t dst, uint64_t src, size_t n) { if (!inside(dst, n) || !inside(src, n)) return 1; memmove((void*)(uintptr_t)dst, (void*)(uintptr_t)src, n); return 0; }
        CUresult cuMemsetD32_v2(uint64_t dst, unsigned v, size_t n) { if (!inside(dst, 4 * n)) return 1; unsigned* p = (unsigned*)(uintptr_t)dst; for (size_t i = 0; i < n; ++i) p[i] = v; return 0; }
        struct Module { std::string source; };
        // Images are "// fake CUBIN sm_90 for NAME" (must match the device) or "// fake PTX compute_XY for NAME" (XY <= 90).
        CUresult cuModuleLoadData(void** module, const void* image) {
            const char* text = (const char*)image;
            int arch = 0;
            if (sscanf(text, "// fake CUBIN sm_%d for ", &arch) == 1) {
                if (int s = injected("cuModuleLoadData:cubin")) return s;
                if (arch != 90) return 209;   // CUDA_ERROR_NO_BINARY_FOR_GPU
                bump("cubin loads");
            } else if (sscanf(text, "// fake PTX compute_%d for ", &arch) == 1) {
                if (int s = injected("cuModuleLoadData:ptx")) return s;
                if (arch > 90) return 209;
                bump("ptx loads");
            } else {
                return 200;   // CUDA_ERROR_INVALID_IMAGE
            }
            *module = new Module{text}; return 0;
        }
        CUresult cuModuleUnload(void* module) { delete (Module*)module; return 0; }
        CUresult cuModuleGetFunction(void** f, void* module, const char* name) {
            bump("cuModuleGetFunction");
            std::string head = std::string("extern \"C\" __global__ void ") + name + "(";
            if (((Module*)module)->source.find(head) == std::string::npos) return 500;   // not in this module
            for (int i = 0; i < kernelCount; ++i) if (strcmp(kernelTable[i].name, name) == 0) { *f = &kernelTable[i]; return 0; }
            return 500;
        }
        CUresult cuLaunchKernel(void* f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, unsigned shared,
                                void* stream, void** params, void** extra) {
            KernelEntry* k = (KernelEntry*)f;
            if (k) bump(std::string("launch ") + k->name);
            if (!k || gx == 0 || gy != 1 || gz != 1 || bx == 0 || bx > 1024 || by != 1 || bz != 1 || shared != 0 || stream || extra || !params) return 1;
            if (k->block && bx != 256) return 1;
            gridDim = {gx, 1, 1}; blockDim = {bx, 1, 1};
            for (unsigned b = 0; b < gx; ++b) {
                if (k->block) {
                    std::barrier<> bar(bx); g_barrier = &bar;
                    std::vector<std::thread> ts;
                    for (unsigned t = 0; t < bx; ++t) ts.emplace_back([=] { blockIdx = {b, 1, 1}; threadIdx = {t, 1, 1}; k->fn(params); });
                    for (auto& th : ts) th.join();
                } else {
                    for (unsigned t = 0; t < bx; ++t) { blockIdx = {b, 1, 1}; threadIdx = {t, 1, 1}; k->fn(params); }
                }
            }
            return 0;
        }
        CUresult cuGetErrorName(CUresult r, const char** s) {
            *s = r == 0 ? "CUDA_SUCCESS" : r == 209 ? "CUDA_ERROR_NO_BINARY_FOR_GPU" : r == 222 ? "CUDA_ERROR_UNSUPPORTED_PTX_VERSION" : "CUDA_ERROR_FAKE";
            return 0;
        }
        CUresult cuGetErrorString(CUresult r, const char** s) { *s = r == 0 ? "no error" : "fake error"; return 0; }

        // ---------------------------------------------------------------- NVRTC
        struct Program { std::string source, name, image, log; bool cubin = false; };
        int nvrtcVersion(int* major, int* minor) { *major = 13; *minor = 0; return 0; }
        const char* nvrtcGetErrorString(int r) { return r == 0 ? "NVRTC_SUCCESS" : "NVRTC_ERROR_FAKE"; }
        int nvrtcCreateProgram(void** p, const char* src, const char* name, int nh, const char* const*, const char* const*) {
            if (nh != 0 || !src) return 3; *p = new Program{src, name ? name : "", "", ""}; return 0;
        }
        int nvrtcDestroyProgram(void** p) { delete (Program*)*p; *p = nullptr; return 0; }
        // --gpu-architecture=sm_XY (CUBIN) or compute_XY (PTX), XY one of the supported architectures below.
        int nvrtcCompileProgram(void* p, int n, const char* const* options) {
            Program* prog = (Program*)p;
            int arch = 0, archs = 0;
            bool cubin = false;
            for (int i = 0; i < n; ++i) {
                if (sscanf(options[i], "--gpu-architecture=sm_%d", &arch) == 1) { cubin = true; archs++; }
                else if (sscanf(options[i], "--gpu-architecture=compute_%d", &arch) == 1) archs++;
            }
            if (archs != 1 || (arch != 75 && arch != 80 && arch != 86 && arch != 89 && arch != 90)) {
                prog->log = "fake nvrtc: expected one --gpu-architecture of 75, 80, 86, 89, 90"; return 6;
            }
            if (cubin) { if (int s = injected("nvrtcCompileProgram:cubin")) { prog->log = "fake nvrtc: injected CUBIN failure"; return s; } }
            prog->cubin = cubin;
            prog->image = std::string("// fake ") + (cubin ? "CUBIN sm_" : "PTX compute_") + std::to_string(arch) + " for " + prog->name + "\n" + prog->source;
            return 0;
        }
        // PTX only from a virtual architecture, CUBIN only from a real one.
        int nvrtcGetPTXSize(void* p, size_t* n) { Program* g = (Program*)p; if (g->cubin) return 3; *n = g->image.size() + 1; return 0; }
        int nvrtcGetPTX(void* p, char* out) { Program* g = (Program*)p; if (g->cubin) return 3; memcpy(out, g->image.c_str(), g->image.size() + 1); return 0; }
        #ifndef FAKE_LEGACY
        int nvrtcGetCUBINSize(void* p, size_t* n) { Program* g = (Program*)p; if (!g->cubin) return 3; *n = g->image.size() + 1; return 0; }
        int nvrtcGetCUBIN(void* p, char* out) { Program* g = (Program*)p; if (!g->cubin) return 3; memcpy(out, g->image.c_str(), g->image.size() + 1); return 0; }
        #endif
        int nvrtcGetProgramLogSize(void* p, size_t* n) { *n = ((Program*)p)->log.size() + 1; return 0; }
        int nvrtcGetProgramLog(void* p, char* out) { memcpy(out, ((Program*)p)->log.c_str(), ((Program*)p)->log.size() + 1); return 0; }
        int nvrtcGetNumSupportedArchs(int* n) { *n = 5; return 0; }
        int nvrtcGetSupportedArchs(int* a) { int v[] = {75, 80, 86, 89, 90}; memcpy(a, v, sizeof v); return 0; }

        """#
}
