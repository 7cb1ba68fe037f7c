import ArgumentParser
import Foundation
import YTAutoCore
import YTAutoStore

/// Options every command of both executables takes.
public struct GlobalOptions: ParsableArguments, Sendable {
    @Option(name: .long, help: ArgumentHelp("The SQLite database file.", discussion: "Default: $YTAUTO_DB, else ./ytauto.db", valueName: "path"))
    public var db: String?

    @Option(name: .long, help: ArgumentHelp("The channel configuration (YAML).", discussion: "Default: $YTAUTO_CONFIG, else ./ytauto.yaml", valueName: "path"))
    public var config: String?

    public init() {}

    public var databasePath: String {
        db ?? ProcessInfo.processInfo.environment["YTAUTO_DB"].flatMap { $0.isEmpty ? nil : $0 } ?? "./ytauto.db"
    }

    public var configPath: String {
        config ?? ProcessInfo.processInfo.environment["YTAUTO_CONFIG"].flatMap { $0.isEmpty ? nil : $0 } ?? "./ytauto.yaml"
    }

    /// The folder of the configuration file; paths in it are relative to it.
    public var configDirectory: URL {
        URL(fileURLWithPath: configPath).deletingLastPathComponent().standardizedFileURL
    }

    /// Opens (and migrates) the store.
    public func openStore() throws -> SQLiteJobStore {
        let dir = URL(fileURLWithPath: databasePath).deletingLastPathComponent().path
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
            throw CLIError("the folder of the database \(databasePath) does not exist")
        }
        return try SQLiteJobStore(path: databasePath)
    }

    public func loadConfig() throws -> AppConfig { try AppConfig.load(path: configPath) }
}

/// An error for the operator, printed as `error: <message>`.
public struct CLIError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ message: String) { description = message }
}

/// Runs a root command with exit codes that mean something: 0 ok, 1 failure, 2 usage.
public enum CLIMain {
    public static func run<Root: AsyncParsableCommand>(_ root: Root.Type, arguments: [String] = Array(CommandLine.arguments.dropFirst())) async -> Never {
        do {
            var command = try root.parseAsRoot(arguments)
            if var async = command as? any AsyncParsableCommand {
                try await async.run()
            } else {
                try command.run()
            }
            exit(0)
        } catch {
            let code = root.exitCode(for: error)
            if code == .success {
                print(root.fullMessage(for: error))
                exit(0)
            }
            if let exit = error as? ExitCode { Foundation.exit(exit.rawValue) }
            let isUsage = code == .validationFailure || error is ValidationError
            let message = isUsage ? root.fullMessage(for: error) : "error: \(String(describing: error))"
            FileHandle.standardError.write(Data((message.hasSuffix("\n") ? message : message + "\n").utf8))
            exit(isUsage ? 2 : 1)
        }
    }
}
