// FaultInjection: kernel refusals that cannot be provoked from outside a test without changing
// machine-wide limits (epoll registrations failing with ENOSPC). Debug builds only: release builds
// compile none of it, and the variable is read once at reactor start.
#if DEBUG
    import Glibc

    /// Failures to inject, from `SLUICE_TEST_FAULTS` (e.g. `register=3`: every third epoll
    /// registration fails as if `fs.epoll.max_user_watches` were reached).
    struct FaultInjection {
        var registerEvery = 0
        private var registrations = 0

        static func fromEnvironment() -> FaultInjection {
            var faults = FaultInjection()
            guard let raw = getenv("SLUICE_TEST_FAULTS") else { return faults }
            for item in String(cString: raw).split(separator: ",") {
                let parts = item.split(separator: "=", maxSplits: 1)
                if parts.count == 2, parts[0] == "register", let n = Int(parts[1]), n > 0 { faults.registerEvery = n }
            }
            return faults
        }

        /// Whether this registration should fail.
        mutating func failRegistration() -> Bool {
            guard registerEvery > 0 else { return false }
            registrations &+= 1
            return registrations % registerEvery == 0
        }
    }
#endif
