import ResNeXtCore
import ResNeXtIO

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Downloads and unpacks the official CIFAR binary releases with the `curl` and `tar` programs.
///
/// The original (`datasets/cifar10-gen.lua`) piped curl into tar; this version is crash-safe instead: the
/// archive is downloaded to a hidden temporary name, its MD5 is checked against the published value, it is
/// extracted into a hidden temporary folder, and only then is the release folder renamed into place —
/// so an interrupted or corrupt download never leaves a half-filled `cifar-10-batches-bin/`.
public enum CIFARDownload {
    /// Where the official archives live; `RESNEXT_CIFAR_URL` or `baseURL` replace it (mirrors, tests).
    public static let defaultBaseURL = "https://www.cs.toronto.edu/~kriz"
    /// The environment variable that overrides `defaultBaseURL` when no `baseURL` is passed.
    public static let baseURLEnvironmentVariable = "RESNEXT_CIFAR_URL"

    /// The archive file name of a variant's binary release.
    public static func archiveName(_ variant: CIFARDataset.Variant) -> String {
        switch variant {
        case .cifar10: "cifar-10-binary.tar.gz"
        case .cifar100: "cifar-100-binary.tar.gz"
        }
    }

    /// The MD5 published on <https://www.cs.toronto.edu/~kriz/cifar.html> for the binary archive.
    public static func publishedMD5(_ variant: CIFARDataset.Variant) -> String {
        switch variant {
        case .cifar10: "c32a1d4ab5d03f1284b67883e8d87530"
        case .cifar100: "03b5dce01913d631647c71ecec9e9cb8"
        }
    }

    /// The folder the archive unpacks to (`cifar-10-batches-bin` / `cifar-100-binary`).
    public static func folderName(_ variant: CIFARDataset.Variant) -> String {
        CIFARDataset.Layout(variant).folderName
    }

