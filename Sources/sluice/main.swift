// sluice: entry point. TEMPORARY argument handling until the config branch lands.
import CSluice
import Glibc
import Sluice

let signals = sl_signalfd_for_shutdown()
let sink = LogSink()
let group = ReactorGroup(plan: temporaryPlan(Array(CommandLine.arguments.dropFirst())), sink: sink)
do {
    try group.start()
} catch {
    sink.close()
    let text = "sluice: \(error)\n"
    _ = write(2, text, text.utf8.count)
    exit(1)
}
let status = group.waitForShutdown(signals: signals)
sink.close()
exit(status)
