import ResNeXtCore
import ResNeXtIO
import ResNeXtNN

#if canImport(Glibc)
    @preconcurrency import Glibc
#endif

/// Loss and error rates of one pass, weighted by batch size as the original.
public struct EpochMetrics: Sendable, Equatable {
    public var loss: Double = 0
    /// Top-1 and top-k error in percent (the original reports errors, 100 − accuracy).
    public var top1Error: Double = 100
    public var topKError: Double = 100
    /// k of the top-k error: 5, or the number of classes when fewer.
    public var k: Int
    public var images: Int = 0
    public var skipped: Int = 0
    public var seconds: Double = 0
    /// The backend's allocation high-water mark during the pass and the process's peak resident set so far,
    /// in MiB (0 where not measured).
    public var peakAllocatedMiB: Double = 0
    public var peakResidentMiB: Double = 0

    public init(k: Int) { self.k = k }

    public var top1Accuracy: Double { 100 - top1Error }
}

/// Accumulates per-batch results into ``EpochMetrics``.
struct MetricsAccumulator {
    /// The counts so far (what a mid-epoch checkpoint stores).
    private(set) var progress: EpochProgress
    let k: Int

    init(k: Int, continuing progress: EpochProgress = EpochProgress()) {
        self.k = k
        self.progress = progress
    }

    var images: Int { progress.images }

    mutating func add(loss: Double, correct1: Int, correctK: Int, images: Int) {
        progress.lossSum += loss * Double(images)
        progress.correct1 += correct1
        progress.correctK += correctK
        progress.images += images
    }

    /// A step's result whose counts are for k = 1 and k.
    mutating func add(_ step: StepResult) {
        add(loss: Double(step.loss), correct1: step.correct[0], correctK: step.correct[1], images: step.samples)
    }

    /// Counts summed over the ranks of a step.
    mutating func add(_ step: EpochProgress) {
        progress.lossSum += step.lossSum
        progress.correct1 += step.correct1
        progress.correctK += step.correctK
        progress.images += step.images
        progress.skipped += step.skipped
    }

    mutating func skip(_ n: Int) { progress.skipped += n }

    func metrics(seconds: Double) -> EpochMetrics {
        var m = EpochMetrics(k: k)
        m.images = progress.images
        m.skipped = progress.skipped
        m.seconds = seconds
        guard progress.images > 0 else { return m }
        m.loss = progress.lossSum / Double(progress.images)
        m.top1Error = 100 * (1 - Double(progress.correct1) / Double(progress.images))
        m.topKError = 100 * (1 - Double(progress.correctK) / Double(progress.images))
        return m
    }
}

/// Where training reports go: the console (a live progress line on a terminal, plain lines otherwise)
/// and a JSON-lines metrics log in the checkpoint directory.
public final class TrainingLog: @unchecked Sendable {
    let write: (String) -> Void
    let isTerminal: Bool
    let metricsPath: String?

    /// `write` receives complete lines (and, on a terminal, carriage-return progress updates).
    public init(
        metricsPath: String?,
        write: @escaping (String) -> Void = {
            print($0); fflush(stdout)
        }, isTerminal: Bool = isatty(1) != 0
    ) {
        self.write = write
        self.isTerminal = isTerminal
        self.metricsPath = metricsPath
    }

    public func line(_ text: String) { write(text) }

    /// A progress update for iteration `i` of `n`; on a terminal it overwrites the previous one.
    func progress(_ text: String, final: Bool) {
        if isTerminal {
            print("\r" + text + "\u{1B}[K", terminator: final ? "\n" : "")
            fflush(stdout)
        } else {
            write(text)
        }
    }

    /// Appends one JSON object to the metrics log.
    func record(_ fields: [(String, JSONValue)]) throws {
        guard let metricsPath else { return }
        try FileIO.appendLine(JSONValue.object(fields.map { (key: $0.0, value: $0.1) }).serialized(), to: metricsPath)
    }
}

/// Seconds since an arbitrary start (monotonic).
func now() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}
