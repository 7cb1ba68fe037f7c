import Foundation
import YTAutoCore
import YTAutoMedia
import YTAutoProviders

/// The bytes the jobs' files occupy on disk: the work folder (the stock footage cache included)
/// and the output folder, and of the work folder's, the stock footage cache's (``StockCache``,
/// which only `ytauto-admin prune` trims).
struct DiskUse: Sendable {
    var work: Int64
    var output: Int64
    var stock: Int64

    /// Walks the folders now (the work folder once, the stock cache's share counted on the way).
    static func measure(_ folders: JobFolders) -> DiskUse {
        let work = JobFolders.diskUsage(folders.work, part: StockCache(workDirectory: folders.work).folder.lastPathComponent)
        return DiskUse(work: work.total, output: JobFolders.diskUsage(folders.output), stock: work.part)
    }
}

/// The queue at a glance, read once: what `ytauto status` prints and the console's overview shows.
struct StatusSnapshot: Sendable {
    var now: Date
    var stats: QueueStats
    var running: [Job]
    var starts: [Int64: Date]
    var version: Int
    /// Every worker registered as running, and whether it is alive by what this process can see.
    var live: [(worker: WorkerRecord, alive: Bool)]
    var oldestAge: TimeInterval?
    /// The paused channels (their queued jobs wait, their slots make no job).
    var paused: [ChannelPause]
    /// Disk used by the jobs' files, or why it is not known (the configuration could not be read).
    var disk: Result<(folders: JobFolders, use: DiskUse), any Error>

    /// - Parameter diskUsage: how the folders' use is measured (the console keeps it a minute).
    static func read(
        _ store: any OperatorStore, folders: Result<JobFolders, any Error>,
        diskUsage: @Sendable (JobFolders) async -> DiskUse = { DiskUse.measure($0) }
    ) async throws -> StatusSnapshot {
        let now = Date()
        let stats = try await store.stats()
        let running = try await store.runningJobs()
        let starts = try await store.runningAttemptStarts()
        let workers = try await store.workers()
        let version = try await store.schemaVersion()
        let paused = try await store.pausedChannels()
        var live: [(WorkerRecord, Bool)] = []
        for w in workers where w.state == .running {
            // A look only (another host's worker is taken at its word): the proof of life
            // stays for the process that frees the worker's jobs.
            live.append((w, try await store.isAbandoned(w) != true))
        }
        let disk: Result<(folders: JobFolders, use: DiskUse), any Error>
        switch folders {
        case .success(let f):
            disk = .success((f, await diskUsage(f)))
        case .failure(let error):
            disk = .failure(error)
        }
        return StatusSnapshot(
            now: now, stats: stats, running: running, starts: starts, version: version, live: live,
            oldestAge: stats.oldestDueQueuedAt.map { now.timeIntervalSince($0) }, paused: paused, disk: disk)
    }

    func json(database: String) -> StatusJSON {
        var channels: [String: [String: Int]] = [:]
        for (c, states) in stats.counts {
            channels[c] = Dictionary(uniqueKeysWithValues: states.map { ($0.key.rawValue, $0.value) })
        }
        let diskJSON = switch disk {
        case .success(let d):
            StatusJSON.Disk(workDir: d.folders.work.path, workBytes: d.use.work, outputDir: d.folders.output.path, outputBytes: d.use.output,
                            stockDir: StockCache(workDirectory: d.folders.work).folder.path, stockBytes: d.use.stock)
        case .failure(let error):
            StatusJSON.Disk(error: "\(error)")
        }
        return StatusJSON(
            database: database,
            schemaVersion: version,
            jobs: Dictionary(uniqueKeysWithValues: JobState.allCases.map { ($0.rawValue, stats.byState[$0, default: 0]) }),
            channels: channels,
            running: running.map { j in
                JobWith(job: JobJSON(j), more: RunningJSON(elapsedSeconds: starts[j.id].map { now.timeIntervalSince($0) }))
            },
            workers: live.map { w, alive in
                StatusJSON.Worker(id: w.id, pid: Int(w.pid), host: w.hostname, alive: alive,
                                  startedAt: Timestamp.string(w.startedAt), lastSeenAt: Timestamp.string(w.lastSeenAt))
            },
            oldestDueQueuedAgeSeconds: oldestAge,
            paused: paused.map { StatusJSON.Pause(channel: $0.channel, pausedAt: Timestamp.string($0.pausedAt), pausedBy: $0.pausedBy) },
            disk: diskJSON)
    }
}
