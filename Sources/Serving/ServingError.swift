/// Why the service cannot start or apply a configuration; the message names what was wrong
/// (the key, the file, the stage) and is fit for the journal and the command line.
public struct ServingError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
