import Foundation
import PackagePlugin

/// Embeds the package's top-level `migrations/*.sql` (SQLite's) into the target as Swift source;
/// for the target `YTAutoPostgres`, `migrations/postgres/*.sql`.
///
/// The schema lives only in `migrations/`; this plugin turns it into a generated
/// `EmbeddedMigrations.swift` so an installed binary carries its schema and never looks
/// for files at run time. The file list is passed as arguments, so adding, removing or
/// renaming a migration changes the command and SwiftPM reruns it.
@main
struct EmbedMigrations: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: any Target) async throws -> [Command] {
        let root = context.package.directoryURL.appending(path: "migrations")
        let folder = target.name == "YTAutoPostgres" ? root.appending(path: "postgres") : root
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path())
            .filter { $0.hasSuffix(".sql") }
            .sorted()
        let inputs = names.map { folder.appending(path: $0) }
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedMigrations.swift")
        return [
            .buildCommand(
                displayName: "Embedding \(names.count) migrations from \(folder.lastPathComponent)/",
                executable: try context.tool(named: "EmbedMigrationsTool").url,
                arguments: [output.path()] + inputs.map { $0.path() },
                inputFiles: inputs,
                outputFiles: [output]
            )
        ]
    }
}
