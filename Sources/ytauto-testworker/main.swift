// A minimal queue worker for the multi-process and SIGKILL tests of the job store.
//
//   ytauto-testworker --db PATH [--stages 3] [--stage-ms 0] [--concurrency 1]
//                     [--lease-ms 30000] [--exit-when-idle]
//
// It registers as a worker (lock file + row), then leases jobs, records a checkpoint per
// stage with a real artifact, and completes them, reclaiming dead workers' jobs as it goes.
// It only exercises the store; the product's worker is `ytauto worker`.
// On exit it prints one JSON line: {"worker":…,"completed":…,"leaseLost":…}.
import Foundation
import YTAutoCore
import YTAutoStore

struct Options {
    var db = ""
    var stages = 3
    var stageMS = 0
    var concurrency = 1
    var leaseMS = 30_000
    var exitWhenIdle = false
}

func parse() -> Options {
    var o = Options()
    var args = CommandLine.arguments.dropFirst().makeIterator()
    while let a = args.next() {
        switch a {
        case "--db": o.db = args.next() ?? ""
        case "--stages": o.stages = Int(args.next() ?? "") ?? o.stages
        case "--stage-ms": o.stageMS = Int(args.next() ?? "") ?? o.stageMS
        case "--concurrency": o.concurrency = Int(args.next() ?? "") ?? o.concurrency
        case "--lease-ms": o.leaseMS = Int(args.next() ?? "") ?? o.leaseMS
        case "--exit-when-idle": o.exitWhenIdle = true
        default:
            FileHandle.standardError.write(Data("ytauto-testworker: unknown argument \(a)\n".utf8))
            exit(2)
        }
    }
    if o.db.isEmpty {
        FileHandle.standardError.write(Data("ytauto-testworker: --db PATH is required\n".utf8))
        exit(2)
    }
    return o
}

actor Counters {
    var completed = 0
    var leaseLost = 0
    func addCompleted() { completed += 1 }
    func addLost() { leaseLost += 1 }
}

let options = parse()
do {
    let store = try SQLiteJobStore(path: options.db)
    let registration = try await store.registerWorker()
    let counters = Counters()
    let leaseFor = Duration.milliseconds(options.leaseMS)
    let artifactDir = URL(fileURLWithPath: options.db + "-artifacts")
    try FileManager.default.createDirectory(at: artifactDir, withIntermediateDirectories: true)

    // Sweeps for dead workers and expired leases every 200 ms, whatever the slots are doing.
    let reaper = Task {
        while !Task.isCancelled {
            _ = try await store.reclaim()
            try await Task.sleep(for: .milliseconds(200))
        }
    }
    try await withThrowingTaskGroup(of: Void.self) { group in
        for _ in 0..<options.concurrency {
            group.addTask {
                var idleChecks = 0
                while true {
                    guard let lease = try await store.lease(worker: registration.id, channels: nil, duration: leaseFor) else {
                        if options.exitWhenIdle {
                            let byState = try await store.stats().byState
                            if byState[.queued, default: 0] == 0 && byState[.running, default: 0] == 0 {
                                idleChecks += 1
                                if idleChecks >= 3 { return }
                            }
                        }
                        try await Task.sleep(for: .milliseconds(20))
                        continue
                    }
                    idleChecks = 0
                    do {
                        for stage in 0..<options.stages {
                            let name = "stage\(stage)"
                            let started = Date()
                            try await store.checkpoint(lease, stage: name, state: .running, artifacts: [], startedAt: started, error: nil)
                            if options.stageMS > 0 { try await Task.sleep(for: .milliseconds(options.stageMS)) }
                            let file = artifactDir.appending(path: "job\(lease.jobID)-\(name).txt")
                            let content = Data("job \(lease.jobID) \(name) token \(lease.token)\n".utf8)
                            let tmp = file.appendingPathExtension("tmp-\(registration.id)")
                            try content.write(to: tmp)
                            guard rename(tmp.path, file.path) == 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
                            let artifact = Artifact(path: file.path, bytes: Int64(content.count), sha256: Checksum.sha256Hex(content))
                            try await store.checkpoint(lease, stage: name, state: .succeeded, artifacts: [artifact], startedAt: started, error: nil)
                            _ = try await store.heartbeat(lease, duration: leaseFor)
                        }
                        _ = try await store.complete(lease)
                        await counters.addCompleted()
                    } catch is LeaseLost {
                        await counters.addLost()
                    }
                }
            }
        }
        try await group.waitForAll()
    }
    reaper.cancel()
    try await store.deregisterWorker(registration)
    print("{\"worker\":\"\(registration.id)\",\"completed\":\(await counters.completed),\"leaseLost\":\(await counters.leaseLost)}")
} catch {
    FileHandle.standardError.write(Data("ytauto-testworker: \(error)\n".utf8))
    exit(1)
}
