import Testing
@testable import Scheduling
import ServingTypes

@Suite struct ConfigurationTests {
    func field(_ c: SchedulerConfiguration) -> String? {
        do { try c.validate(); return nil } catch let SchedulingError.invalidConfiguration(field, _, _) { return field } catch { return "?" }
    }

    @Test func validConfigurationPasses() {
        #expect(field(config()) == nil)
        #expect(field(config(batchTokens: 256, context: 256, chunked: false)) == nil)
    }

    @Test func eachBadFieldIsNamed() {
        #expect(field(config(m: 0)) == "microBatches")
        #expect(field(config(batchTokens: 0)) == "maxBatchTokens")
        #expect(field(config(kv: 100, context: 256)) == "kvCacheTokens")
        #expect(field(config(queue: -1)) == "maxQueue")
        #expect(field(config(running: 0)) == "maxRunning")
        #expect(field(config(context: 1)) == "contextLength")
        #expect(field(config(batchTokens: 64, context: 256, chunked: false)) == "maxBatchTokens")
        #expect(throws: SchedulingError.self) { _ = try Scheduler(configuration: config(m: 0)) }
    }

    @Test func errorDescriptionNamesFieldAndValue() {
        let e = SchedulingError.invalidConfiguration(field: "maxRunning", value: 0, requirement: "must be >= 1")
        #expect(e.description.contains("maxRunning = 0"))
    }
}
