import ResNeXtCore
import ResNeXtDistributed
import ResNeXtModels

#if canImport(Glibc)
    @preconcurrency import Glibc
#endif

/// Hooks that the end-to-end crash tests switch on through the environment; the libraries know nothing
/// of them (the trainer only offers a callback between a checkpoint's weights and the rest).
enum CrashTestHooks {
    /// `RESNEXT_TEST_PAUSE_IN_CHECKPOINT=<epoch>`: sleep a minute after writing that epoch's weights, so a
    /// test can kill the process in the middle of a checkpoint.
    static func checkpointPause() -> ((Int) -> Void)? {
        guard let text = getenv("RESNEXT_TEST_PAUSE_IN_CHECKPOINT"), let target = Int(String(cString: text)) else { return nil }
        return { epoch in
            guard epoch == target else { return }
            print("checkpoint: pausing in epoch \(epoch) (RESNEXT_TEST_PAUSE_IN_CHECKPOINT)")
            fflush(stdout)
            sleep(60)
        }
    }

    /// `RESNEXT_TEST_KILL_RANK=<rank>:<epoch>:<iteration>` in a data-parallel job: that rank kills itself
    /// with SIGKILL after that step, as a crashed machine would.
    static func killRank(_ collectives: MPI?) -> ((Int, Int) -> Void)? {
        guard let collectives, let text = getenv("RESNEXT_TEST_KILL_RANK") else { return nil }
        let fields = String(cString: text).split(separator: ":").compactMap { Int($0) }
        guard fields.count == 3, fields[0] == collectives.rank else { return nil }
        return { epoch, iteration in
            if epoch == fields[1] && iteration == fields[2] { kill(getpid(), SIGKILL) }
        }
    }

    /// `RESNEXT_TEST_CHECK_REPLICAS=1` in a data-parallel job: after every step, checks that every rank
    /// holds bit-identical weights (an FNV-1a hash of every parameter, rank 0's broadcast to the others).
    static func replicaCheck(_ collectives: MPI?) -> ReplicaCheck? {
        guard let collectives, getenv("RESNEXT_TEST_CHECK_REPLICAS").map({ String(cString: $0) }) == "1" else { return nil }
        return ReplicaCheck(collectives: collectives)
    }
}

/// Compares the ranks' weights after each step (see ``CrashTestHooks/replicaCheck(_:)``).
final class ReplicaCheck {
    let collectives: MPI
    private(set) var steps = 0

    init(collectives: MPI) { self.collectives = collectives }

    func callAsFunction(_ model: ResNeXtModel, _ iteration: Int) throws {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for (_, p) in model.namedParameters() {
            for value in try model.backend.download(p.value) {
                hash = (hash ^ UInt64(value.bitPattern)) &* 0x100_0000_01b3
            }
        }
        var bytes = withUnsafeBytes(of: hash) { Array($0) }
        try collectives.broadcast(&bytes, root: 0)
        let primary = bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        guard primary == hash else {
            throw ResNeXtError.invalidArgument(
                "replica check: rank \(collectives.rank)'s weights differ from rank 0's after iteration \(iteration)")
        }
        steps += 1
    }
}
