"""Build the confidential search model: ONE ONNX graph that embeds the query
(pretrained all-MiniLM-L6-v2, int8 weights, see minilm_l6.py) and scores it against
the provider's collection, whose embedding matrix is an initializer of the
graph, with TopK inside: (input_ids, attention_mask) -> (doc_ids, scores) of
the best K=5 documents. The query embedding and the full score vector never
leave the TEE.

Collection: the docstrings of public functions, classes and methods of 113
Python standard-library modules (../minilm.py `stdlib_docstrings`, PSF
licence; ships with every CPython, nothing downloaded). Each document is the
docstring *without* its one-line summary; the summary is the query whose
known answer is that document (recall@k over all of them; nothing is trained,
so all queries are held out).

Usage: .venv/bin/python examples/semantic_search/build_model.py [--force]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
import common  # noqa: E402
import minilm  # noqa: E402  (the stdlib docstring collection and client-side `encode`)

enc6 = common.load_module(HERE / "minilm_l6.py", "semantic_search_minilm_l6")

SCENARIO = "semantic_search"
K = 5


def search_model(encoder, collection: np.ndarray):
    """Append scoring against ``collection`` [N, 384] (unit rows) and TopK to the encoder."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    g = encoder.graph
    g.initializer.extend([
        numpy_helper.from_array(np.ascontiguousarray(collection.T.astype(np.float32)), "collection_t"),
        numpy_helper.from_array(np.array([K], np.int64), "k"),
    ])
    g.node.extend([
        helper.make_node("MatMul", ["embedding", "collection_t"], ["all_scores"]),
        helper.make_node("TopK", ["all_scores", "k"], ["scores", "doc_ids"], axis=-1, largest=1, sorted=1),
    ])
    del g.output[:]
    g.output.extend([
        helper.make_tensor_value_info("doc_ids", TensorProto.INT64, ["batch", K]),
        helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", K]),
    ])
    onnx.checker.check_model(encoder)
    return encoder


def recall_at(top_ids: np.ndarray, k: int) -> float:
    """Queries are numbered like their answers: query i's answer is document i."""
    truth = np.arange(len(top_ids))[:, None]
    return float((top_ids[:, :k] == truth).any(1).mean())


def mrr(top_ids: np.ndarray) -> float:
    hit = top_ids == np.arange(len(top_ids))[:, None]
    ranks = np.where(hit.any(1), hit.argmax(1) + 1, np.inf)
    return float((1.0 / ranks).mean())


def search(run_fn, tok, queries, batch=64):
    ids, scores = [], []
    for i in range(0, len(queries), batch):
        out = run_fn(minilm.encode(tok, queries[i:i + batch]))
        ids.append(out["doc_ids"])
        scores.append(out["scores"])
    return np.concatenate(ids), np.concatenate(scores)


def build(force: bool = False) -> dict:
    out = common.build_dir(SCENARIO, Path(__file__), HERE / "minilm_l6.py", HERE.parent / "minilm.py")
    if not force and (m := common.cached(out)):
        return m
    t0 = time.time()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    src, tok_path = enc6.files(common.CACHE_ROOT / "minilm-l6-int8")
    shutil.copy(tok_path, out / "tokenizer.json")
    tok = enc6.tokenizer(out / "tokenizer.json")

    items = minilm.stdlib_docstrings()
    # 1. the provider embeds its collection (offline, once) with the same encoder
    enc_path = out / "encoder.onnx"
    enc_path.write_bytes(enc6.encoder_model(src).SerializeToString())
    enc = common.ort_session(enc_path)
    bodies = [x["body"] for x in items]
    collection = np.concatenate([enc.run(None, minilm.encode(tok, bodies[i:i + 64]))[0]
                                 for i in range(0, len(bodies), 64)])
    del enc
    enc_path.unlink()
    # 2. the search graph: encoder + collection matrix + TopK
    path = out / "semantic_search.onnx"
    path.write_bytes(search_model(enc6.encoder_model(src), collection).SerializeToString())

    # 3. held-out evaluation through the graph itself
    sess = common.ort_session(path)
    queries = [x["summary"] for x in items]
    top_ids, top_scores = search(lambda feed: dict(zip(["doc_ids", "scores"], sess.run(["doc_ids", "scores"], feed))),
                                 tok, queries)
    np.save(out / "heldout_top_ids.npy", top_ids)
    np.save(out / "heldout_top_scores.npy", top_scores)
    (out / "collection.json").write_text(json.dumps(items))
    metrics = {
        "documents": len(items),
        "queries": len(queries),
        "recall@1": round(recall_at(top_ids, 1), 4),
        "recall@5": round(recall_at(top_ids, 5), 4),
        "mrr@5": round(mrr(top_ids), 4),
    }
    manifest = {
        "scenario": SCENARIO,
        "model": str(path),
        "model_sha256": common.sha256_file(path),
        "model_bytes": path.stat().st_size,
        "tokenizer": str(out / "tokenizer.json"),
        "collection": str(out / "collection.json"),
        "k": K,
        "sources": enc6.SOURCES,
        "collection_source": f"docstrings of {len(minilm.STDLIB_MODULES)} Python {sys.version.split()[0]} "
                             "standard-library modules (PSF licence)",
        "metrics": metrics,
        "build_seconds": round(time.time() - t0, 1),
    }
    return common.finish(out, manifest)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--force", action="store_true", help="rebuild even if cached")
    print(json.dumps(build(force=ap.parse_args().force), indent=2))
