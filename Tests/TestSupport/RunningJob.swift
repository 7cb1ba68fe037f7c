import Foundation
import YTAutoCore

extension Job {
    /// A job as a worker holds it while its stages run (leased by `w`, token 1, attempt 1 of 3,
    /// due and leased now): what a test hands a pipeline's stages directly, without a store.
    public static func running(_ id: Int64, channel: String, topic: String?) -> Job {
        let now = Date()
        return Job(id: id, channel: channel, topic: topic, payload: "{}", state: .running, priority: 0, runAt: now, attempt: 1,
                   maxAttempts: 3, leaseOwner: "w", leaseToken: 1, leaseExpiresAt: now, cancelRequested: false, currentStage: nil,
                   uniqueKey: nil, lastErrorCode: nil, lastErrorMessage: nil, createdAt: now, updatedAt: now, finishedAt: nil)
    }
}