    /// Makes sure `directory/<folderName>` exists, downloading and unpacking the official archive when
    /// it does not. Does nothing when that folder exists, or when `directory` itself is that folder.
    ///
    /// - Parameters:
    ///   - directory: the parent folder (created if needed).
    ///   - baseURL: replaces `https://www.cs.toronto.edu/~kriz` (default: `$RESNEXT_CIFAR_URL`, else the official site).
    ///   - expectedMD5: replaces the published checksum (tests, re-packed mirrors).
    ///   - progress: show curl's progress bar on standard error; when false curl only reports errors.
    /// - Throws: `ResNeXtError.io` when curl or tar is missing, the download fails (naming the URL and
    ///   curl's exit status), the checksum differs (naming expected and actual), or extraction fails;
    ///   `ResNeXtError.invalidArgument` for a malformed `expectedMD5`. Nothing is left behind on failure.
    public static func ensure(
        directory: String, variant: CIFARDataset.Variant, baseURL: String? = nil,
        expectedMD5: String? = nil, progress: Bool = true
    ) throws {
        guard !directory.isEmpty else { throw ResNeXtError.invalidArgument("CIFARDownload: empty directory path") }
        let folder = folderName(variant)
        let target = FileIO.join(directory, folder)
        if FileIO.isDirectory(target) { return }
        if FileIO.lastComponent(directory) == folder && FileIO.isDirectory(directory) { return }

        let md5 = (expectedMD5 ?? publishedMD5(variant)).lowercased()
        guard md5.count == 32, md5.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }) else {
            throw ResNeXtError.invalidArgument("CIFARDownload: expectedMD5 '\(expectedMD5 ?? "")' is not 32 hex digits")
        }
        var base = baseURL ?? getenv(baseURLEnvironmentVariable).map { String(cString: $0) } ?? defaultBaseURL
        if base.isEmpty { base = defaultBaseURL }
        while base.hasSuffix("/") { base.removeLast() }
        let url = base + "/" + archiveName(variant)

        guard let curl = ExternalProgram.findExecutable("curl") else {
            throw ResNeXtError.io(
                "\(url): cannot download: the curl program was not found on PATH "
                    + "(install curl, or download the archive and unpack it into \(directory))")
        }
        guard let tar = ExternalProgram.findExecutable("tar") else {
            throw ResNeXtError.io("\(url): cannot unpack: the tar program was not found on PATH")
        }

        try FileIO.makeDirectories(directory)
        let pid = getpid()
        let archive = FileIO.join(directory, ".\(archiveName(variant)).part-\(pid)")
        let staging = FileIO.join(directory, ".\(folder).extract-\(pid)")
        removeStaleTemporaries(in: directory, prefixes: [".\(archiveName(variant)).part-", ".\(folder).extract-"])
        FileIO.removeTree(archive)
        FileIO.removeTree(staging)
        defer {
            FileIO.removeTree(archive)
            FileIO.removeTree(staging)
        }

        // 1. Download.
        if progress { FileIO.writeToStandardError("Downloading \(url) into \(directory)") }
        let curlArguments = ["-fL"] + (progress ? ["--progress-bar"] : ["--silent", "--show-error"]) + ["-o", archive, url]
        let curlResult = try ExternalProgram.run(curl, curlArguments)
        guard curlResult.succeeded else {
            throw ResNeXtError.io("\(url): download failed: curl ended with \(curlResult.description)\(curlHint(curlResult))")
        }
        guard FileIO.isRegularFile(archive) else {
            throw ResNeXtError.io("\(url): download failed: curl reported success but wrote no file")
        }

        // 2. Verify.
        let actual = try MD5.hexDigest(ofFile: archive)
        guard actual == md5 else {
            throw ResNeXtError.io(
                "\(url): checksum mismatch: expected MD5 \(md5), got \(actual) "
                    + "(the download was deleted; retry, or check the mirror)")
        }

        // 3. Extract into a hidden folder, then rename the release folder into place.
        if progress { FileIO.writeToStandardError("Extracting \(archiveName(variant)) (MD5 \(actual) verified)") }
        try FileIO.makeDirectories(staging)
        let tarResult = try ExternalProgram.run(tar, ["-xzf", archive, "-C", staging])
        guard tarResult.succeeded else {
            throw ResNeXtError.io("\(url): extracting the archive failed: tar ended with \(tarResult.description)")
        }
        let extracted = FileIO.join(staging, folder)
        guard FileIO.isDirectory(extracted) else {
            throw ResNeXtError.io("\(url): the archive does not contain a \(folder)/ folder")
        }
        do {
            try FileIO.rename(extracted, over: target)
        } catch {
            // Another process may have finished the same download first: its folder is as good as ours.
            if !FileIO.isDirectory(target) { throw error }
        }
        if progress { FileIO.writeToStandardError("CIFAR data ready in \(target)") }
    }

    /// Removes `<prefix><pid>` entries left by interrupted runs whose process no longer exists.
    private static func removeStaleTemporaries(in directory: String, prefixes: [String]) {
        for name in ((try? FileIO.listDirectory(directory)) ?? []).map(\.name) {
            for prefix in prefixes where name.hasPrefix(prefix) {
                guard let pid = pid_t(name.dropFirst(prefix.count)) else { continue }
                if kill(pid, 0) != 0 && errno == ESRCH { FileIO.removeTree(FileIO.join(directory, name)) }
            }
        }
    }

    /// A short explanation of common curl exit statuses.
    private static func curlHint(_ result: ExternalProgram.Termination) -> String {
        guard case .exited(let code) = result else { return "" }
        switch code {
        case 6: return " (could not resolve the host)"
        case 7: return " (could not connect to the server)"
        case 22: return " (HTTP error, e.g. 404 not found)"
        case 23: return " (could not write the downloaded file)"
        case 28: return " (timed out)"
        case 35, 60: return " (TLS/certificate problem)"
        default: return ""
        }
    }
}
