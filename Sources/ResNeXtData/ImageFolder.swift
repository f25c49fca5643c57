import ResNeXtCore
import ResNeXtIO
import ResNeXtTransforms

/// Images in class folders, ImageNet style: `<root>/<split>/<class>/<image>` with split `train` or `val`
/// (the original's ImageNet layout, `datasets/imagenet-gen.lua`; docs/TRAINING.md, "Data"; also any custom
/// folder data set).
///
/// Classes: the names of the folders directly under `<root>/<split>` (names starting with "." are
/// skipped, as are plain files there), sorted byte-wise on their UTF-8 bytes (not by locale, and not
/// by Swift's Unicode-aware `String <`); label k (0-based) = the k-th name. For ILSVRC-2012 this is
/// WordNet-ID order. Passing `classNames` (normally the train split's) uses that list instead; then every
/// folder of the split must be one of them (an unknown folder is an error naming it), which is how
/// `val` gets train's labels even when it lacks some classes.
///
/// Images: each class folder is walked recursively following symbolic links, like the original's
/// `find -L`, keeping regular files whose extension is, case-insensitively, jpg, jpeg, png, ppm or bmp
/// (only JPEG and PPM/PGM actually decode; the others fail in `sample(at:)`, where loaders count and
/// skip them). Symbolic-link loops are detected through the chain of directories being walked (device
/// and inode, as `find -L` does) and not entered again; broken links are ignored; entries whose names
/// start with "." (e.g. macOS `._*` files, `.ipynb_checkpoints`) are skipped at every level.
///
/// Labels of nested images: an image in a sub-folder `<class>/<sub>/<image>` belongs to the top-level
/// class folder `<class>`. The original (`datasets/imagenet-gen.lua`) labels a file by its **immediate**
/// parent folder, which for nested files gives a folder name that is not a class at all (an assertion
/// failure there); using the top-level folder, as torchvision's `ImageFolder` also does, makes nested
/// layouts usable and is identical for the standard flat layout.
///
/// Order: classes in label order, and within a class the images sorted byte-wise by relative path, so
/// the index is the same on every machine (the original kept `find`'s directory order, which is not).
public struct ImageFolderDataset: Dataset {
    /// File extensions (lower case) that count as images, as in the original.
    public static let imageExtensions: Set<String> = ["jpg", "jpeg", "png", "ppm", "bmp"]
    /// Deepest folder nesting walked below a class folder; deeper trees are an error.
    public static let maxDepth = 64

    /// The data set root given to `init`.
    public let root: String
    /// The split name (`train`, `val`, ...).
    public let split: String
    /// `<root>/<split>`.
    public let directory: String
    public let classNames: [String]
    /// Full path of every image (`<root>/<split>/<class>/<file>`), in sample order.
    public let imagePaths: [String]
    /// The 0-based class index of every image.
    public let labels: [Int]
    /// When above 0, JPEGs are decoded at a reduced DCT scale whose shorter side is still at least this
    /// (see `ImageDecoder.decode(_:source:minShorterSide:)`); e.g. 256 before a `Scale(256)` evaluation
    /// transform. 0 (the default) decodes at full size, as the original.
    public var minShorterSide: Int = 0

    /// Indexes `<root>/<split>`.
    /// - Parameter classNames: the class list to label with (e.g. the train split's `classNames` when
    ///   indexing `val`); `nil` derives it from the split's folders.
    /// - Throws: `ResNeXtError.io` naming the path when the root or split folder is missing or not a
    ///   folder, the split has no class folders, a folder is not among the given `classNames`, a class
    ///   folder has no images, or a folder cannot be read; `ResNeXtError.invalidArgument` for an empty
    ///   split or a bad `classNames` list.
    public init(root: String, split: String, classNames: [String]? = nil) throws {
        guard !root.isEmpty else { throw ResNeXtError.invalidArgument("ImageFolderDataset: empty root path") }
        guard !split.isEmpty else { throw ResNeXtError.invalidArgument("ImageFolderDataset: empty split name") }
        self.root = root
        self.split = split
        let directory = FileIO.join(root, split)
        self.directory = directory

        try FileIO.requireDirectory(root, what: "image folder root")
        try FileIO.requireDirectory(directory, what: "'\(split)' split folder")

        // Class folders.
        var folders: [String] = []
        for entry in try FileIO.listDirectory(directory) where !entry.name.hasPrefix(".") {
            if FileIO.isDirectory(FileIO.join(directory, entry.name)) {
                folders.append(entry.name)
            }
        }
        folders.sort(by: FolderWalk.byteOrder)
        guard !folders.isEmpty else {
            throw ResNeXtError.io("\(directory): no class folders (expected \(directory)/<class>/<image>)")
        }

        let names: [String]
        var labelOf: [String: Int] = [:]
        if let given = classNames {
            guard !given.isEmpty else { throw ResNeXtError.invalidArgument("ImageFolderDataset: empty classNames") }
            for (index, name) in given.enumerated() {
                guard labelOf.updateValue(index, forKey: name) == nil else {
                    throw ResNeXtError.invalidArgument("ImageFolderDataset: class name '\(name)' appears twice in classNames")
                }
            }
            for folder in folders where labelOf[folder] == nil {
                throw ResNeXtError.io(
                    "\(FileIO.join(directory, folder)): class folder '\(folder)' is not among "
                        + "the \(given.count) given class names")
            }
            names = given
            folders.sort { labelOf[$0]! < labelOf[$1]! }
        } else {
            names = folders
            for (index, name) in folders.enumerated() { labelOf[name] = index }
        }

        // Images, class by class in label order, each class sorted by path.
        var paths: [String] = []
        var labels: [Int] = []
        for folder in folders {
            let classDirectory = FileIO.join(directory, folder)
            var relative: [String] = []
            var ancestors: [FileIO.FileIdentity] = []
            if let identity = FileIO.status(directory)?.identity { ancestors.append(identity) }
            try FolderWalk.collectImages(
                in: classDirectory, relativePath: folder, ancestors: &ancestors,
                depth: 0, into: &relative)
            guard !relative.isEmpty else {
                throw ResNeXtError.io(
                    "\(classDirectory): class folder '\(folder)' has no images "
                        + "(extensions jpg, jpeg, png, ppm, bmp)")
            }
            relative.sort(by: FolderWalk.byteOrder)
            let label = labelOf[folder]!
            for path in relative {
                paths.append(FileIO.join(directory, path))
                labels.append(label)
            }
        }
        guard !paths.isEmpty else { throw ResNeXtError.io("\(directory): no images") }

        self.classNames = names
        self.imagePaths = paths
        self.labels = labels
    }

