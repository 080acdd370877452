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

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../Tests/ModelRuntimeTests/Fixtures")
BLOCK32 = ("Q4_0", "Q5_0", "Q8_0")


def quantize(x, block, rng, noise):
    """x (rows, k) -> the dequantized 8-bit activations, as ggml's Q8_0/Q8_K would hold them."""
    x = np.asarray(x, dtype=np.float64)
    if noise:
        x = x * (1 + noise * rng.standard_normal(x.shape))
    xb = x.astype(np.float32).reshape(x.shape[0], -1, block)
    d = (np.abs(xb).max(axis=2, keepdims=True) / np.float32(127)).astype(np.float32)
    inv = np.where(d != 0, np.float32(1) / np.where(d != 0, d, 1), 0).astype(np.float32)
    q = np.clip(np.rint(xb * inv), -127, 127)
    return (q.astype(np.float64) * d.astype(np.float64)).reshape(x.shape)


def quantized_model(ref, types):
    class Q8Model(ref.Model):
        """gemma3_reference.Model.forward, line for line, with every weight product through mm()."""
        quantize_inputs, rng, noise = True, None, 0.0  # not "eps": the reference uses it for RMSNorm

        def mm(self, h, name):
            if self.quantize_inputs:
                h = quantize(h, 32 if types[name] in BLOCK32 else 256, self.rng, self.noise)
            return h @ self.W[name].T

        def forward(self, toks, cache, trace=None):
            n, W, hd = len(toks), self.W, self.hd
            pos = np.arange(cache["n"], cache["n"] + n)
            x = self.E[toks] * np.sqrt(np.float64(self.n_embd))
            group = self.n_head // self.n_kv
            for il in range(self.n_layer):
                p = f"blk.{il}."
                h = self.rms(x, W[p + "attn_norm.weight"])
                q = self.mm(h, p + "attn_q.weight").reshape(n, self.n_head, hd)
                k = self.mm(h, p + "attn_k.weight").reshape(n, self.n_kv, hd)
                v = self.mm(h, p + "attn_v.weight").reshape(n, self.n_kv, hd)
                q, k = self.rms(q, W[p + "attn_q_norm.weight"]), self.rms(k, W[p + "attn_k_norm.weight"])
                base = 10000.0 if self.is_local[il] else self.global_base
                q, k = self.rope(q, pos, base) / np.sqrt(hd), self.rope(k, pos, base)
                cache["k"][il] = np.concatenate([cache["k"][il], k])
                cache["v"][il] = np.concatenate([cache["v"][il], v])
                K, V = cache["k"][il], cache["v"][il]
                kpos = np.arange(K.shape[0])
                mask = kpos[None, :] <= pos[:, None]
                if self.is_local[il]:
                    mask &= (pos[:, None] - kpos[None, :]) < self.window
                out = np.empty((n, self.n_head, hd))
                for hh in range(self.n_head):
                    s = q[:, hh, :] @ K[:, hh // group, :].T
                    s = np.where(mask, s, -np.inf)
                    s -= s.max(axis=1, keepdims=True)
                    pr = np.exp(s)
                    pr /= pr.sum(axis=1, keepdims=True)
                    out[:, hh, :] = pr @ V[:, hh // group, :]
                o = self.mm(out.reshape(n, self.n_head * hd), p + "attn_output.weight")
                x = x + self.rms(o, W[p + "post_attention_norm.weight"])
                h = self.rms(x, W[p + "ffn_norm.weight"])
                a = self.gelu(self.mm(h, p + "ffn_gate.weight")) * self.mm(h, p + "ffn_up.weight")
                x = x + self.rms(self.mm(a, p + "ffn_down.weight"), W[p + "post_ffw_norm.weight"])
            cache["n"] += n
            return self.mm(self.rms(x[-1:], W["output_norm.weight"]), "token_embd.weight")[0]  # tied output embedding

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

    # The copied forward must be the reference's: without quantization it reproduces the fixture.
    m.quantize_inputs = False
    p0 = fixture["prompts"][0]
    lg = m.forward(np.array(p0["prompt_tokens"]), m.new_cache())
    if max(abs(lg[int(t)] - v) for t, v in p0["top20"]) > 1e-4:
        sys.exit("q8_noise_band: the copied forward no longer matches gemma3_reference.py")
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
