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
        func check(_ password: String) async -> VerifiedLogins.Outcome {
            await logins.check(name: "ana", user: user, password: password, from: "127.0.0.1")
        }
        #expect(await check("correct horsE") == .refused)
        #expect(await check("correct horse") == .passed)
        #expect(await check("correct horse") == .passed, "remembered")
        #expect(await check("wrong") == .refused, "a wrong one is never remembered as right")
        #expect(await logins.check(name: "nobody", user: nil, password: "correct horse", from: "127.0.0.1") == .refused)
    }

    /// An address with ten wrong sign-ins in a minute is turned away without a bcrypt check for
    /// the rest of it, whichever name it tries (a burst of wrong passwords held every thread that
    /// serves pages); the user it guessed at still signs in from their own address, and a login
    /// checked right before stays good.
    @Test func anAddressThatGuessesTooOftenWaitsOutItsMinute() async throws {
        let (ana, bob) = try Self.anaAndBob()
        let logins = VerifiedLogins()
        let guesser = "203.0.113.9"
        #expect(await logins.check(name: "ana", user: ana, password: "correct horse", from: guesser) == .passed)
        var outcomes: [VerifiedLogins.Outcome] = []
        for n in 0..<9 { outcomes.append(await logins.check(name: "ana", user: ana, password: "guess \(n)", from: guesser)) }
        // Unknown names count too: they are guesses.
        outcomes.append(await logins.check(name: "root", user: nil, password: "toor", from: guesser))
        for n in 0..<2 { outcomes.append(await logins.check(name: "bob", user: bob, password: "guess \(n)", from: guesser)) }
        #expect(outcomes.prefix(10).allSatisfy { $0 == .refused } && outcomes.suffix(2).allSatisfy { $0 == .throttled("from this address") }, "\(outcomes)")
        #expect(await logins.check(name: "ana", user: ana, password: "correct horse", from: guesser) == .passed, "remembered from before")
        #expect(await logins.check(name: "bob", user: bob, password: "correct horse", from: guesser) == .throttled("from this address"))
        // Not a lock-out: the users themselves, elsewhere, sign in.
        #expect(await logins.check(name: "ana", user: ana, password: "correct horse", from: "198.51.100.7") == .passed)
        #expect(await logins.check(name: "bob", user: bob, password: "correct horse", from: "198.51.100.7") == .passed)
    }

    /// Guesses at one name spread over many addresses: after a hundred in a minute that name is
    /// turned away from every address, and other names are not.
    @Test func aNameGuessedAtFromManyAddressesWaitsOutItsMinute() async throws {
        let (ana, bob) = try Self.anaAndBob()
        let logins = VerifiedLogins()
        var outcomes: [VerifiedLogins.Outcome] = []
        for n in 0..<101 { outcomes.append(await logins.check(name: "ana", user: ana, password: "guess", from: "10.0.\(n / 5).\(n % 5)")) }
        #expect(outcomes.prefix(100).allSatisfy { $0 == .refused } && outcomes.last == .throttled("for this user"), "\(outcomes.suffix(3))")
        #expect(await logins.check(name: "ana", user: ana, password: "correct horse", from: "10.9.9.9") == .throttled("for this user"))
        #expect(await logins.check(name: "bob", user: bob, password: "correct horse", from: "10.9.9.9") == .passed)
    }

    /// A name that is no user's costs a bcrypt check as a wrong password does, against a decoy
    /// hash at the users' cost (it cost none: a quick refusal told a guesser the name was not a
    /// user's), and the decoy's own password is no way in.
    @Test func aWrongNameCostsWhatAWrongPasswordCosts() async throws {
        let (ana, bob) = try Self.anaAndBob()
        let users = ConsoleUsers([ana, bob])
        let decoy = try #require(VerifiedLogins.decoy(for: users))
        #expect(decoy.hasPrefix("$2b$04$") && decoy.count == 60, "\(decoy)")
        #expect(VerifiedLogins.decoy(for: ConsoleUsers([])) == nil)
        let logins = VerifiedLogins(decoy: decoy)
        #expect(await logins.check(name: "ana", user: ana, password: "guess", from: "10.0.0.1") == .refused)
        #expect(logins.checks == 1)
        #expect(await logins.check(name: "root", user: nil, password: "guess", from: "10.0.0.2") == .refused)
        #expect(logins.checks == 2, "a wrong name was refused without a check")
        // Even a password that matches the decoy signs no one in.
        let known = VerifiedLogins(decoy: ConsoleUsers.line(role: .viewer, password: "decoy", cost: 4).split(separator: " ")[1].description)
        #expect(await known.check(name: "root", user: nil, password: "decoy", from: "10.0.0.3") == .refused)
    }

    /// Two operators whose password is "correct horse".
    static func anaAndBob() throws -> (ConsoleUsers.User, ConsoleUsers.User) {
        let line = ConsoleUsers.line(role: .operator, password: "correct horse", cost: 4)
        let users = try ConsoleUsers(lines: ["ana": line, "bob": line], file: "c")
        return (try #require(users.users["ana"]), try #require(users.users["bob"]))
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
