#!/usr/bin/env python3
"""Where the error of 8-bit activations enters Gemma 3: an error budget per operation, against float64.

The float64 forward of gemma3_reference.py is rerun with one source of error switched on at a time, then with
the combinations that make up pipeserve's default path and llama.cpp's CPU path, and each run's logits at the
last prompt position are compared with the unperturbed float64 run on llama.cpp's top-10 ids (the statistics of
GemmaAgainstFloat64Tests: mean and max |dlogit|, the top-1 logit's error, top-10 overlap), and its hidden state
after every layer with float64's (relative RMS error of the last token's row, averaged over prompts).

Sources of error, each as llama.cpp b11434 computes it on the CPU (ggml-quants.c, ggml-cpu/quants.c,
ggml-cpu/arch/x86/quants.c, ggml-cpu/ops.cpp, ggml-cpu/vec.h) or as pipeserve does (Sources/CKernels/quant_q8.c):
  act32      the input of Q4_0/Q5_0/Q8_0 products (Q, K, V, gate, up, head) as Q8_0: blocks of 32,
             d = amax/127, q = round(x * (1/d)) in [-127, 127]; ggml stores d in fp16 ("act32h"), pipeserve in f32
  act256     the input of K-quant products (attn_output, ffn_down) as Q8_K: blocks of 256, iscale = -127/max on the
             signed max, q = min(127, nearest(iscale * x)), d = 1/iscale (f32)
  act256@32  the same products with Q8_0-style blocks of 32 (a finer activation scale per weight sub-block)
  <op>       one op class only: qkv, wo, gateup, down, head
  kv16       K and V stored as f16 (llama.cpp's default KV cache)
  fa16       flash attention as ggml's CPU one_chunk kernel computes it with f16 K/V: Q rounded to f16 for the
             scores, the V accumulator kept in f16 (VKQ16) and rescaled in f16
  gelu16     GELU through ggml's f16 table (input rounded to f16, result an f16), as GGML_GELU_FP16 does
Scores, softmax, norms, RoPE and the embedding scale are the same functions in float64 in every run (both
implementations compute them in f32, whose rounding is 1e-7 relative: four orders below the terms above).

  python3 scripts/analysis/error_budget.py MODEL.gguf --reference gemma3_reference.py [--prompts a,b] [--runs x,y]
  PIPESERVE_DUMP_LAYERS=/tmp/layers.json swift test --filter LayerTraceDump   # pipeserve's own states, then
  python3 scripts/analysis/error_budget.py ... --swift-layers /tmp/layers.json   # scored beside the runs

Prints one table row per run (and the per-layer table with --layers); about 20 s to load and 15-40 s per run on
one idle core."""
import argparse, importlib.util, json, os, statistics, sys
import numpy as np
from gguf import GGUFReader

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../Tests/ModelRuntimeTests/Fixtures")
BLOCK32 = ("Q4_0", "Q5_0", "Q8_0")
OPS = ("qkv", "wo", "gateup", "down", "head")

# name -> (description, switches). A switch "act" maps op class -> activation scheme.
ALL32 = {op: "q8_0" for op in OPS}


def ops_scheme(k32, k256):
    return {"qkv": k32, "gateup": k32, "head": k32, "wo": k256, "down": k256}


