import GGUF
import Kernels
import SyntheticModels
import Testing

/// The synthetic models' quantizer writes each block format so that the kernels read back every
/// value within half a quantization step, plus what the f16 scale's rounding moves the largest
/// level (Q8_0: 0.6 steps), or one step where ggml's scheme clips the extreme opposite to the
/// block's largest value (Q5_0, Q4_0: levels -16..15 and -8..7).
@Suite struct QuantizerTests {
    @Test(arguments: [GGMLType.q8_0, GGMLType.q5_0, GGMLType.q4_0])
    func blocksDecodeWithinHalfAStep(type: GGMLType) throws {
        var rng = SplitMix64(seed: 11)
        let values = (0..<(32 * 64)).map { _ in rng.nextSymmetric() * 3 }
        let bytes = Quantizer.encode(values, as: type)
        let format = try #require(WeightFormat(rawValue: Int32(type.rawValue)))
        #expect(bytes.count == format.rowBytes(values.count))
        var back = [Float](repeating: .nan, count: values.count)
        try bytes.withUnsafeBytes { b in
            try back.withUnsafeMutableBufferPointer {
                try QuantizedMatmul.dequantize(format: format, source: b.baseAddress!, count: values.count, into: $0.baseAddress!)
            }
        }
        let levels: Float = type == .q8_0 ? 127 : type == .q5_0 ? 16 : 8
        let bar: Float = type == .q8_0 ? 0.6 : 1.05
        for block in 0..<64 {
            let xs = values[(32 * block)..<(32 * block + 32)]
            let step = xs.map(abs).max()! / levels
            for i in xs.indices {
                #expect(abs(back[i] - values[i]) <= step * bar, "\(type) element \(i)")
            }
        }
        #expect(Quantizer.encodable.contains(type))
    }
}
