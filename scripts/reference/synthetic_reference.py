#!/usr/bin/env python3
"""Independent float64 forward pass for pipeserve's synthetic Llama, Qwen2 and Gemma 3 models.

Reads the GGUF file with the `gguf` package (not our reader), dequantizes with gguf.quants, and
runs the architecture as llama.cpp defines it: Llama = RMSNorm pre-norm, RoPE on interleaved pairs
(2i, 2i+1), SwiGLU; Qwen2 = Llama + Q/K/V biases + NeoX RoPE (halves); Gemma 3 = QK-norm, four
norms, GELU-tanh, sqrt(n_embd) embedding scale, sliding window on layers il % 6 < 5 with RoPE base
10 000 there. Prints JSON: for each prompt, the logits at every position.

  python3 synthetic_reference.py MODEL.gguf --prompts "1,5,9;1,300,301,302"
"""
import argparse, json, hashlib, sys
import numpy as np
from gguf import GGUFReader
from gguf.quants import dequantize


def load(path):
    r = GGUFReader(path)
    meta = {k: f.contents() for k, f in r.fields.items() if not k.startswith("tokenizer.")}
    W = {}
    for t in r.tensors:
        a = np.asarray(dequantize(t.data, t.tensor_type), dtype=np.float64)
        W[t.name] = a.reshape([int(x) for x in reversed(list(t.shape))]) if len(t.shape) > 1 else a.reshape(-1)
    return meta, W


def rms(x, w, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def rope(x, pos, base, neox):
    hd = x.shape[-1]
    half = hd // 2
    inv = base ** (-np.arange(0, half, dtype=np.float64) * 2.0 / hd)
    ang = pos[:, None].astype(np.float64) * inv[None, :]
    c, s = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
    if neox:
        x1, x2 = x[..., :half], x[..., half:]
        return np.concatenate([x1 * c - x2 * s, x2 * c + x1 * s], axis=-1)
    x1, x2 = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2] = x1 * c - x2 * s
    out[..., 1::2] = x2 * c + x1 * s
    return out


def forward(meta, W, toks):
    a = meta["general.architecture"]
    g = lambda k, d=None: meta.get(f"{a}.{k}", d)
    E, H, KV = g("embedding_length"), g("attention.head_count"), g("attention.head_count_kv")
    hd, L, eps = g("attention.key_length"), g("block_count"), g("attention.layer_norm_rms_epsilon")
    base = g("rope.freq_base", 10000.0)
    n = len(toks)
    pos = np.arange(n)
    x = W["token_embd.weight"][toks].copy()
    if a == "gemma3":
        x *= np.sqrt(np.float64(E))
    group = H // KV
    for il in range(L):
        p = f"blk.{il}."
        h = rms(x, W[p + "attn_norm.weight"], eps)
        q = h @ W[p + "attn_q.weight"].T
        k = h @ W[p + "attn_k.weight"].T
        v = h @ W[p + "attn_v.weight"].T
        if a == "qwen2":
            q, k, v = q + W[p + "attn_q.bias"], k + W[p + "attn_k.bias"], v + W[p + "attn_v.bias"]
        q, k, v = q.reshape(n, H, hd), k.reshape(n, KV, hd), v.reshape(n, KV, hd)
        local = a == "gemma3" and il % 6 < 5
        if a == "gemma3":
            q, k = rms(q, W[p + "attn_q_norm.weight"], eps), rms(k, W[p + "attn_k_norm.weight"], eps)
        b = 10000.0 if local else base
        neox = a in ("qwen2", "gemma3")
        q, k = rope(q, pos, b, neox), rope(k, pos, b, neox)
        mask = pos[None, :] <= pos[:, None]
        if local:
            mask &= (pos[:, None] - pos[None, :]) < g("attention.sliding_window")
        out = np.empty((n, H, hd))
        for hh in range(H):
            s = (q[:, hh, :] @ k[:, hh // group, :].T) / np.sqrt(hd)
            s = np.where(mask, s, -np.inf)
            s -= s.max(axis=1, keepdims=True)
            pr = np.exp(s)
            pr /= pr.sum(axis=1, keepdims=True)
            out[:, hh, :] = pr @ v[:, hh // group, :]
        o = out.reshape(n, H * hd) @ W[p + "attn_output.weight"].T
        if a == "gemma3":
            o = rms(o, W[p + "post_attention_norm.weight"], eps)
        x = x + o
        h = rms(x, W[p + "ffn_norm.weight"], eps)
        gt, up = h @ W[p + "ffn_gate.weight"].T, h @ W[p + "ffn_up.weight"].T
        if a == "gemma3":
            act = 0.5 * gt * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (gt + 0.044715 * gt ** 3)))
        else:
            act = gt / (1.0 + np.exp(-gt))
        d = (act * up) @ W[p + "ffn_down.weight"].T
        if a == "gemma3":
            d = rms(d, W[p + "post_ffw_norm.weight"], eps)
        x = x + d
    head = W.get("output.weight", W["token_embd.weight"])
    return rms(x, W["output_norm.weight"], eps) @ head.T


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--prompts", required=True, help="token id lists separated by ';'")
    args = ap.parse_args()
    meta, W = load(args.model)
    data = open(args.model, "rb").read()
    fnv = 0xCBF29CE484222325
    for byte in data:
        fnv = ((fnv ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    result = {"model_sha256": hashlib.sha256(data).hexdigest(), "model_fnv1a64": f"{fnv:016x}", "model_bytes": len(data), "architecture": meta["general.architecture"], "prompts": []}
    for spec in args.prompts.split(";"):
        toks = np.array([int(t) for t in spec.split(",")])
        lg = forward(meta, W, toks)
        result["prompts"].append({"tokens": toks.tolist(), "logits": [[round(float(v), 6) for v in row] for row in lg]})
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
