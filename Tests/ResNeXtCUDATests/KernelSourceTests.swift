import Foundation
import ResNeXtCUDA
import ResNeXtCore
import XCTest

final class KernelSourceTests: XCTestCase {
    /// Every kernel is an `extern "C" __global__` function of its set, with the signature its definition declares.
    func testEveryKernelIsInItsSet() {
        for kernel in Kernel.allCases {
            let definition = kernel.definition
            let source = Kernels.source(for: definition.set)
            let head = "extern \"C\" __global__ void \(kernel.name)("
            XCTAssertEqual(source.components(separatedBy: head).count, 2, "\(kernel.name) appears once in set \(definition.set)")
            XCTAssertEqual(Kernels.fullSource.components(separatedBy: head).count, 2, "\(kernel.name) in the full source")
            for other in KernelSet.allCases where other != definition.set {
                XCTAssertFalse(Kernels.source(for: other).contains(head), "\(kernel.name) leaked into \(other)")
            }
            let signature = definition.parameters.map { "\($0.cType) \($0.name)" }.joined(separator: ",\n    ")
            XCTAssertTrue(source.contains(head + "\n    " + signature + ")"), "\(kernel.name) signature")
            XCTAssertEqual(
                Set(definition.parameters.map(\.name)).count, definition.parameters.count, "\(kernel.name): unique parameter names")
            for p in definition.parameters {
                switch p.kind {
                case .pointer: XCTAssertTrue(p.cType.hasSuffix("* __restrict__"), "\(kernel.name).\(p.name)")
                case .int64: XCTAssertEqual(p.cType, "long long")
                case .int32: XCTAssertEqual(p.cType, "int")
                case .float32: XCTAssertEqual(p.cType, "float")
                case .float64: XCTAssertEqual(p.cType, "double")
                }
            }
        }
        XCTAssertEqual(Set(Kernel.allCases.map(\.name)).count, Kernel.allCases.count)
        XCTAssertEqual(Set(Kernel.allCases.map(\.definition.set)), Set(KernelSet.allCases), "no empty set")
    }

    func testSourcesAreBalancedAndSelfContained() {
        for set in KernelSet.allCases {
            let source = Kernels.source(for: set)
            for (open, close) in [("{", "}"), ("(", ")"), ("[", "]")] {
                var depth = 0
                for ch in source {
                    if String(ch) == open { depth += 1 }
                    if String(ch) == close { depth -= 1 }
                    XCTAssertGreaterThanOrEqual(depth, 0, "\(set): \(close) before \(open)")
                }
                XCTAssertEqual(depth, 0, "\(set): unbalanced \(open)\(close)")
            }
            XCTAssertFalse(source.contains("#include"), "NVRTC compiles without system headers")
            XCTAssertTrue(source.hasPrefix("// kernel set: \(set.rawValue)\n" + Kernels.prelude))
            XCTAssertFalse(source.contains("atomicAdd"), "deterministic kernels")
        }
        XCTAssertEqual(Kernels.threadsPerBlock, 256)
        XCTAssertTrue(Kernel.channelSum.definition.body.contains("RESNEXT_THREADS"), "the block reduction is sized by the launch's block")
        XCTAssertEqual(Kernel.channelSum.definition.style, .blockPerItem)
        let vectorized: [Kernel] = [.reluForward, .reluBackward, .addTensors]
        XCTAssertTrue(vectorized.allSatisfy { $0.definition.style == .gridStrideVector4 })
        XCTAssertTrue(
            Kernel.allCases.filter { $0 != .channelSum && !vectorized.contains($0) }.allSatisfy { $0.definition.style == .gridStride })
    }

