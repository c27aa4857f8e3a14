// Signals: the process's shutdown and reload signals (SIGINT, SIGTERM, SIGHUP) are blocked in every
// thread and read from one signalfd by the supervisor; SIGPIPE is ignored (a write to a closed
// socket is an EPIPE result, not a death).
import CSluice
import Glibc

/// The signalfd the supervisor polls.
public enum ProcessSignals {
    /// The signals the signalfd reports.
    public static let handled: [Int32] = [SIGINT, SIGTERM, SIGHUP]

    /// Blocks `handled` in the calling thread (call it before any other thread starts: they inherit
    /// the mask) and returns a signalfd for them. If the signalfd cannot be made, the mask is
    /// restored before throwing, so the signals keep their default effect instead of being lost.
    public static func open() throws(Errno) -> Int32 {
        _ = signal(SIGPIPE, SIG_IGN)
        var set = sigset_t()
        sigemptyset(&set)
        for s in handled { sigaddset(&set, s) }
        let blocked = pthread_sigmask(SIG_BLOCK, &set, nil)
        guard blocked == 0 else { throw Errno(blocked) }
        let fd = sl_signalfd(&set)
        if fd == -1 {
            let error = Errno.current
            _ = pthread_sigmask(SIG_UNBLOCK, &set, nil)
            throw error
        }
        return fd
    }
}
