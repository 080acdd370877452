import CKernels
import Kernels
import Testing

@Suite struct WeightFormatTests {
    @Test("Block geometry agrees with the C table and ggml", arguments: WeightFormat.allCases)
    func geometry(format: WeightFormat) {
        #expect(ps_type_supported(format.rawValue) == 1)
        #expect(Int(ps_type_block_elems(format.rawValue)) == format.blockElements)
        #expect(Int(ps_type_block_bytes(format.rawValue)) == format.blockBytes)
        #expect(format.rowBytes(format.blockElements * 3) == format.blockBytes * 3)
    }

    @Test("ggml's sizes for the formats Gemma 3 uses")
    func ggmlSizes() {
        // 640 columns: Q5_0 and Q8_0 rows; 2048 columns: Q4_K / Q6_K rows.
        #expect(WeightFormat.q5_0.rowBytes(640) == 440)
        #expect(WeightFormat.q8_0.rowBytes(640) == 680)
        #expect(WeightFormat.q4_K.rowBytes(2048) == 1152)
        #expect(WeightFormat.q6_K.rowBytes(2048) == 1680)
        #expect(WeightFormat.q4_K.rowBytes(640) == nil)
        #expect(WeightFormat.f32.rowBytes(0) == nil)
    }

    @Test("Unsupported type ids are reported as such")
    func unsupported() {
        for id: Int32 in [3, 7, 9, 10, 11, 15, 16, 29, 31, -1] {
            #expect(ps_type_supported(id) == 0)
            #expect(ps_type_block_elems(id) == 0)
            #expect(ps_type_block_bytes(id) == 0)
            #expect(WeightFormat(rawValue: id) == nil)
        }
    }
}

extension KernelISASuites {
    @Suite struct ISASelectionTests {
        @Test("Selecting a level clamps to the detected one and reports what is in use")
        func clamping() {
            defer { KernelISA.select(KernelISA.detected) }
            #expect(KernelISA.select(.portable) == .portable)
            #expect(KernelISA.current == .portable)
            #expect(KernelISA.select(.avx512) == KernelISA.detected)
            #expect(KernelISA.current == KernelISA.detected)
            #expect(ps_isa_set(-5) == 0)
            #expect(ps_isa_set(99) == ps_isa_detected())
        }
    }
}
