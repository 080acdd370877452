import Constraints
import ServingTypes

/// Compiles a constraint once at request time, only to refuse a bad one with a 400 that names
/// where it is wrong; the engine compiles it again where tokens are sampled. Compiling is
/// bounded by `ConstraintLimits` (tens of milliseconds at most), so a hostile schema cannot
/// stall the server.
enum ConstraintValidation {
    /// `param` is where the schema (or grammar) sits in the request, e.g.
    /// "response_format.json_schema.schema"; a schema error's own path is appended to it.
    static func check(_ constraint: OutputConstraint, param: String) throws(APIError) {
        do {
            _ = try ConstraintCompiler.compile(constraint)
        } catch {
            throw APIError.invalidConstraint(error, param: param)
        }
    }
}
