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
}