    /// The kernels compiled as C++ for the CPU (a few macros stand in for CUDA's built-ins) compute the
    /// same values as straightforward reference loops: pooling windows and their gathers, channel copies,
    /// block reductions, the loss, top-k, batch-norm conversions and SGD. Skipped without a C++20 compiler.
    func testKernelsComputeTheRightValuesOnTheCPU() throws {
        let compilers = ["/usr/bin/g++", "/usr/bin/clang++", "/usr/bin/c++"].filter { FileManager.default.isExecutableFile(atPath: $0) }
        try XCTSkipIf(compilers.isEmpty, "no C++ compiler")
        let dir = NSTemporaryDirectory() + "resnext-kernel-emulation-\(getpid())/"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FakeCUDA.emulation.write(toFile: dir + "emu.h", atomically: true, encoding: .utf8)
        try Kernels.fullSource.write(toFile: dir + "kernels.cu", atomically: true, encoding: .utf8)
        try Self.harness.write(toFile: dir + "harness.cpp", atomically: true, encoding: .utf8)
        try "#include <barrier>\nint main() { std::barrier<> b(1); b.arrive_and_wait(); }\n".write(
            toFile: dir + "probe.cpp", atomically: true, encoding: .utf8)
        guard
            let compiler = compilers.first(where: {
                run($0, ["-std=c++20", "-pthread", dir + "probe.cpp", "-o", dir + "probe"]).status == 0
            })
        else {
            throw XCTSkip("no C++20 compiler with <barrier>")
        }
        let build = run(compiler, ["-std=c++20", "-O1", "-pthread", "-I", dir, dir + "harness.cpp", "-o", dir + "harness"])
        XCTAssertEqual(build.status, 0, "the kernel sources do not compile as C++:\n\(build.output)")
        guard build.status == 0 else { return }
        let result = run(dir + "harness", [])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertTrue(result.output.contains("\n0 failures"), result.output)
        for name in ["maxpool bwd 9x9 k3 s2 p1", "relu (misaligned)", "add (misaligned)", "sgd all parameters velocity"] {
            XCTAssertTrue(result.output.contains(name), result.output)
        }
    }

