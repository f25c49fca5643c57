import ArgumentParser

/// Catches misspelled single-dash options that the argument parser would read as a cluster of one-letter
/// flags: `-batchsize` (for `-batchSize`) holds an `h`, which asks for help, so the misspelling printed the
/// help and exited 0, and a script took that as success. The known single-dash names are read from the
/// command's own help, so nothing here has to be kept in step with the options.
enum MisspelledOptionGuard {
    /// The first argument that looks like a single-dash option, is not one the command declares, and would
    /// be read as a flag cluster containing `-h`, with the declared name it most likely meant.
    static func misreadAsHelp(_ arguments: [String], root: ParsableCommand.Type) -> (argument: String, suggestion: String?)? {
        let options = arguments.prefix { $0 != "--" }
        let suspects = options.filter { isSingleDashWord($0) && $0.dropFirst().contains("h") }
        guard !suspects.isEmpty else { return nil }  // the usual case: no help text to render
        let subcommands = root.configuration.subcommands
        let command =
            arguments.first.flatMap { first in subcommands.first { $0.configuration.commandName == first } }
            ?? root.configuration.defaultSubcommand ?? root
        let known = singleDashNames(in: command.helpMessage(columns: 10_000))
        guard let argument = suspects.first(where: { !known.contains($0) }) else { return nil }
        return (argument, known.first { $0.lowercased() == argument.lowercased() })
    }

    /// `-word` with at least two letters or digits after one dash.
    static func isSingleDashWord(_ text: String) -> Bool {
        let body = text.dropFirst()
        return text.hasPrefix("-") && body.count >= 2 && body.first?.isLetter == true && body.allSatisfy { $0.isLetter || $0.isNumber }
    }

    /// Every `-name` token of a help text.
    static func singleDashNames(in help: String) -> Set<String> {
        var names = Set<String>()
        var token = ""
        var previous: Character = " "
        for character in help + " " {
            if character == "-" && token.isEmpty && !(previous.isLetter || previous.isNumber || previous == "-") {
                token = "-"
            } else if !token.isEmpty && (character.isLetter || character.isNumber) {
                token.append(character)
            } else {
                if isSingleDashWord(token) { names.insert(token) }
                token = ""
            }
            previous = character
        }
        return names
    }
}
