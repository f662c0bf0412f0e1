"""Private biometric verification with a Siamese network: enrolment and
verification both run in Veil; the biometric samples and templates travel
only encrypted to the attested TEE, and the relying service sees only
match / score.

    .venv/bin/python examples/siamese_biometric/run.py --start-server      # self-contained
    .venv/bin/python examples/siamese_biometric/run.py --url http://127.0.0.1:8443
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
import common  # noqa: E402

bm = common.load_module(HERE / "build_model.py", "siamese_biometric_build_model")

ENROL, VERIFY = "siamese-enrol", "siamese-verify"


def enrol(client, images, sha256=None) -> np.ndarray:
    """images [n, 64] of one identity -> template [1, 128], computed in the TEE."""
    return client.predict(ENROL, {"images": images.astype(np.float32)}, expected_sha256=sha256)["template"]


def verify(client, probes, templates, sha256=None, batch=4096):
    scores, matches = [], []
    for i in range(0, len(probes), batch):
        out = client.predict(VERIFY, {"probe": probes[i:i + batch].astype(np.float32),
                                      "template": templates[i:i + batch].astype(np.float32)},
                             expected_sha256=sha256)
        scores.append(out["score"])
        matches.append(out["match"])
    return np.concatenate(scores), np.concatenate(matches)


def main() -> None:
    args = common.argument_parser(__doc__.splitlines()[0]).parse_args()
    manifest = bm.build()
    held = np.load(manifest["heldout"])
    print(f"enrol {manifest['enrol_sha256'][:16]}…, verify {manifest['verify_sha256'][:16]}… "
          f"(threshold cos >= {manifest['metrics']['threshold_cosine']})")
    with common.owner_and_user(args) as (owner, user):
        common.print_attestation(owner, "operator")
        e_info = common.upload(owner, ENROL, manifest["enrol_model"], manifest["enrol_sha256"])
        v_info = common.upload(owner, VERIFY, manifest["verify_model"], manifest["verify_sha256"])
        print(f"[operator] uploaded {ENROL} {e_info.inputs[0]} -> {e_info.outputs[0]}")
        print(f"[operator] uploaded {VERIFY} ({', '.join(map(str, v_info.inputs))}) -> "
              f"({', '.join(map(str, v_info.outputs))})")

        common.print_attestation(user, "user")
        pixels, labels = held["pixels"], held["labels"]
        rng = np.random.default_rng(7)
        # Alice (identity 7, never seen in training) enrols with 3 samples.
        alice = rng.choice(np.flatnonzero(labels == 7), 4, replace=False)
        template = enrol(user, pixels[alice[:3]], e_info.sha256)
        print("[user] enrolled identity 7 with 3 samples; template computed in the TEE")
        mallory = rng.choice(np.flatnonzero(labels == 9), 1)
        for who, ix in (("identity 7 (genuine, new sample)", alice[3:]), ("identity 9 (impostor)", mallory)):
            s, m = verify(user, pixels[ix], template, v_info.sha256)
            print(f"[relying service] probe from {who}: match={bool(m[0])} score={s[0]:.3f}")

        s, m = verify(user, pixels[held["probe"]], held["templates"][held["tmpl"]], v_info.sha256)
        g = held["genuine"]
        print(f"[user] held-out identities {manifest['metrics']['heldout_identities']}: "
              f"{int(g.sum())} genuine / {int((~g).sum())} impostor trials through Veil: "
              f"FAR {m[~g].mean():.4f}, FRR {(~m[g]).mean():.4f}")


if __name__ == "__main__":
    main()