    private func run(_ executable: String, _ arguments: [String]) -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        do { try process.run() } catch { return (-1, "\(error)") }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    static let harness = #"""
        #include "emu.h"
        #include "kernels.cu"
        #include <functional>
        static int failures = 0;
        // Launch emulation: grid-stride kernels run each thread in turn; block kernels with real threads.
        template <class F> void launchSeq(unsigned grid, unsigned block, F f) {
          gridDim = {grid,1,1}; blockDim = {block,1,1};
          for (unsigned b = 0; b < grid; ++b) for (unsigned t = 0; t < block; ++t) { blockIdx = {b,1,1}; threadIdx = {t,1,1}; f(); }
        }
        template <class F> void launchThreads(unsigned grid, unsigned block, F f) {
          gridDim = {grid,1,1}; blockDim = {block,1,1};
          for (unsigned b = 0; b < grid; ++b) {
            std::barrier<> bar(block); g_barrier = &bar;
            std::vector<std::thread> ts;
            for (unsigned t = 0; t < block; ++t) ts.emplace_back([=]{ blockIdx = {b,1,1}; threadIdx = {t,1,1}; f(); });
            for (auto& th : ts) th.join();
          }
        }
        unsigned gridFor(long long n, unsigned cap = 7) { long long b = (n + 255) / 256; return (unsigned)std::min<long long>(b, cap); } // small cap to exercise grid-stride
        std::mt19937 rng(42);
        std::vector<float> rnd(size_t n) { std::uniform_real_distribution<float> d(-1, 1); std::vector<float> v(n); for (auto& x : v) x = d(rng); return v; }
        void check(const char* what, const std::vector<float>& a, const std::vector<double>& b, double tol = 1e-5) {
          double m = 1e-12, e = 0; for (size_t i = 0; i < a.size(); ++i) { m = std::max(m, std::fabs(b[i])); e = std::max(e, std::fabs(a[i] - b[i])); }
          bool ok = e / m <= tol; if (!ok) failures++;
          printf("%-40s rel err %.3g %s\n", what, e / m, ok ? "ok" : "FAIL");
        }
        struct Pool { int N, C, H, W, kh, kw, sh, sw, ph, pw; bool inc; int OH() const { return (H + 2*ph - kh)/sh + 1; } int OW() const { return (W + 2*pw - kw)/sw + 1; } };
        void testPool(Pool p) {
          int OH = p.OH(), OW = p.OW(); long long planes = (long long)p.N * p.C;
          auto x = rnd(planes * p.H * p.W); auto dy = rnd(planes * OH * OW);
          std::vector<float> y(planes*OH*OW), dx(planes*p.H*p.W); std::vector<int> idx(planes*OH*OW);
          launchSeq(gridFor(y.size()), 256, [&]{ max_pool_forward(x.data(), y.data(), idx.data(), planes, p.H, p.W, OH, OW, p.kh, p.kw, p.sh, p.sw, p.ph, p.pw); });
          launchSeq(gridFor(dx.size()), 256, [&]{ max_pool_backward(dy.data(), idx.data(), dx.data(), planes, p.H, p.W, OH, OW, p.kh, p.kw, p.sh, p.sw, p.ph, p.pw); });
          // reference: scatter
          std::vector<double> ry(y.size()), rdx(dx.size(), 0.0), ray(y.size()), radx(dx.size(), 0.0);
          for (long long pl = 0; pl < planes; ++pl) for (int oh = 0; oh < OH; ++oh) for (int ow = 0; ow < OW; ++ow) {
            double best = -1e300; int bi = -1; double sum = 0; int cnt = 0;
            for (int i = 0; i < p.kh; ++i) for (int j = 0; j < p.kw; ++j) { int h = oh*p.sh - p.ph + i, w = ow*p.sw - p.pw + j; if (h < 0 || w < 0 || h >= p.H || w >= p.W) continue; double v = x[(pl*p.H + h)*p.W + w]; if (v > best) { best = v; bi = h*p.W + w; } sum += v; cnt++; }
            long long o = (pl*OH + oh)*OW + ow; ry[o] = best; rdx[pl*p.H*p.W + bi] += dy[o];
            int div = p.inc ? p.kh*p.kw : cnt; ray[o] = sum / div;
            for (int i = 0; i < p.kh; ++i) for (int j = 0; j < p.kw; ++j) { int h = oh*p.sh - p.ph + i, w = ow*p.sw - p.pw + j; if (h < 0 || w < 0 || h >= p.H || w >= p.W) continue; radx[(pl*p.H + h)*p.W + w] += dy[o] / div; }
          }
          char name[128];
          snprintf(name, sizeof name, "maxpool fwd %dx%d k%d s%d p%d", p.H, p.W, p.kh, p.sh, p.ph); check(name, y, ry);
          snprintf(name, sizeof name, "maxpool bwd %dx%d k%d s%d p%d", p.H, p.W, p.kh, p.sh, p.ph); check(name, dx, rdx);
          std::vector<float> ay(y.size()), adx(dx.size());
          launchSeq(gridFor(ay.size()), 256, [&]{ avg_pool_forward(x.data(), ay.data(), planes, p.H, p.W, OH, OW, p.kh, p.kw, p.sh, p.sw, p.ph, p.pw, p.inc); });
          launchSeq(gridFor(adx.size()), 256, [&]{ avg_pool_backward(dy.data(), adx.data(), planes, p.H, p.W, OH, OW, p.kh, p.kw, p.sh, p.sw, p.ph, p.pw, p.inc); });
          snprintf(name, sizeof name, "avgpool fwd %dx%d k%d s%d p%d inc%d", p.H, p.W, p.kh, p.sh, p.ph, p.inc); check(name, ay, ray);
          snprintf(name, sizeof name, "avgpool bwd %dx%d k%d s%d p%d inc%d", p.H, p.W, p.kh, p.sh, p.ph, p.inc); check(name, adx, radx);
        }
        int main() {
          // elementwise (float4 groups and a tail; misaligned pointers one by one), on a quarter of the threads
          for (int offset = 0; offset <= 1; ++offset) {
            long long n = 1003 - offset; auto x = rnd(1003), dy = rnd(1003), b = rnd(1003); std::vector<float> y(1003), dx(1003), s(1003);
            float *X = x.data() + offset, *DY = dy.data() + offset, *B = b.data() + offset, *Y = y.data() + offset, *DX = dx.data() + offset, *S = s.data() + offset;
            unsigned grid = gridFor((n + 3) / 4);
            launchSeq(grid, 256, [&]{ relu_forward(X, Y, n); });
            launchSeq(grid, 256, [&]{ relu_backward(DY, Y, DX, n); });
            launchSeq(grid, 256, [&]{ add_tensors(X, B, S, n); });
            std::vector<float> oy(Y, Y + n), odx(DX, DX + n), os(S, S + n);
            std::vector<double> ry(n), rdx(n), rs(n); for (int i = 0; i < n; ++i) { ry[i] = X[i] > 0 ? X[i] : 0; rdx[i] = X[i] > 0 ? DY[i] : 0; rs[i] = (double)X[i] + B[i]; }
            check(offset ? "relu (misaligned)" : "relu", oy, ry); check(offset ? "relu backward (misaligned)" : "relu backward", odx, rdx);
            check(offset ? "add (misaligned)" : "add", os, rs);
          }
          { int N = 3, C = 5, P = 7; long long n = N*C*P; auto y = rnd(n), bias = rnd(C); auto y0 = y;
            launchSeq(gridFor(n), 256, [&]{ add_channel_bias(y.data(), bias.data(), n, C, P); });
            std::vector<double> r(n); for (int i = 0; i < n; ++i) r[i] = (double)y0[i] + bias[(i / P) % C]; check("bias", y, r);
            std::vector<float> s(C); launchThreads(std::min(C, 2), 256, [&]{ channel_sum(y0.data(), s.data(), N, C, P); });
            std::vector<double> rsum(C, 0); for (int b = 0; b < N; ++b) for (int c = 0; c < C; ++c) for (int p = 0; p < P; ++p) rsum[c] += y0[(b*C + c)*P + p];
            check("channel sum", s, rsum);
            // linear bias grad: plane 1
            int R = 300, O = 4; auto g = rnd(R*O); std::vector<float> gs(O); launchThreads(O, 256, [&]{ channel_sum(g.data(), gs.data(), R, O, 1); });
            std::vector<double> rg(O, 0); for (int r = 0; r < R; ++r) for (int o = 0; o < O; ++o) rg[o] += g[r*O + o]; check("column sum", gs, rg);
          }
          { // concat and split of channels
            int N = 2, C1 = 3, C2 = 5, P = 6, C = C1 + C2; auto a = rnd(N*C1*P), b = rnd(N*C2*P); std::vector<float> out(N*C*P);
            launchSeq(gridFor(N*C1*P), 256, [&]{ copy_channels(a.data(), out.data(), N, C1, 0, C, 0, C1, P); });
            launchSeq(gridFor(N*C2*P), 256, [&]{ copy_channels(b.data(), out.data(), N, C2, 0, C, C1, C2, P); });
            std::vector<double> r(out.size()); for (int n = 0; n < N; ++n) for (int c = 0; c < C; ++c) for (int p = 0; p < P; ++p) r[(n*C + c)*P + p] = c < C1 ? a[(n*C1 + c)*P + p] : b[(n*C2 + c - C1)*P + p];
            check("concat", out, r);
            std::vector<float> piece(N*C2*P); launchSeq(gridFor(piece.size()), 256, [&]{ copy_channels(out.data(), piece.data(), N, C, C1, C2, 0, C2, P); });
            std::vector<double> rb(b.begin(), b.end()); check("split", piece, rb);
          }
          testPool({2, 3, 9, 9, 3, 3, 2, 2, 1, 1, true});
          testPool({2, 3, 9, 9, 3, 3, 2, 2, 1, 1, false});
          testPool({1, 2, 8, 8, 2, 2, 2, 2, 0, 0, true});
          testPool({1, 2, 7, 5, 3, 2, 1, 2, 1, 0, false});
          testPool({3, 4, 8, 8, 8, 8, 1, 1, 0, 0, true});
          testPool({1, 1, 13, 11, 3, 3, 2, 2, 1, 1, true});
          { // softmax CE and top-k
            int R = 7, K = 10; auto x = rnd(R*K); std::vector<int> lab(R); for (int r = 0; r < R; ++r) lab[r] = (r * 3) % K;
            std::vector<float> g(R*K); std::vector<double> loss(R);
            launchSeq(gridFor(R), 256, [&]{ softmax_cross_entropy(x.data(), lab.data(), g.data(), loss.data(), R, K); });
            std::vector<double> rg(R*K); double rl = 0, l = 0;
            for (int r = 0; r < R; ++r) { double m = -1e300; for (int c = 0; c < K; ++c) m = std::max(m, (double)x[r*K+c]); double s = 0; for (int c = 0; c < K; ++c) s += std::exp(x[r*K+c] - m); double ls = std::log(s) + m; rl += ls - x[r*K + lab[r]]; for (int c = 0; c < K; ++c) rg[r*K+c] = (std::exp(x[r*K+c] - ls) - (c == lab[r])) / R; l += loss[r]; }
            check("softmax CE gradient", g, rg); check("softmax CE loss", {(float)(l / R)}, {rl / R});
            x[0] = x[1] = x[2]; lab[0] = 1; std::vector<int> larger(R);
            launchSeq(gridFor(R), 256, [&]{ top_k_larger(x.data(), lab.data(), larger.data(), R, K); });
            std::vector<float> lf(R); std::vector<double> rlf(R); for (int r = 0; r < R; ++r) { lf[r] = larger[r]; int c2 = 0; for (int c = 0; c < K; ++c) c2 += x[r*K+c] > x[r*K+lab[r]]; rlf[r] = c2; }
            check("top-k larger counts", lf, rlf, 0);
          }
          { // BN conversions
            int C = 6; std::vector<float> var = {1e-6f, 0.5f, 1.0f, 3.0f, 100.f, 0.f}; std::vector<float> inv(C), back(C); float eps = 1e-5f;
            launchSeq(1, 256, [&]{ bn_variance_to_invstd(var.data(), inv.data(), eps, C); });
            launchSeq(1, 256, [&]{ bn_invstd_to_variance(inv.data(), back.data(), eps, C); });
            std::vector<double> rinv(C), rv(C); for (int c = 0; c < C; ++c) { rinv[c] = 1 / std::sqrt((double)var[c] + eps); rv[c] = var[c]; }
            check("bn variance->invstd", inv, rinv, 1e-6); check("bn invstd->variance roundtrip", back, rv, 1e-5);
          }
          { // SGD
            long long n = 777; auto p = rnd(n), g = rnd(n), v = rnd(n); auto p0 = p, v0 = v; float lr = 0.1f, mu = 0.9f, keep = 1.0f, wd = 1e-4f;
            for (int first = 1; first >= 0; --first) for (int nest = 0; nest <= 1; ++nest) {
              p = p0; v = v0; launchSeq(gridFor(n), 256, [&]{ sgd_step(p.data(), g.data(), v.data(), lr, mu, keep, wd, nest, first, n); });
              std::vector<double> rp(n), rv(n); for (int i = 0; i < n; ++i) { float gg = g[i] + wd * p0[i]; float vv = first ? gg : mu * v0[i] + keep * gg; rv[i] = vv; rp[i] = p0[i] - lr * (nest ? gg + mu * vv : vv); }
              char name[64]; snprintf(name, sizeof name, "sgd first=%d nesterov=%d", first, nest); check(name, p, rp, 1e-6); check("sgd velocity", v, rv, 1e-6);
            }
            // Every parameter in one launch (tensors of 300, 0, 1 and 476 elements) equals the per-tensor kernel exactly.
            int sizes[] = {300, 0, 1, 476}; long long offsets[] = {0, 300, 300, 301, 777};
            auto pa = p0, va = v0, pb = p0, vb = v0;
            float* ps[4]; const float* gs[4]; float* vs[4];
            for (int t = 0; t < 4; ++t) { ps[t] = pa.data() + offsets[t]; gs[t] = g.data() + offsets[t]; vs[t] = va.data() + offsets[t]; }
            launchSeq(gridFor(n), 256, [&]{ sgd_step_all(ps, gs, vs, offsets, 4, lr, mu, keep, wd, 1, 0, n); });
            for (int t = 0; t < 4; ++t) launchSeq(gridFor(sizes[t] ? sizes[t] : 1), 256, [&]{ sgd_step(pb.data() + offsets[t], g.data() + offsets[t], vb.data() + offsets[t], lr, mu, keep, wd, 1, 0, sizes[t]); });
            std::vector<double> rpb(pb.begin(), pb.end()), rvb(vb.begin(), vb.end());
            check("sgd all parameters", pa, rpb, 0); check("sgd all parameters velocity", va, rvb, 0);
          }
          printf("%d failures\n", failures);
          return failures != 0;
        }
        """#
}
