import GGUF
import Kernels

/// A weight matrix of the GGUF file: `rows` rows of `cols` elements, quantized rows of `rowBytes`
/// bytes, read in place from the mapping or from the huge-page arena `WeightArena` moved them to.
struct WeightMatrix: @unchecked Sendable {
    // Sendable: points into a read-only mapping owned by a GGUFFile the model keeps alive.
    let name: String
    let format: WeightFormat
    /// Row 0 of the weights: in the mapped file, or in `arena` once `WeightArena` moved them.
    var base: UnsafeRawPointer
    /// Keeps the arena alive while `base` points into it.
    var arena: PackedArena?
    let rows: Int
    let cols: Int
    let rowBytes: Int
    /// The rows interleaved for the 8-bit-activation kernels (Q5_0, Q4_K, Q6_K and short-row Q8_0
    /// on AVX-512 VNNI), used by `multiply` for single-row products (decode) and for batches
    /// where `PackedWeights.preferred(batch:)` says so (`WeightArena`); other batches, the f32 path
    /// and row lookups read the rows at `base`.
    var packed: PackedWeights?

    init(file: GGUFFile, name: String, cols: Int, rows: Int? = nil) throws {
        guard let info = file.tensorInfo(name) else { throw ModelRuntimeError.missingTensor(name) }
        guard let format = WeightFormat(rawValue: Int32(info.type.rawValue)) else {
            throw ModelRuntimeError.unsupportedTensorType(tensor: name, type: info.type.name)
        }
        guard info.dims.count == 2, info.dims[0] == cols, rows == nil || info.dims[1] == rows else {
            throw ModelRuntimeError.tensorShape(tensor: name, expected: [cols, rows ?? -1], found: info.dims)
        }
        self.name = name
        self.format = format
        self.base = file.tensorData(info).baseAddress!
        self.rows = info.dims[1]
        self.cols = cols
        self.rowBytes = info.rowBytes
    }

    /// Dequantizes row `r` into `out` (`cols` floats).
    func dequantizeRow(_ r: Int, into out: UnsafeMutablePointer<Float>) {
        QuantizedMatmul.dequantizeUnchecked(format: format, source: base + r * rowBytes, count: cols, into: out)
    }

    /// y[b][r] = W[r] · x[b] for b < nb; x rows `cols` floats apart, y rows `yStride` apart
    /// (`WeightMatrix.multiply(_:x:batch:pool:scratch:)` with one product).
    func multiply(_ x: UnsafePointer<Float>, batch nb: Int, into y: UnsafeMutablePointer<Float>, yStride: Int, pool: ThreadPool,
                  scratch: Scratch) {
        Self.multiply([MatmulProduct(matrix: self, y: y, yStride: yStride)], x: x, batch: nb, pool: pool, scratch: scratch)
    }
}

/// Reads a 1-D tensor (norm weights, biases) as floats, whatever its stored type.
func loadVector(_ file: GGUFFile, _ name: String, count: Int) throws -> [Float] {
    guard let info = file.tensorInfo(name) else { throw ModelRuntimeError.missingTensor(name) }
    guard info.elementCount == count else { throw ModelRuntimeError.tensorShape(tensor: name, expected: [count], found: info.dims) }
    guard let format = WeightFormat(rawValue: Int32(info.type.rawValue)) else {
        throw ModelRuntimeError.unsupportedTensorType(tensor: name, type: info.type.name)
    }
    var out = [Float](repeating: 0, count: count)
    let data = file.tensorData(info)
    out.withUnsafeMutableBufferPointer {
        QuantizedMatmul.dequantizeUnchecked(format: format, source: data.baseAddress!, count: count, into: $0.baseAddress!)
    }
    return out
}
