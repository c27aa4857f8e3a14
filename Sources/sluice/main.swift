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

var environment: [String: String] = [:]
if let level = getenv("GOST_LOGGER_LEVEL") { environment["GOST_LOGGER_LEVEL"] = String(cString: level) }
if let metrics = getenv("GOST_METRICS") { environment["GOST_METRICS"] = String(cString: metrics) }
let arguments = Array(CommandLine.arguments.dropFirst())
// One reactor per CPU the process may use (affinity mask, cgroup quota), not per CPU online: a
// container limited to 2 CPUs on a 64-CPU host runs 2 reactors.
let onlineCPUs = min(CPUs.available(), maxThreads)

let plan: RunPlan
var warnings: [String] = []
do {
    switch try parseCommandLine(arguments, environment: environment) {
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
        plan = try makeRunPlan(options.config, options: options.run, onlineCPUs: onlineCPUs)
        warnings = options.warnings.map(\.description)
    }
} catch {
    printError("\(error.message)")
    exit(ExitStatus.usage.rawValue)
}

// Use the whole descriptor budget (the hard limit), as Go does since 1.19; never size memory by it.
var soft: UInt64 = 0
var hard: UInt64 = 0
if sl_get_nofile(&soft, &hard) == 0 && soft < hard { _ = sl_set_nofile_soft(min(hard, 1 << 20)) }

var logFD: Int32 = 2
switch plan.logOutput {
case .stderr: logFD = 2
case .stdout: logFD = 1
case .none: logFD = sl_open_append("/dev/null")
case .file(let path):
    logFD = sl_open_append(path)
    if logFD == -1 {
        printError("log.output \(path): \(Errno.current)")
        exit(ExitStatus.startupFailure.rawValue)
    }
}
let sink = LogSink(fd: logFD, text: plan.logText)
let group = ReactorGroup(plan: plan, sink: sink)
let startLogger = Logger(level: plan.logLevel, sink: sink)
for warning in warnings {
    startLogger.log(.warning) {
        $0.add(.kind, .literal("service"))
        $0.add(.msg, .text(warning))
    }
}
startLogger.flush()
// SIGHUP reads the same command line and files again. Standard input (`-C -`) cannot be read twice.
let readsStandardInput =
    zip(arguments, arguments.dropFirst()).contains { $0 == "-C" && $1 == "-" }
    || arguments.contains("-C=-")
let frozenEnvironment = environment
group.reloadSource = { () throws(UsageError) -> (plan: RunPlan, warnings: [String]) in
    if readsStandardInput {
        throw UsageError("the configuration came from standard input (-C -), which cannot be read again")
    }
    guard case .run(let options) = try parseCommandLine(arguments, environment: frozenEnvironment) else {
        throw UsageError("the command line no longer describes services to run")
    }
    let next = try makeRunPlan(options.config, options: options.run, onlineCPUs: onlineCPUs)
    return (next, options.warnings.map(\.description))
}
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