RUNS = {
    "float64": ("no perturbation (must reproduce the fixture)", {}),
    "qkv": ("Q8_0 activations into Q, K, V only", {"act": {"qkv": "q8_0"}}),
    "wo": ("Q8_K activations into attn_output only", {"act": {"wo": "q8_k"}}),
    "gateup": ("Q8_0 activations into gate, up only", {"act": {"gateup": "q8_0"}}),
    "down": ("Q8_K activations into ffn_down only", {"act": {"down": "q8_k"}}),
    "head": ("Q8_0 activations into the output head only", {"act": {"head": "q8_0"}}),
    "wo@32": ("attn_output with blocks of 32 instead", {"act": {"wo": "q8_0"}}),
    "down@32": ("ffn_down with blocks of 32 instead", {"act": {"down": "q8_0"}}),
    "act32": ("all 32-block inputs (qkv, gateup, head), scale in f32", {"act": ops_scheme("q8_0", None)}),
    "act32h": ("the same with ggml's fp16 scale", {"act": ops_scheme("q8_0h", None)}),
    "kv16": ("f16 K/V cache only", {"kv16": True}),
    "fa16": ("ggml flash attention (f16 K/V, f16 Q, f16 V accumulator) only", {"kv16": True, "fa16": True}),
    "gelu16": ("GELU through the f16 table only", {"gelu16": True}),
    "pipeserve": ("pipeserve's default path: Q8_0 (f32 scale) and Q8_K activations", {"act": ops_scheme("q8_0", "q8_k")}),
    "pipeserve-p2": ("pipeserve after the fix: K-quant inputs with power-of-two scales per 32 (up to 2^6)",
                     {"act": ops_scheme("q8_0", "p2:32:6")}),
    "pipeserve-4": ("pipeserve now: 32-block inputs with a scale per 4, K-quant inputs power-of-two per 32",
                    {"act": {"qkv": "b4", "gateup": "b4", "head": "b4", "wo": "p2:32:6", "down": "p2:32:6"}}),
    "pipeserve-8": ("pipeserve as merged: 32-block inputs with a scale per 8, K-quant inputs power-of-two per 32",
                    {"act": {"qkv": "b8", "gateup": "b8", "head": "b8", "wo": "p2:32:6", "down": "p2:32:6"}}),
    "pipeserve-4-16": ("the same with K-quant power-of-two scales per 16",
                       {"act": {"qkv": "b4", "gateup": "b4", "head": "b4", "wo": "p2:16:6", "down": "p2:16:6"}}),
    "down@p2/16": ("ffn_down: power-of-two scales per 16 (up to 2^6)", {"act": {"down": "p2:16:6"}}),
    "pipeserve@32": ("the same with K-quant inputs in blocks of 32", {"act": ops_scheme("q8_0", "q8_0")}),
    "down@p2": ("ffn_down: 256-blocks with power-of-two scales per 32 (up to 2^7)", {"act": {"down": "p2:32:7"}}),
    "down@p2e3": ("ffn_down: the same, up to 2^3", {"act": {"down": "p2:32:3"}}),
    "qkv@8": ("Q, K, V with a scale per 8 elements", {"act": {"qkv": "b8"}}),
    "qkv@4": ("Q, K, V with a scale per 4 elements", {"act": {"qkv": "b4"}}),
    "gateup@4": ("gate, up with a scale per 4 elements", {"act": {"gateup": "b4"}}),
    "head@4": ("the head with a scale per 4 elements", {"act": {"head": "b4"}}),
    "fine-p2": ("32-block types per 4 elements (head per 32), K-quants power-of-two per 32",
                {"act": {"qkv": "b4", "gateup": "b4", "head": "q8_0", "wo": "p2:32:7", "down": "p2:32:7"}}),
    "fine-p2-head4": ("the same with the head per 4 too",
                      {"act": {"qkv": "b4", "gateup": "b4", "head": "b4", "wo": "p2:32:7", "down": "p2:32:7"}}),
    "fine8-p2": ("32-block types per 8 elements (head per 32), K-quants power-of-two per 32",
                 {"act": {"qkv": "b8", "gateup": "b8", "head": "q8_0", "wo": "p2:32:7", "down": "p2:32:7"}}),
    "llama.cpp": ("llama.cpp's CPU path: Q8_0 (fp16 scale), Q8_K, flash attention in f16, GELU table",
                  {"act": ops_scheme("q8_0h", "q8_k"), "kv16": True, "fa16": True, "gelu16": True}),
}


# ---- the error sources, in f32 as the implementations compute them --------------------------------------------

def f32(x):
    return np.asarray(x, dtype=np.float32)


def q8_0(x, fp16_scale):
    """Q8_0 activations (blocks of 32), dequantized: what the integer dot product multiplies by."""
    xb = f32(x).reshape(x.shape[0], -1, 32)
    amax = np.abs(xb).max(axis=2, keepdims=True)
    d = (amax / np.float32(127)).astype(np.float32)
    inv = np.where(d != 0, np.float32(1) / np.where(d != 0, d, 1), 0).astype(np.float32)
    q = np.clip(np.rint(xb * inv), -127, 127)  # rint: ties to even, as lrintf and _mm256_round_ps do
    if fp16_scale:
        d = d.astype(np.float16).astype(np.float32)
    return (q.astype(np.float64) * d.astype(np.float64)).reshape(x.shape)


def q8_k(x):
    """Q8_K activations (blocks of 256): iscale from the signed max, as quantize_row_q8_K_ref."""
    xb = f32(x).reshape(x.shape[0], -1, 256)
    idx = np.abs(xb).argmax(axis=2)[..., None]
    mx = np.take_along_axis(xb, idx, axis=2)
    iscale = np.where(mx != 0, np.float32(-127) / np.where(mx != 0, mx, 1), 0).astype(np.float32)
    q = np.minimum(127, np.rint((iscale * xb).astype(np.float32)))
    d = np.where(iscale != 0, np.float32(1) / np.where(iscale != 0, iscale, 1), 0).astype(np.float32)
    return (q.astype(np.float64) * d.astype(np.float64)).reshape(x.shape)


