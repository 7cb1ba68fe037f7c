import Foundation
import YTAutoCore

extension Migration {
    /// The migrations embedded in this binary at build time, in version order.
    public static let embedded: [Migration] = {
        // The build plugin only embeds files it found, so a bad name is a packaging bug;
        // it is reported by `Migrator.validateEmbedded()` and its test, not hidden here.
        EmbeddedMigrations.files.compactMap { try? Migration(fileName: $0.name, sql: $0.sql) }
            .sorted { $0.version < $1.version }
    }()

    /// The raw file names and texts that were embedded.
    public static var embeddedFiles: [(name: String, sql: String)] { EmbeddedMigrations.files }

}