    public var count: Int { imagePaths.count }

    /// The path of image `index` relative to `directory`, e.g. "n01440764/n01440764_10026.JPEG"
    /// (the form the original stored in its index).
    public func relativePath(at index: Int) -> String {
        let prefix = directory.hasSuffix("/") ? directory.utf8.count : directory.utf8.count + 1
        return String(imagePaths[index].utf8.dropFirst(prefix))!
    }

    /// Decodes image `index` (3 channels, values in [0, 1]) with its label.
    /// - Throws: `ResNeXtError.invalidArgument` for an index out of range; `ResNeXtError.io` naming the
    ///   file when it cannot be read or decoded.
    public func sample(at index: Int) throws -> (image: Image, label: Int) {
        guard imagePaths.indices.contains(index) else {
            throw ResNeXtError.invalidArgument("ImageFolderDataset(\(directory)): index \(index) out of range 0..<\(count)")
        }
        let image = try ImageDecoder.decodeFile(imagePaths[index], minShorterSide: minShorterSide)
        return (image, labels[index])
    }

    /// JPEG image `index` as decoded bytes (nil for other formats: use `sample(at:)`), with its label.
    public func packedSample(at index: Int) throws -> (image: PackedImage, label: Int)? {
        guard imagePaths.indices.contains(index) else {
            throw ResNeXtError.invalidArgument("ImageFolderDataset(\(directory)): index \(index) out of range 0..<\(count)")
        }
        let bytes = try FileIO.readAll(imagePaths[index])
        return try ImageDecoder.decodePacked(bytes, source: imagePaths[index], minShorterSide: minShorterSide).map { ($0, labels[index]) }
    }
}

/// The image walk below a class folder, on ``FileIO``'s listing and status.
enum FolderWalk {
    static func byteOrder(_ a: String, _ b: String) -> Bool {
        a.utf8.lexicographicallyPrecedes(b.utf8)
    }

    /// Appends the relative paths (`relativePath/...`) of the images under `path`.
    /// `ancestors` holds the identities of the folders being walked, to skip symbolic-link loops.
    static func collectImages(
        in path: String, relativePath: String, ancestors: inout [FileIO.FileIdentity], depth: Int,
        into images: inout [String]
    ) throws {
        guard depth <= ImageFolderDataset.maxDepth else {
            throw ResNeXtError.io("\(path): folders nested more than \(ImageFolderDataset.maxDepth) levels deep")
        }
        guard let own = FileIO.status(path)?.identity else { return }
        if ancestors.contains(own) { return }  // a symbolic-link loop back to a folder being walked
        ancestors.append(own)
        defer { ancestors.removeLast() }

        for entry in try FileIO.listDirectory(path) where !entry.name.hasPrefix(".") {
            let childPath = FileIO.join(path, entry.name)
            let childRelative = relativePath + "/" + entry.name
            if entry.kind == .regularFile {
                // A plain regular file (not a link): no stat needed.
                if hasImageExtension(entry.name) { images.append(childRelative) }
                continue
            }
            // Directories, symbolic links and file systems that do not fill d_type: follow with stat.
            guard let child = FileIO.status(childPath) else { continue }  // broken link or vanished file
            if child.isRegularFile {
                if hasImageExtension(entry.name) { images.append(childRelative) }
            } else if child.isDirectory {
                try collectImages(
                    in: childPath, relativePath: childRelative, ancestors: &ancestors,
                    depth: depth + 1, into: &images)
            }
        }
    }

    static func hasImageExtension(_ name: String) -> Bool {
        guard let dot = name.utf8.lastIndex(of: UInt8(ascii: ".")) else { return false }
        let ext = name.utf8[name.utf8.index(after: dot)...]
        guard ext.count >= 3, ext.count <= 4 else { return false }
        return ImageFolderDataset.imageExtensions.contains(String(decoding: ext.map { lowerASCII($0) }, as: UTF8.self))
    }

    private static func lowerASCII(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 32 : byte
    }
}

extension ImageFolderDataset {
    /// Full paths of every image file under `directory` (recursively, following links), sorted.
    public static func listImages(under directory: String) throws -> [String] {
        try FileIO.requireDirectory(directory, what: "image folder")
        var ancestors = [FileIO.FileIdentity]()
        var relative = [String]()
        try FolderWalk.collectImages(in: directory, relativePath: "", ancestors: &ancestors, depth: 0, into: &relative)
        return relative.sorted(by: FolderWalk.byteOrder).map { directory + $0 }
    }
}
