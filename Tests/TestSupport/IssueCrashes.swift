/// The numbers that trapped the binaries (exit 132) before they were range-checked: (admin
/// command?, arguments, the message that refuses them). Run in process by the fuzz tests and
/// through the real binaries by the end-to-end tests.
public let issueCrashes: [(Bool, [String], String)] = [
        (false, ["worker", "--grace", "1e20s"], "--grace '1e20s' is out of range: allowed 0s to 1h"),
        (false, ["worker", "--lease-seconds", "9223372036854775807"], "--lease-seconds 9223372036854775807 is out of range: allowed 3 to 3600"),
        (false, ["scheduler", "--max-sleep", "1e300s"], "--max-sleep '1e300s' is out of range: allowed 100ms to 1h"),
        (true, ["list-failed", "--since", "1e300d"], "--since '1e300d' is out of range: allowed 0s to 36500d"),
        (true, ["prune", "--older-than", "1e15d"], "--older-than '1e15d' is out of range: allowed 0s to 36500d"),
        (true, ["quota", "--days=-9223372036854775808"], "--days -9223372036854775808 is out of range: allowed 1 to 3660"),
]
