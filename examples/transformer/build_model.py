"""Build the sentence encoder: pretrained paraphrase-MiniLM-L3-v2 (ONNX, from a
pinned PyPI wheel) cut to its mean-pooled output + L2 normalisation in the
graph. Tokenisation stays on the client (BERT uncased WordPiece from a second
pinned wheel; see ../minilm.py for both sources, licences and SHA-256s).

Held-out evaluation (nothing is trained here, so all of it is held out): the
docstrings of Python standard-library functions/classes (../minilm.py,
`stdlib_docstrings`): does a docstring's one-line summary score higher against
its own body than against another, randomly paired body? Reported as ROC AUC
and pairwise accuracy.

Usage: .venv/bin/python examples/transformer/build_model.py [--force]
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
import minilm  # noqa: E402

SCENARIO = "transformer"
SEED = 0


def embed(sess, tok, texts, batch=64) -> np.ndarray:
    return np.concatenate([sess.run(None, minilm.encode(tok, texts[i:i + batch]))[0]
                           for i in range(0, len(texts), batch)])


def auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """ROC AUC = P(score of a positive pair > score of a negative pair)."""
    allv = np.concatenate([pos, neg])
    ranks = allv.argsort().argsort() + 1
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def pairs(n: int) -> np.ndarray:
    """A fixed derangement: the negative partner of item i."""
    rng = np.random.default_rng(SEED)
    perm = rng.permutation(n)
    return np.roll(perm, 1)[np.argsort(perm)]


def build(force: bool = False) -> dict:
    out = common.build_dir(SCENARIO, Path(__file__), HERE.parent / "minilm.py")
    if not force and (m := common.cached(out)):
        return m
    t0 = time.time()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    src, tok_path = minilm.files(common.CACHE_ROOT / "minilm")
    model = minilm.encoder_model(src)
    path = out / "minilm_encoder.onnx"
    path.write_bytes(model.SerializeToString())
    shutil.copy(tok_path, out / "tokenizer.json")

    items = minilm.stdlib_docstrings()
    (out / "heldout.json").write_text(json.dumps(items))
    sess, tok = common.ort_session(path), minilm.tokenizer(out / "tokenizer.json")
    s = embed(sess, tok, [x["summary"] for x in items])
    b = embed(sess, tok, [x["body"] for x in items])
    np.save(out / "summary_embeddings.npy", s)
    np.save(out / "body_embeddings.npy", b)
    neg = pairs(len(items))
    pos_scores = (s * b).sum(1)
    neg_scores = (s * b[neg]).sum(1)
    metrics = {
        "heldout_docstrings": len(items),
        "auc_summary_vs_own_body": round(auc(pos_scores, neg_scores), 4),
        "pairwise_accuracy": round(float((pos_scores > neg_scores).mean()), 4),
        "mean_cos_own": round(float(pos_scores.mean()), 4),
        "mean_cos_other": round(float(neg_scores.mean()), 4),
    }
    manifest = {
        "scenario": SCENARIO,
        "model": str(path),
        "model_sha256": common.sha256_file(path),
        "model_bytes": path.stat().st_size,
        "tokenizer": str(out / "tokenizer.json"),
        "heldout": str(out / "heldout.json"),
        "sources": minilm.SOURCES,
        "heldout_data": f"docstrings of {len(minilm.STDLIB_MODULES)} Python {sys.version.split()[0]} "
                        "standard-library modules (PSF licence)",
        "metrics": metrics,
        "build_seconds": round(time.time() - t0, 1),
    }
    return common.finish(out, manifest)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--force", action="store_true", help="rebuild even if cached")
    print(json.dumps(build(force=ap.parse_args().force), indent=2))
