import Foundation
import Testing
import YTAutoTestSupport

/// A process the tests start for the whole run (a PostgreSQL server, its watcher, a browser)
/// inherits none of the test process's descriptors: a pipe of another test's child, left open
/// in a process that outlives that child, would keep the pipe from ever ending and that test
/// would wait for ever (seen: a suite that hung after the clock-skew test started its server).
@Suite struct SpawnHygieneTests {
    @Test func aSpawnedProcessInheritsNoDescriptor() throws {
        var fds: [Int32] = [0, 0]
        try #require(pipe(&fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        let listed = try PostgresServer.runCommand(["/bin/sh", "-c", "ls /proc/$$/fd"])
        let open = Set(listed.split(separator: "\n").compactMap { Int32($0) })
        #expect(!open.contains(fds[0]) && !open.contains(fds[1]), "the child holds the test's pipe: \(open.sorted()) (pipe \(fds))")
        #expect(open.isSubset(of: [0, 1, 2, 10]), "\(open.sorted())")
    }
}
