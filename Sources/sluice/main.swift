// sluice: parse the command line, bind every listener, run the reactors until SIGINT/SIGTERM.
// Exit status: 0 after a clean shutdown, 1 when start-up fails, 2 for usage errors.
import CSluice
import Glibc
import Sluice

/// Writes one line to stderr, unbuffered.
func printError(_ text: String) {
    let line = "sluice: \(text)\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
}

// Block the shutdown signals before any thread starts, so every thread inherits the mask and only
// the signalfd sees them.
let signals: Int32
do {
    signals = try ProcessSignals.open()
} catch {
    printError("signalfd: \(error)")
    exit(ExitStatus.startupFailure.rawValue)
}

let plan: RunPlan
do {
    var environment: [String: String] = [:]
    if let level = getenv("GOST_LOGGER_LEVEL") { environment["GOST_LOGGER_LEVEL"] = String(cString: level) }
    switch try parseCommandLine(Array(CommandLine.arguments.dropFirst()), environment: environment) {
    case .help:
        print(usageText(), terminator: "")
        exit(ExitStatus.success.rawValue)
    case .version:
        print(versionLine)
        exit(ExitStatus.success.rawValue)
    case .printConfig(let text):
        print(text, terminator: "")
        exit(ExitStatus.success.rawValue)
    case .run(let options):
        plan = try makeRunPlan(options.config, options: options.run, onlineCPUs: Int(sl_online_cpus()))
    }
} catch {
    printError("\(error.message)")
    exit(ExitStatus.usage.rawValue)
}

// Use the whole descriptor budget (the hard limit), as Go does since 1.19; never size memory by it.
var soft: UInt64 = 0
var hard: UInt64 = 0
if sl_get_nofile(&soft, &hard) == 0 && soft < hard { _ = sl_set_nofile_soft(min(hard, 1 << 20)) }

let sink = LogSink()
let group = ReactorGroup(plan: plan, sink: sink)
do {
    try group.start()
} catch {
    sink.close()
    printError(error.message)
    exit(ExitStatus.startupFailure.rawValue)
}
let status = group.waitForShutdown(signals: signals)
sink.close()
exit(status)
