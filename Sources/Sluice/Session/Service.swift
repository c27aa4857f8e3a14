// Service: one `-L` service at run time: its plan, its node selector (shared by every reactor)
// and the constants its log lines carry.

/// A running service. Immutable after start; shared by every reactor thread.
public final class Service: Sendable {
    public let plan: ServicePlan
    /// Position in the run plan (listener tokens carry it).
    public let index: Int
    public let targets: Selector

    public init(plan: ServicePlan, index: Int) {
        self.plan = plan
        self.index = index
        targets = Selector(plan: plan.selector, count: plan.targets.count)
    }

    /// Adds the fields every handler line of this service carries.
    @inline(__always)
    func addServiceFields(_ line: inout LineBuilder) {
        line.add("handler", .text(plan.handler))
        line.add("kind", .literal("handler"))
        line.add("listener", .text(plan.listener))
        line.add("service", .text(plan.name))
    }
}
