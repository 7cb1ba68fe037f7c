import Testing
import YTAutoCore

/// When a failure that lasts is logged (a database server down, a full disk): at its start, when it
/// changes, then at growing intervals with its figures, and its end once.
@Suite struct RepeatedFailureTests {
    /// A server down for an hour, tried every 5 s as the PostgreSQL worker's session is: 720 tries.
    @Test func aLastingFailureIsLoggedAtItsStartThenAtGrowingIntervals() {
        var f = RepeatedFailure()
        let start = ContinuousClock.now
        var logged: [Int] = []  // seconds from the start of each try that was logged
        for second in stride(from: 0, to: 3600, by: 5) where f.failed("connection refused", now: start + .seconds(second)) {
            logged.append(second)
        }
        // At once, then after 1, 2, 4, 8 and 15 minutes, then every 15 minutes.
        #expect(logged == [0, 60, 180, 420, 900, 1800, 2700], "\(logged)")
        #expect(f.tries == 720)
        #expect(f.note(now: start + .seconds(3595)) == " (failing for 59 min, 720 tries)")
        let r1 = f.succeeded(now: start + .seconds(3600))
        #expect(r1 == "after 60 min and 720 failed tries")
        // Over: nothing more to say, and the next failure is a new start, logged at once.
        let r2 = f.succeeded(now: start + .seconds(3605))
        #expect(r2 == nil)
        #expect(!f.isFailing)
        let r3 = f.failed("connection refused", now: start + .seconds(3610))
        #expect(r3)
        #expect(f.note(now: start + .seconds(3610)) == "")
        let r4 = f.succeeded(now: start + .seconds(3611))
        #expect(r4 == "after 1 s and 1 failed try")
    }

    @Test func aDifferentFailureIsLoggedAtOnceAndStartsTheIntervalsAgain() {
        var f = RepeatedFailure()
        let start = ContinuousClock.now
        let r5 = f.failed("connection refused", now: start)
        #expect(r5)
        let r6 = f.failed("connection refused", now: start + .seconds(30))

        #expect(!r6)
        let r7 = f.failed("the database system is starting up", now: start + .seconds(35))
        #expect(r7)
        let r8 = f.failed("the database system is starting up", now: start + .seconds(90))

        #expect(!r8)
        let r9 = f.failed("the database system is starting up", now: start + .seconds(95))
        #expect(r9)
        // Tries are counted over the whole run, whatever each one said.
        #expect(f.tries == 5)
        #expect(f.note(now: start + .seconds(150)) == " (failing for 2 min, 5 tries)")
        // The next reminder of that one was due 2 minutes on; a new failure brings the first
        // interval back: it is repeated 1 minute after it began.
        var logged: [Int] = []
        for second in stride(from: 100, to: 400, by: 5) where f.failed(second < 200 ? "starting up" : "disk full", now: start + .seconds(second)) {
            logged.append(second)
        }
        #expect(logged == [100, 160, 200, 260, 380], "\(logged)")
    }

    @Test func durationsAreSpokenInTheLargestUnitThatIsExact() {
        var f = RepeatedFailure()
        let start = ContinuousClock.now
        _ = f.failed("full disk", now: start)
        let r10 = f.succeeded(now: start + .seconds(119))
        #expect(r10 == "after 119 s and 1 failed try")
        _ = f.failed("full disk", now: start)
        let r11 = f.succeeded(now: start + .seconds(3 * 3600))
        #expect(r11 == "after 3 h and 1 failed try")
        _ = f.failed("full disk", now: start)
        let r12 = f.succeeded(now: start + .seconds(2 * 3600 + 5 * 60 + 9))
        #expect(r12 == "after 2 h 5 min and 1 failed try")
    }
}