def q8_blocks(x, n):
    """8-bit activations with an f32 scale per n elements: ggml's Q8_0 at 32 (q8_noise_band.py takes 32 and 256,
    ggml's scheme without Q8_K's signed-max detail); n < 32 are the finer scales tried for the fix."""
    xb = f32(x).reshape(x.shape[0], -1, n)
    d = (np.abs(xb).max(axis=2, keepdims=True) / np.float32(127)).astype(np.float32)
    inv = np.where(d != 0, np.float32(1) / np.where(d != 0, d, 1), 0).astype(np.float32)
    q = np.clip(np.rint(xb * inv), -127, 127)
    return (q.astype(np.float64) * d.astype(np.float64)).reshape(x.shape)


def q8_pow2(x, sub, emax):
    """Blocks of 256 with d = amax/127, each sub-block of `sub` scaled finer by 2^e (e <= emax) as far as its own
    amax allows: q = round(x * 2^e / d), value q * d / 2^e. A power of two folds into integer weight scales."""
    xb = f32(x).reshape(x.shape[0], -1, 256 // sub, sub)
    amax = np.abs(xb).max(axis=(2, 3), keepdims=True)
    d = (amax / np.float32(127)).astype(np.float32)
    inv = np.where(d != 0, np.float32(1) / np.where(d != 0, d, 1), 0).astype(np.float32)
    sa = np.abs(xb).max(axis=3, keepdims=True)
    e = np.zeros(sa.shape)
    for t in range(1, emax + 1):
        e = np.where(sa * np.float32(2.0 ** t) <= amax, t, e)
    scale = (inv * np.float32(2.0) ** e.astype(np.float32)).astype(np.float32)
    q = np.clip(np.rint(xb * scale), -127, 127)
    return (q.astype(np.float64) * d.astype(np.float64) / 2.0 ** e).reshape(x.shape)


def activation(x, scheme):
    """scheme: None (exact), "q8_0" (blocks of 32), "q8_0h" (fp16 scale), "q8_k" (Q8_K), "bN" (f32 scale per N),
    "p2:SUB:E" (256-blocks, power-of-two sub-block scales)."""
    if scheme is None:
        return x
    if scheme == "q8_0":
        return q8_0(x, False)
    if scheme == "q8_0h":
        return q8_0(x, True)
    if scheme == "q8_k":
        return q8_k(x)
    if scheme.startswith("b"):
        return q8_blocks(x, int(scheme[1:]))
    if scheme.startswith("p2:"):
        _, sub, emax = scheme.split(":")
        return q8_pow2(x, int(sub), int(emax))
    raise ValueError(scheme)


def f16(x):
    return np.asarray(x, dtype=np.float64).astype(np.float16).astype(np.float64)


def budget_model(ref, types):
    class BudgetModel(ref.Model):
        """gemma3_reference.Model.forward, line for line, with every error source behind a switch."""
        sw = {}

        def mm(self, h, name, op):
            scheme = self.sw.get("act", {}).get(op)
            if scheme is not None and (scheme == "q8_k" or scheme.startswith("p2:")) and types[name] in BLOCK32:
                scheme = "q8_0"  # a 32-block weight type takes 32-blocks
            if types[name] in ("F32", "F16", "BF16"):
                scheme = None
            return activation(h, scheme) @ self.W[name].T

        def gelu(self, x):
            if self.sw.get("gelu16"):
                x = f16(x)
                return f16(ref.Model.gelu(x))
            return ref.Model.gelu(x)

        def attend(self, q, K, V, mask):
            """q (n, hd), K/V (t, hd) of one head: softmax(q K^T) V, float64 or ggml's f16 flash attention."""
            if not self.sw.get("fa16"):
                s = q @ K.T
                s = np.where(mask, s, -np.inf)
                s -= s.max(axis=1, keepdims=True)
                pr = np.exp(s)
                pr /= pr.sum(axis=1, keepdims=True)
                return pr @ V
            # ggml: scale is applied to the f16·f16 dot of the unscaled q; here q is already scaled (the reference
            # divides by sqrt(hd) before the scores): rounding q*scale or q to f16 differs only by the scale's
            # power-of-two part (sqrt(256) = 16), which f16 represents exactly.
            s = f16(q) @ K.T
            n, dv = q.shape[0], V.shape[1]
            acc, M, S = np.zeros((n, dv)), np.full(n, -np.inf), np.zeros(n)
            for j in range(K.shape[0]):  # keys in order, every query at once (online softmax as ggml runs it)
                a = mask[:, j]
                if not a.any():
                    continue
                sj = s[a, j]
                up = sj > M[a]
                ms = np.where(up, np.exp(np.where(up, M[a] - sj, 0.0)), 1.0)
                vs = np.where(up, 1.0, np.exp(sj - np.where(up, sj, M[a])))
                M[a] = np.where(up, sj, M[a])
                acc[a] = f16(f16(acc[a] * ms[:, None]) + V[j][None, :] * vs[:, None])
                S[a] = S[a] * ms + vs
            out = acc / S[:, None]
            return out

        def forward(self, toks, cache, trace=None):
            n, W, hd = len(toks), self.W, self.hd
            pos = np.arange(cache["n"], cache["n"] + n)
            x = self.E[toks] * np.sqrt(np.float64(self.n_embd))
            group = self.n_head // self.n_kv
            for il in range(self.n_layer):
                p = f"blk.{il}."
                h = self.rms(x, W[p + "attn_norm.weight"])
                q = self.mm(h, p + "attn_q.weight", "qkv").reshape(n, self.n_head, hd)
                k = self.mm(h, p + "attn_k.weight", "qkv").reshape(n, self.n_kv, hd)
                v = self.mm(h, p + "attn_v.weight", "qkv").reshape(n, self.n_kv, hd)
                q, k = self.rms(q, W[p + "attn_q_norm.weight"]), self.rms(k, W[p + "attn_k_norm.weight"])
                base = 10000.0 if self.is_local[il] else self.global_base
                q, k = self.rope(q, pos, base) / np.sqrt(hd), self.rope(k, pos, base)
                if self.sw.get("kv16"):
                    k, v = f16(k), f16(v)
                cache["k"][il] = np.concatenate([cache["k"][il], k])
                cache["v"][il] = np.concatenate([cache["v"][il], v])
                K, V = cache["k"][il], cache["v"][il]
                kpos = np.arange(K.shape[0])
                mask = kpos[None, :] <= pos[:, None]
                if self.is_local[il]:
                    mask &= (pos[:, None] - kpos[None, :]) < self.window
                out = np.empty((n, self.n_head, hd))
                for hh in range(self.n_head):
                    out[:, hh, :] = self.attend(q[:, hh, :], K[:, hh // group, :], V[:, hh // group, :], mask)
                o = self.mm(out.reshape(n, self.n_head * hd), p + "attn_output.weight", "wo")
                x = x + self.rms(o, W[p + "post_attention_norm.weight"])
                h = self.rms(x, W[p + "ffn_norm.weight"])
                a = self.gelu(self.mm(h, p + "ffn_gate.weight", "gateup")) * self.mm(h, p + "ffn_up.weight", "gateup")
                x = x + self.rms(self.mm(a, p + "ffn_down.weight", "down"), W[p + "post_ffw_norm.weight"])
                if trace is not None:
                    trace.append(x[-1].copy())
            cache["n"] += n
            return self.mm(self.rms(x[-1:], W["output_norm.weight"]), "token_embd.weight", "head")[0]

    return BudgetModel


# ---- scoring ------------------------------------------------------------------------------------------------------

def score(lg, p):
    """The statistics of GemmaAgainstFloat64Tests for one prompt's last-position logits `lg`."""
    d = np.array([lg[int(t)] - v for t, v in p["at_llamacpp_top10"]])
    top1 = int(p["top20"][0][0])
    ref10 = [int(t) for t, _ in p["top20"][:10]]
    ours10 = [int(t) for t in np.argsort(-lg, kind="stable")[:10]]
    return {"mean": float(np.abs(d).mean()), "max": float(np.abs(d).max()),
            "top1": abs(float(lg[top1]) - p["top20"][0][1]), "centered": float(np.abs(d - d.mean()).max()),
            "overlap": len(set(ref10) & set(ours10)), "top1_same": int(np.argmax(lg)) == top1}


def summarize(rows):
    return {"mean": statistics.mean(r["mean"] for r in rows), "max": max(r["max"] for r in rows),
            "top1": statistics.mean(r["top1"] for r in rows), "top1_max": max(r["top1"] for r in rows),
            "centered": statistics.mean(r["centered"] for r in rows),
            "overlap": statistics.mean(r["overlap"] for r in rows), "top1_same": sum(r["top1_same"] for r in rows)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--reference", required=True, help="path of gemma3_reference.py")
    ap.add_argument("--fixture", default=os.path.join(FIXTURES, "float64-gemma3-270m.json"))
    ap.add_argument("--prompts", default="", help="comma-separated prompt names (default: all of the fixture)")
    ap.add_argument("--runs", default=",".join(RUNS), help="comma-separated runs of: " + ", ".join(RUNS))
    ap.add_argument("--layers", action="store_true", help="also print the relative hidden-state error per layer")
    ap.add_argument("--swift-layers", help="pipeserve's per-layer states and logits, as the LayerTraceDump test writes them")
    ap.add_argument("--json-out", help="write the per-run summaries here")
    args = ap.parse_args()

    spec = importlib.util.spec_from_file_location("gemma3_reference", args.reference)
    ref = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ref)
    with open(args.fixture, encoding="utf-8") as f:
        fixture = json.load(f)
    prompts = fixture["prompts"]
    if args.prompts:
        wanted = args.prompts.split(",")
        prompts = [p for p in prompts if p["name"] in wanted]
    types = {t.name: t.tensor_type.name for t in GGUFReader(args.model).tensors}
    m = budget_model(ref, types)(*ref.load(args.model))

    # float64 hidden states per layer, the yardstick of the per-layer table.
    m.sw = {}
    base_traces = {}
    for p in prompts:
        trace = []
        lg = m.forward(np.array(p["prompt_tokens"]), m.new_cache(), trace)
        if max(abs(lg[int(t)] - v) for t, v in p["top20"]) > 1e-4:
            sys.exit("error_budget: the copied forward no longer matches the float64 fixture on %s" % p["name"])
        base_traces[p["name"]] = trace

    results = {}
    print("%-14s %7s %7s %7s %7s %7s %6s %5s  %s" % ("run", "mean|d|", "max|d|", "top1|d|", "top1max", "ctrmax",
                                                    "ovl10", "top1=", "what"))
    for name in [r for r in args.runs.split(",") if r]:
        desc, sw = RUNS[name]
        m.sw = sw
        rows, layer_err = [], []
        for p in prompts:
            trace = []
            lg = m.forward(np.array(p["prompt_tokens"]), m.new_cache(), trace)
            rows.append(score(lg, p))
            layer_err.append([float(np.linalg.norm(a - b) / np.linalg.norm(b)) for a, b in zip(trace, base_traces[p["name"]])])
        s = summarize(rows)
        s["layers"] = [statistics.mean(e[i] for e in layer_err) for i in range(len(layer_err[0]))]
        s["per_prompt"] = {p["name"]: r for p, r in zip(prompts, rows)}
        results[name] = s
        print("%-14s %7.3f %7.3f %7.3f %7.3f %7.3f %6.2f %2d/%-2d  %s" % (name, s["mean"], s["max"], s["top1"], s["top1_max"],
              s["centered"], s["overlap"], s["top1_same"], len(rows), desc), flush=True)

    if args.swift_layers:
        with open(args.swift_layers, encoding="utf-8") as f:
            dump = json.load(f)
        for label, per_prompt in dump.items():
            rows, layer_err = [], []
            for p in prompts:
                entry = per_prompt[p["name"]]
                lg = np.full(max(int(t) for t, _ in entry["logits"]) + 1, -np.inf)
                for t, v in entry["logits"]:
                    lg[int(t)] = v
                rows.append(score(lg, p))
                layer_err.append([float(np.linalg.norm(np.array(a) - b) / np.linalg.norm(b))
                                  for a, b in zip(entry["layers"], base_traces[p["name"]])])
            s = summarize(rows)
            s["layers"] = [statistics.mean(e[i] for e in layer_err) for i in range(len(layer_err[0]))]
            s["per_prompt"] = {p["name"]: r for p, r in zip(prompts, rows)}
            results["swift-" + label] = s
            print("%-14s %7.3f %7.3f %7.3f %7.3f %7.3f %6.2f %2d/%-2d  %s" % ("swift-" + label, s["mean"], s["max"], s["top1"],
                  s["top1_max"], s["centered"], s["overlap"], s["top1_same"], len(rows), "pipeserve's own forward"))

    if args.layers:
        runs = [r for r in results if "layers" in results[r]]
        print("\nrelative RMS error of the last token's hidden state after each layer (mean over prompts)")
        print("layer " + " ".join("%12s" % r[:12] for r in runs))
        for i in range(max(len(results[r]["layers"]) for r in runs)):
            print("%5d " % i + " ".join("%12.2e" % results[r]["layers"][i] if i < len(results[r]["layers"]) else "%12s" % "-"
                                        for r in runs))
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
