"""Confidential semantic search: the provider's collection (its embedding
matrix) lives inside the model in the TEE; the user's query is tokenised
locally, sent encrypted, embedded and matched inside the TEE, and only the
top-5 document ids and scores come back, encrypted.

    .venv/bin/python examples/semantic_search/run.py --start-server      # self-contained
    .venv/bin/python examples/semantic_search/run.py --url http://127.0.0.1:8443
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
import common  # noqa: E402

bm = common.load_module(HERE / "build_model.py", "semantic_search_build_model")
enc6 = common.load_module(HERE / "minilm_l6.py", "semantic_search_minilm_l6")

MODEL = "stdlib-search"

# Questions a user might type (no known answers: shown, not scored).
QUERIES = [
    "copy a file and keep its permissions",
    "wait for a child process and get its exit code",
    "parse a date string into a datetime",
    "compute the median of a list of numbers",
    "send an email over SMTP with authentication",
]


def search(client, tok, queries, sha256=None):
    return bm.search(lambda feed: client.predict(MODEL, feed, expected_sha256=sha256), tok, queries)


def main() -> None:
    args = common.argument_parser(__doc__.splitlines()[0]).parse_args()
    manifest = bm.build()
    tok = enc6.tokenizer(Path(manifest["tokenizer"]))
    docs = json.loads(Path(manifest["collection"]).read_text())
    print(f"model {manifest['model_sha256']} ({manifest['model_bytes'] / 1e6:.1f} MB): "
          f"all-MiniLM-L6-v2 (int8) query encoder + {len(docs)}-document embedding matrix + TopK({manifest['k']})")
    with common.owner_and_user(args) as (owner, user):
        common.print_attestation(owner, "provider")
        info = common.upload(owner, MODEL, manifest["model"], manifest["model_sha256"])
        print(f"[provider] uploaded {MODEL}: ({', '.join(map(str, info.inputs))}) -> "
              f"({', '.join(map(str, info.outputs))})")

        common.print_attestation(user, "user")
        ids, scores = search(user, tok, QUERIES, info.sha256)
        for q, row, sc in zip(QUERIES, ids, scores):
            print(f"[user] {q!r}")
            for i, s in zip(row, sc):
                print(f"    {s:.3f}  {docs[i]['name']}: {docs[i]['summary'][:70]}")

        t = time.time()
        ids, _ = search(user, tok, [d["summary"] for d in docs], info.sha256)
        print(f"[user] {len(docs)} queries with known answers (docstring summary -> rest of that "
              f"docstring) in {time.time() - t:.1f} s: recall@1 {bm.recall_at(ids, 1):.4f}, "
              f"recall@5 {bm.recall_at(ids, 5):.4f}, MRR@5 {bm.mrr(ids):.4f}")


if __name__ == "__main__":
    main()
