"""Confidential spam filtering: the mail provider's classifier runs in Veil;
the user's emails go in encrypted to the attested TEE and only a verdict comes out.

    .venv/bin/python examples/spam_email/run.py --start-server      # self-contained
    .venv/bin/python examples/spam_email/run.py --url http://127.0.0.1:8443
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

bm = common.load_module(HERE / "build_model.py", "spam_email_build_model")

MODEL = "spam-email"


def classify(client, texts, sha256=None, batch=32):
    """Client side: tokenise + hash locally, send only bucket ids, get verdicts."""
    probs, flags = [], []
    for i in range(0, len(texts), batch):
        out = client.predict(MODEL, {"token_ids": bm.featurize(texts[i:i + batch])},
                             expected_sha256=sha256)
        probs.append(out["spam_probability"])
        flags.append(out["is_spam"])
    return np.concatenate(probs), np.concatenate(flags)


def main() -> None:
    args = common.argument_parser(__doc__.splitlines()[0]).parse_args()
    manifest = bm.build()
    print(f"model {manifest['model_sha256']} ({manifest['model_bytes']} bytes), "
          f"trained on {manifest['data']['train']} SpamAssassin emails")
    held = json.loads(Path(manifest["heldout"]).read_text())
    with common.owner_and_user(args) as (owner, user):
        common.print_attestation(owner, "owner")
        info = common.upload(owner, MODEL, manifest["model"], manifest["model_sha256"])
        print(f"[owner] uploaded {MODEL}: {info.inputs[0]} -> {', '.join(map(str, info.outputs))}")

        common.print_attestation(user, "user")
        # The end user classifies a few emails from the held-out set (never seen in training).
        picks = [0, 1, 2, 3, 4, 5]
        probs, flags = classify(user, [held["texts"][i] for i in picks], info.sha256)
        print("[user] verdicts (email id in the public corpus, true label, P(spam)):")
        for i, p, f in zip(picks, probs, flags):
            truth = "spam" if held["labels"][i] else "ham"
            print(f"    {held['keys'][i]:<52} {truth:<4} -> {'SPAM' if f else 'ham ':<4} p={p:.3f}")

        t = time.time()
        probs, flags = classify(user, held["texts"], info.sha256)
        y = np.array(held["labels"])
        acc = float((flags.astype(int) == y).mean())
        tp = int(((flags == 1) & (y == 1)).sum())
        f1 = 2 * tp / (int(flags.sum()) + int(y.sum()))
        print(f"[user] all {len(y)} held-out emails through Veil in {time.time() - t:.1f} s: "
              f"accuracy {acc:.4f}, spam F1 {f1:.4f}")


if __name__ == "__main__":
    main()
