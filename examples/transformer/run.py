"""Confidential sentence embeddings: a MiniLM Transformer runs in Veil; the
user's sentences are tokenised locally and only encrypted token ids reach the
attested TEE; unit-norm embeddings come back.

    .venv/bin/python examples/transformer/run.py --start-server      # self-contained
    .venv/bin/python examples/transformer/run.py --url http://127.0.0.1:8443
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
import common  # noqa: E402
import minilm  # noqa: E402

bm = common.load_module(HERE / "build_model.py", "transformer_build_model")

MODEL = "minilm-encoder"

# Hand-written sentences: three pairs of paraphrases on unrelated topics.
SENTENCES = [
    "A man is playing a guitar on stage.",
    "Someone performs music with a stringed instrument.",
    "The central bank raised interest rates again.",
    "Borrowing money became more expensive after the bank's decision.",
    "My laptop will not turn on after the update.",
    "After installing the update, the computer fails to boot.",
]


def embed(client, tok, texts, sha256=None, batch=64) -> np.ndarray:
    """Client side: tokenise locally, send token ids + mask, get embeddings."""
    return np.concatenate([client.predict(MODEL, minilm.encode(tok, texts[i:i + batch]),
                                          expected_sha256=sha256)["embedding"]
                           for i in range(0, len(texts), batch)])


def main() -> None:
    args = common.argument_parser(__doc__.splitlines()[0]).parse_args()
    manifest = bm.build()
    tok = minilm.tokenizer(Path(manifest["tokenizer"]))
    print(f"model {manifest['model_sha256']} ({manifest['model_bytes'] / 1e6:.1f} MB): "
          "paraphrase-MiniLM-L3-v2 + mean pooling + L2 norm")
    with common.owner_and_user(args) as (owner, user):
        common.print_attestation(owner, "owner")
        t = time.time()
        info = common.upload(owner, MODEL, manifest["model"], manifest["model_sha256"])
        print(f"[owner] uploaded {MODEL} in {time.time() - t:.1f} s: "
              f"({', '.join(map(str, info.inputs))}) -> {info.outputs[0]}")

        common.print_attestation(user, "user")
        e = embed(user, tok, SENTENCES, info.sha256)
        sim = e @ e.T
        print("[user] cosine similarity of the embeddings returned by Veil:")
        for i, s in enumerate(SENTENCES):
            print(f"    [{i}] {s}")
        print("       " + "".join(f"{f'[{j}]':>8}" for j in range(len(SENTENCES))))
        for i in range(len(SENTENCES)):
            print(f"    [{i}]" + "".join(f"{sim[i, j]:8.3f}" for j in range(len(SENTENCES))))

        items = json.loads(Path(manifest["heldout"]).read_text())
        t = time.time()
        s = embed(user, tok, [x["summary"] for x in items], info.sha256)
        b = embed(user, tok, [x["body"] for x in items], info.sha256)
        neg = bm.pairs(len(items))
        pos, negs = (s * b).sum(1), (s * b[neg]).sum(1)
        print(f"[user] {len(items)} stdlib docstrings, summary vs own body / vs another body, "
              f"through Veil in {time.time() - t:.1f} s: ROC AUC {bm.auc(pos, negs):.4f}, "
              f"pairwise accuracy {(pos > negs).mean():.4f}")


if __name__ == "__main__":
    main()
