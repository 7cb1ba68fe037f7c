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

    @Test func aPasswordIsCheckedAgainstItsHashAndRememberedOnlyWhenRight() throws {
        let line = ConsoleUsers.line(role: .operator, password: "correct horse", cost: 4)
        let user = try #require(try ConsoleUsers(lines: ["ana": line], file: "c").users["ana"])
        let logins = VerifiedLogins()
        #expect(!logins.check(user: user, password: "correct horsE"))
        #expect(logins.check(user: user, password: "correct horse"))
        #expect(logins.check(user: user, password: "correct horse"), "remembered")
        #expect(!logins.check(user: user, password: "wrong"), "a wrong one is never remembered as right")
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
