// The one parent suite of every suite in this target, which runs them one test case at a time, and
// `OneAtATime`, the guard that checks it does.
//
// Swift Testing runs sibling suites in parallel; `.serialized` orders only what is nested inside
// the suite that carries it (recursively: sub-suites, their tests and the cases of parameterized
// tests). Every test here starts processes, binds ports, or measures time, memory or descriptors,
// and on two shared cores two of them at once disturb each other. So every suite of this target is
// declared inside `Integration` (as `extension Integration { @Suite struct … }`), never at the top
// level. `OneAtATime` records an issue when a test case starts while another one is still
// running, or when a process or a listener is started outside `Integration`.
import Glibc
import Sluice
import TestSupport
import Testing

@Suite("Integration (one test at a time)", .serialized, OneAtATime())
struct Integration {}

/// A trait for `Integration`, applied recursively to each test case in it: it keeps a ledger of
/// the test cases running, records an issue when one starts while another runs, and records one
/// when a TestSupport helper starts a process or binds a port outside any of them.
///
/// With `SLUICE_TEST_TIMELINE=<file>` it also appends `<start ns> <end ns> <test>` (monotonic
/// clock) for every test case to that file, to check the run afterwards.
struct OneAtATime: SuiteTrait, TestTrait, TestScoping {
    /// The test cases running now.
    let ledger: Ledger

    init(ledger: Ledger = .shared) { self.ledger = ledger }

    var isRecursive: Bool { true }

    /// True inside a test case of `Integration`.
    @TaskLocal static var isInside = false

    /// Who runs now, and the timeline file.
    final class Ledger: Sendable {
        static let shared = Ledger(timeline: getenv("SLUICE_TEST_TIMELINE").map { String(cString: $0) })

        private let running = Locked<[String]>([])
        private let entries = AtomicCounter()
        private let timeline: String?

        init(timeline: String? = nil) { self.timeline = timeline }

        /// Adds a test case of `test`; returns its name in the ledger (the test and a serial number,
        /// as the cases of a parameterized test share the test's id) and the test cases that were
        /// already running.
        func enter(_ test: String) -> (name: String, others: [String]) {
            let name = "\(test) #\(entries.add())"
            return running.withLock { list in
                defer { list.append(name) }
                return (name, list)
            }
        }

        /// Removes `name` and appends its interval to the timeline file, if any.
        func leave(_ name: String, startedAt start: Monotonic.Instant) {
            let end = Monotonic.now
            running.withLock { list in
                if let index = list.firstIndex(of: name) { list.remove(at: index) }
                guard let timeline, let file = fopen(timeline, "a") else { return }
                fputs("\(start.nanoseconds) \(end.nanoseconds) \(name)\n", file)
                fclose(file)
            }
        }
    }

    func prepare(for test: Test) async throws {
        // Planning calls this before any test runs, so the watch is in place for all of them,
        // including those of a suite wrongly declared outside `Integration`. (A helper working
        // on a thread of its own, outside any test, has no test to blame and is let be.)
        ResourceWatch.observe { what in
            if Test.current != nil && !OneAtATime.isInside {
                Issue.record(
                    "\(what) started outside the serialized `Integration` suite: declare the suite in `extension Integration`"
                )
            }
        }
    }

    func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        let started = Monotonic.now
        let (name, others) = ledger.enter(test.id.description)
        if !others.isEmpty {
            Issue.record("\(name) started while \(others.joined(separator: ", ")) still ran: not serialized")
        }
        defer { ledger.leave(name, startedAt: started) }
        try await OneAtATime.$isInside.withValue(true) { try await function() }
    }
}

extension Integration {
    /// The guard itself: a test case entered while another one is inside is an issue, and so is a
    /// resource started outside every test case of `Integration`.
    @Suite("OneAtATime guard self-tests")
    struct OneAtATimeSelfTests {
        @Test func overlappingTestCasesAreReported() async throws {
            let test = try #require(Test.current)
            let guardTrait = OneAtATime(ledger: OneAtATime.Ledger())
            await withKnownIssue("a second test case entered while the first ran") {
                try await guardTrait.provideScope(for: test, testCase: Test.Case.current) {
                    try await guardTrait.provideScope(for: test, testCase: Test.Case.current) {}
                }
            }
            // One after the other is fine.
            try await guardTrait.provideScope(for: test, testCase: Test.Case.current) {}
            try await guardTrait.provideScope(for: test, testCase: Test.Case.current) {}
        }

        @Test func resourcesOutsideTheSuiteAreReported() throws {
            #expect(OneAtATime.isInside)
            OneAtATime.$isInside.withValue(false) {
                withKnownIssue("a listener started outside `Integration`") {
                    _ = try PortHolder()
                }
            }
            _ = try PortHolder()  // inside: no issue
        }
    }
}
