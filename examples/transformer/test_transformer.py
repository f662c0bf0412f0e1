"""The Transformer example through a live server: embeddings equal to in-process
ONNX Runtime on the same token ids, sentence similarities that make sense, and
the held-out docstring-pair AUC measured at build."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import common
import minilm

HERE = Path(__file__).resolve().parent
bm = common.load_module(HERE / "build_model.py", "transformer_build_model")
run = common.load_module(HERE / "run.py", "transformer_run")


@pytest.fixture(scope="module")
def built():
    return bm.build()


@pytest.fixture(scope="module")
def tok(built):
    return minilm.tokenizer(Path(built["tokenizer"]))


@pytest.fixture(scope="module")
def uploaded(owner, built):
    return common.upload(owner, run.MODEL, built["model"], built["model_sha256"])


def test_embeddings_equal_onnxruntime_and_make_sense(user, built, tok, uploaded):
    e = run.embed(user, tok, run.SENTENCES, uploaded.sha256)
    ref = common.ort_session(built["model"]).run(None, minilm.encode(tok, run.SENTENCES))[0]
    np.testing.assert_allclose(e, ref, rtol=0, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)
    sim = e @ e.T
    np.fill_diagonal(sim, -1)
    # Each sentence's nearest neighbour is its hand-written paraphrase (pairs 0-1, 2-3, 4-5).
    assert sim.argmax(1).tolist() == [1, 0, 3, 2, 5, 4]


def test_heldout_docstring_pairs(user, built, tok, uploaded):
    items = json.loads(Path(built["heldout"]).read_text())
    summaries = [x["summary"] for x in items]
    bodies = [x["body"] for x in items]
    s = run.embed(user, tok, summaries, uploaded.sha256)
    b = run.embed(user, tok, bodies, uploaded.sha256)
    # Same inputs, same batching as the build's in-process ONNX Runtime run.
    np.testing.assert_allclose(s, np.load(Path(built["model"]).parent / "summary_embeddings.npy"), atol=1e-5)
    np.testing.assert_allclose(b, np.load(Path(built["model"]).parent / "body_embeddings.npy"), atol=1e-5)
    neg = bm.pairs(len(items))
    pos, negs = (s * b).sum(1), (s * b[neg]).sum(1)
    # Measured at build: AUC 0.9502, pairwise accuracy 0.9608 on 613 docstrings.
    assert len(items) > 500
    assert bm.auc(pos, negs) >= 0.93
    assert (pos > negs).mean() >= 0.94
