import Foundation
import Testing
import YTAutoCore
import YTAutoProviders
import YTAutoTestSupport
@testable import YTAutoApp

/// The console's users as the credentials file holds them: a bad line is refused with the user
/// and what to run, a password is checked against its bcrypt hash only, and the file's secrets
/// never reach a description.
@Suite struct ConsoleUsersTests {
    @Test func badLinesAreRefusedNamingTheUserAndTheFix() throws {
        let hash = ConsoleUsers.line(role: .viewer, password: "correct horse", cost: 4).split(separator: " ")[1]
        let cases: [(String, String, String)] = [
            ("ana", "admin \(hash)", "ROLE viewer or operator"),
            ("ana", "operator", "ROLE viewer or operator"),
            ("ana", "operator hunter2hunter2", "not a bcrypt hash"),
            ("Ana!", "operator \(hash)", "not a console user name"),
        ]
        for (name, value, expected) in cases {
            #expect { try ConsoleUsers(lines: [name: value], file: "credentials.yaml") } throws: { error in
                "\(error)".contains(expected) && !"\(error)".contains("hunter2")
            }
        }
        let users = try ConsoleUsers(lines: ["ana": "operator \(hash)"], file: "credentials.yaml")
        #expect(users.users["ana"]?.role == .operator)
    }

    @Test func aPasswordIsCheckedAgainstItsHashAndRememberedOnlyWhenRight() async throws {
        let line = ConsoleUsers.line(role: .operator, password: "correct horse", cost: 4)
        let user = try #require(try ConsoleUsers(lines: ["ana": line], file: "c").users["ana"])
        let logins = VerifiedLogins()
        #expect(await logins.check(user: user, password: "correct horsE") == .refused)
        #expect(await logins.check(user: user, password: "correct horse") == .passed)
        #expect(await logins.check(user: user, password: "correct horse") == .passed, "remembered")
        #expect(await logins.check(user: user, password: "wrong") == .refused, "a wrong one is never remembered as right")
    }

    /// A name guessed at ten times in a minute is turned away without a bcrypt check for the rest
    /// of it (a burst of wrong passwords held every thread that serves pages); a login checked
    /// right before stays good, and other names are not touched.
    @Test func aNameGuessedAtTooOftenWaitsOutItsMinute() async throws {
        let line = ConsoleUsers.line(role: .operator, password: "correct horse", cost: 4)
        let users = try ConsoleUsers(lines: ["ana": line, "bob": line], file: "c")
        let ana = try #require(users.users["ana"]), bob = try #require(users.users["bob"])
        let logins = VerifiedLogins()
        #expect(await logins.check(user: ana, password: "correct horse") == .passed)
        var outcomes: [VerifiedLogins.Outcome] = []
        for n in 0..<12 { outcomes.append(await logins.check(user: ana, password: "guess \(n)")) }
        #expect(outcomes.prefix(10).allSatisfy { $0 == .refused } && outcomes.suffix(2).allSatisfy { $0 == .throttled }, "\(outcomes)")
        #expect(await logins.check(user: ana, password: "correct horse") == .passed, "remembered from before")
        #expect(await logins.check(user: bob, password: "correct horse") == .passed)
    }

    @Test func theCredentialsFileKeepsUsersApartAndNeverDescribesThem() throws {
        let dir = TempDir()
        let file = dir.path("credentials.yaml")
        let line = ConsoleUsers.line(role: .viewer, password: "correct horse", cost: 4)
        try Credentials.writePrivate(Data("openai_api_key: sk-secret-value\nconsole_user_vic: \(line)\n".utf8), to: file)
        let c = try Credentials.load(file: file, environment: [:])
        #expect(c.consoleUsers == ["vic": line])
        #expect(c["OPENAI_API_KEY"] == "sk-secret-value")
        #expect(!c.description.contains("$2b$") && !c.description.contains("sk-secret") && c.description.contains("1 console users"))
    }
}
