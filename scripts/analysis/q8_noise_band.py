#!/usr/bin/env python3
"""How far 8-bit activations (ggml's scheme, which llama.cpp and pipeserve's q8 path both use) move Gemma 3's
logits from float64, as a distribution: the spread the q8 bars of GemmaAgainstFloat64Tests are derived from.

The float64 forward of gemma3_reference.py is rerun with every weight matrix's input quantized first: per block
of 32 (Q4_0/Q5_0/Q8_0 weights) or 256 (K-quants), d = amax/127 in f32, q = round-half-even(x/d) in [-127, 127],
x replaced by d*q; everything else stays float64. Draw 0 quantizes the float64 activations as they are; draw
s > 0 first multiplies each activation by (1 + 1e-6 * N(0,1)) -- rounding noise of the size by which f32
arithmetic, llama.cpp's f16 KV cache or a different summation order perturb them. Whether an element lands on
one side of a rounding boundary or the other then changes, so each draw is an equally faithful implementation
of the scheme; the spread over draws is what one implementation (ours, llama.cpp's) can be expected to land on.

For each draw, on the prompts of Fixtures/float64-gemma3-270m.json and llama.cpp's top-10 ids (the statistics
GemmaAgainstFloat64Tests computes): mean |dlogit|, mean and worst shift-free max |dlogit - mean dlogit|,
worst raw |dlogit|, top-1 flips where float64's top-2 margin exceeds 0.25, and the greedy tokens agreeing with
float64's continuation. About 20 s to load plus 30 s per draw on one idle core.

  python3 scripts/analysis/q8_noise_band.py MODEL.gguf --reference gemma3_reference.py [--draws 20]"""
import argparse, importlib.util, json, os, statistics, sys
import numpy as np
from gguf import GGUFReader

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import error_budget  # noqa: E402  (the switchable float64 forward and ggml's 8-bit blocks)
from error_budget import BLOCK32, FIXTURES  # noqa: E402


def quantize(x, block, rng, noise):
    """x (rows, k) -> the dequantized 8-bit activations, as ggml's Q8_0/Q8_K would hold them."""
    x = np.asarray(x, dtype=np.float64)
    if noise:
        x = x * (1 + noise * rng.standard_normal(x.shape))
    return error_budget.q8_blocks(x, block)


def quantized_model(ref, types):
    class Q8Model(error_budget.budget_model(ref, types)):
        """error_budget's forward (gemma3_reference.Model.forward line for line, no other error source
        switched on) with every weight product's input through quantize()."""
        quantize_inputs, rng, noise = True, None, 0.0  # not "eps": the reference uses it for RMSNorm

        def mm(self, h, name, op):
            if self.quantize_inputs:
                h = quantize(h, 32 if types[name] in BLOCK32 else 256, self.rng, self.noise)
            return h @ self.W[name].T

    return Q8Model


def draw(m, prompts, n_continue):
    rows = []
    for p in prompts:
        cache = m.new_cache()
        lg = m.forward(np.array(p["prompt_tokens"]), cache)
        d = np.array([lg[int(t)] - v for t, v in p["at_llamacpp_top10"]])
        greedy = []
        for step in range(n_continue):
            greedy.append(int(np.argmax(lg)))
            if step + 1 < n_continue:
                lg = m.forward(np.array([greedy[-1]]), cache)
        agree = next((i for i, (a, b) in enumerate(zip(greedy, p["greedy"])) if a != b), n_continue)
        rows.append({"name": p["name"], "max": float(np.abs(d).max()), "mean": float(np.abs(d).mean()),
                     "centered": float(np.abs(d - d.mean()).max()),
                     "flip": greedy[0] != int(p["top20"][0][0]) and p["top1_margin"] > 0.25, "greedy": agree})
    return {"mean_abs": statistics.mean(r["mean"] for r in rows),
            "mean_centered": statistics.mean(r["centered"] for r in rows),
            "worst_centered": max(r["centered"] for r in rows), "worst_raw": max(r["max"] for r in rows),
            "flips_above_0.25": sum(r["flip"] for r in rows), "greedy_agreement": sum(r["greedy"] for r in rows),
            "worst_prompt": max(rows, key=lambda r: r["max"])["name"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--reference", required=True, help="path of gemma3_reference.py")
    ap.add_argument("--draws", type=int, default=20, help="perturbed draws after the unperturbed draw 0")
    args = ap.parse_args()
    spec = importlib.util.spec_from_file_location("gemma3_reference", args.reference)
    ref = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ref)
    with open(os.path.join(FIXTURES, "float64-gemma3-270m.json"), encoding="utf-8") as f:
        fixture = json.load(f)
    types = {t.name: t.tensor_type.name for t in GGUFReader(args.model).tensors}
    m = quantized_model(ref, types)(*ref.load(args.model))

    # The forward must be the reference's: without quantization it reproduces the fixture.
    m.quantize_inputs = False
    p0 = fixture["prompts"][0]
    lg = m.forward(np.array(p0["prompt_tokens"]), m.new_cache())
    if max(abs(lg[int(t)] - v) for t, v in p0["top20"]) > 1e-4:
        sys.exit("q8_noise_band: error_budget's forward no longer matches gemma3_reference.py")
    m.quantize_inputs = True

    results = []
    for seed in range(args.draws + 1):
        m.rng, m.noise = np.random.default_rng(seed), (1e-6 if seed else 0.0)
        results.append(draw(m, fixture["prompts"], fixture["n_continue"]))
        print(json.dumps({"draw": seed, **{k: (round(v, 4) if isinstance(v, float) else v)
                                           for k, v in results[-1].items()}}), flush=True)
    print("over %d draws:          min  median     max    mean      sd" % len(results))
    for key in ("mean_abs", "mean_centered", "worst_centered", "worst_raw", "flips_above_0.25", "greedy_agreement"):
        v = [r[key] for r in results]
        print("%-18s %8.3f %7.3f %7.3f %7.3f %7.3f" % (key, min(v), statistics.median(v), max(v),
                                                      statistics.mean(v), statistics.stdev(v)))


if __name__ == "__main__":
    main()
