"""Build the Siamese verification models: a small embedding network trained in
numpy on scikit-learn's bundled handwritten digits, fused with a fixed
raw-pixel branch, exported with the `onnx` helper as two graphs:

* enrol.onnx:  images float32[n, 64] (8x8 pixels, 0..16) -> template float32[1, 128]
               (mean of the n embeddings, re-normalised)
* verify.onnx: probe float32[b, 64], template float32[b, 128] ->
               score float32[b] (cosine), match bool[b] (score >= threshold)

The embedding of an image x (pixels 0..16), all inside both graphs:
  xc    = x - mu                               (mu: mean training image)
  tower = L2norm(W2 relu(W1 xc/16 + b1) + b2)  (64 -> 512 -> 64, trained)
  raw   = L2norm(xc)                           (fixed: mean-centred pixels)
  emb   = L2norm(concat(1.5 tower, raw))       (cosine = 0.69 tower cosine + 0.31 raw)

Data: `sklearn.datasets.load_digits()` — 1,797 real 8x8 handwritten digits
(the test set of UCI "Optical Recognition of Handwritten Digits", bundled in
scikit-learn, BSD-3-Clause; data CC BY 4.0). It stands in for faces: no
identity-labelled face set ships offline. Each digit class plays one
"identity". Classes 0-5 train the network (85 %) and set the threshold (15 %
validation, equal-error point); classes 6-9 are held out entirely: FAR/FRR
are measured on identities the network never saw.

Usage: .venv/bin/python examples/siamese_biometric/build_model.py [--force]
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

SCENARIO = "siamese_biometric"
SEED = 0
TRAIN_CLASSES = [0, 1, 2, 3, 4, 5]
HELDOUT_CLASSES = [6, 7, 8, 9]
HIDDEN, TOWER_DIM = 512, 64
TOWER_WEIGHT = 1.5  # the tower's share of the fused cosine: 1.5^2 / (1.5^2 + 1) = 0.69
DIM = TOWER_DIM + 64  # tower embedding + mean-centred raw pixels
STEPS, BATCH, LR, TAU, BETA = 1500, 128, 2e-3, 0.2, 0.3
VIEWS = 16  # augmented views per training image, drawn once
ENROL_IMAGES = 3  # images per enrolment
ENROLMENTS = 10  # random enrolments per held-out identity
OPSET = 17


# --------------------------------------------------------------------------- numpy network

def l2n(z):
    return z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)


def forward(p, xs):
    """The trained tower on centred, scaled pixels xs = (x - mu) / 16."""
    h = np.maximum(xs @ p["w1"] + p["b1"], 0)
    z = h @ p["w2"] + p["b2"]
    n = np.linalg.norm(z, axis=1, keepdims=True)
    return h, z, n, z / n


def embed(p, pixels, parts=("tower", "raw")):
    """The graph's embedding in numpy; parts=("tower",) or ("raw",) for the ablations."""
    xc = pixels.astype(np.float32) - p["mu"]
    feats = {"tower": forward(p, xc / 16.0)[3] * (TOWER_WEIGHT if len(parts) > 1 else 1), "raw": l2n(xc)}
    return l2n(np.concatenate([feats[k] for k in parts], 1))


def augment_views(pixels, views, rng):
    """`views` random distortions of each image, the nuisance a new "capture"
    of the same sample may have: rotation up to 15 degrees, scale +-10 %,
    shear up to 0.15, shift up to 1 pixel (bilinear), and with probability 0.3
    thicker or thinner strokes (half-blend with a 2x2 grey dilation/erosion)."""
    from scipy.ndimage import affine_transform, grey_dilation, grey_erosion

    img = pixels.reshape(-1, 8, 8)
    out = np.empty((views, len(img), 8, 8), np.float32)
    c = np.array([3.5, 3.5])
    for k in range(views):
        for i in range(len(img)):
            a = np.deg2rad(rng.uniform(-15, 15))
            s = 1 + rng.uniform(-0.1, 0.1)
            sh = rng.uniform(-0.15, 0.15)
            A = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]) @ np.array([[1, sh], [0, 1]]) / s
            im = affine_transform(img[i], A, offset=c - A @ c - rng.uniform(-1, 1, 2), order=1, mode="constant")
            u = rng.random()
            if u < 0.15:
                im = 0.5 * (im + grey_dilation(im, size=(2, 2)))
            elif u < 0.3:
                im = 0.5 * (im + grey_erosion(im, size=(2, 2)))
            out[k, i] = im
    return np.clip(out, 0, 16).reshape(views, -1, 64)


def train(x, y, rng):
    """Siamese training, one shared tower for every image of the batch.

    Each step takes BATCH images and two augmented captures of each (two
    random views, plus Gaussian noise sigma 1 of 16). The loss is a softmax
    over cosine similarities (temperature TAU) of each capture against the
    other 2*BATCH - 1: mostly (1 - BETA) instance-level (the other capture of
    the same image is the match, every other capture a non-match: hardest
    negatives weigh most), plus BETA class-level (any capture of the same
    identity is a match). Pure class-level training learns the six training
    digits and transfers worse to unseen ones; pure instance-level learns
    generic invariance but separates identities less."""
    mu = x.mean(0).astype(np.float32)
    bank = augment_views(x, VIEWS, rng)
    p = {"w1": rng.normal(0, np.sqrt(2 / 64), (64, HIDDEN)).astype(np.float32),
         "b1": np.zeros(HIDDEN, np.float32),
         "w2": rng.normal(0, np.sqrt(2 / HIDDEN), (HIDDEN, TOWER_DIM)).astype(np.float32),
         "b2": np.zeros(TOWER_DIM, np.float32)}
    m = {k: np.zeros_like(v) for k, v in p.items()}
    v = {k: np.zeros_like(v) for k, v in p.items()}
    b1, b2, eps = 0.9, 0.999, 1e-8
    M = 2 * BATCH
    diag = np.eye(M, dtype=bool)
    other = np.concatenate([np.arange(BATCH, M), np.arange(BATCH)])
    for step in range(1, STEPS + 1):
        idx = rng.choice(len(x), BATCH, replace=False)
        xb = np.concatenate([bank[rng.integers(0, VIEWS, BATCH), idx], bank[rng.integers(0, VIEWS, BATCH), idx]])
        xb = np.clip(xb + rng.normal(0, 1.0, xb.shape), 0, 16).astype(np.float32)
        xs = (xb - mu) / 16.0
        h, z, n, e = forward(p, xs)
        s = e @ e.T / TAU
        s[diag] = -1e9
        s -= s.max(1, keepdims=True)
        P = np.exp(s)
        P /= P.sum(1, keepdims=True)
        target = np.zeros_like(P)
        target[np.arange(M), other] = 1 - BETA
        yy = np.concatenate([y[idx], y[idx]])
        same = (yy[:, None] == yy[None, :]) & ~diag
        target += BETA * same / same.sum(1, keepdims=True)
        g = (P - target) / (M * TAU)
        de = (g + g.T) @ e
        dz = (de - e * (de * e).sum(1, keepdims=True)) / n
        dh = (dz @ p["w2"].T) * (h > 0)
        grads = {"w2": h.T @ dz, "b2": dz.sum(0), "w1": xs.T @ dh, "b1": dh.sum(0)}
        lr = LR * 0.5 * (1 + np.cos(np.pi * step / STEPS))  # cosine decay
        for k in p:
            m[k] = b1 * m[k] + (1 - b1) * grads[k]
            v[k] = b2 * v[k] + (1 - b2) * grads[k] ** 2
            p[k] -= (lr * (m[k] / (1 - b1 ** step)) / (np.sqrt(v[k] / (1 - b2 ** step)) + eps)).astype(np.float32)
    p["mu"] = mu
    return p


# --------------------------------------------------------------------------- protocol

def trials(pixels, labels, rng):
    """Enrolments and probes: for each identity, ENROLMENTS random sets of
    ENROL_IMAGES images; every image not in that set is a probe (genuine if the
    same identity, impostor otherwise). Returns (enrol_sets, probe_index,
    template_index, genuine)."""
    sets, owners = [], []
    for c in np.unique(labels):
        ix = np.flatnonzero(labels == c)
        for _ in range(ENROLMENTS):
            sets.append(rng.choice(ix, ENROL_IMAGES, replace=False))
            owners.append(c)
    probe, tmpl, genuine = [], [], []
    for t, (s, c) in enumerate(zip(sets, owners)):
        ok = np.setdiff1d(np.arange(len(labels)), s)
        probe.append(ok)
        tmpl.append(np.full(len(ok), t))
        genuine.append(labels[ok] == c)
    return (np.array(sets), np.concatenate(probe), np.concatenate(tmpl), np.concatenate(genuine))


def templates_np(p, pixels, sets, parts=("tower", "raw")):
    return l2n(np.stack([embed(p, pixels[s], parts).mean(0) for s in sets]))


def far_frr(scores, genuine, threshold):
    match = scores >= threshold
    return float(match[~genuine].mean()), float((~match[genuine]).mean())


def eer_threshold(scores, genuine):
    """The lowest score threshold where |FAR - FRR| is smallest."""
    cands = np.unique(scores)
    gs, im = np.sort(scores[genuine]), np.sort(scores[~genuine])
    frr = np.searchsorted(gs, cands, side="left") / len(gs)
    far = 1 - np.searchsorted(im, cands, side="left") / len(im)
    return float(cands[np.argmin(np.abs(far - frr))])


def eer(scores, genuine):
    return float(np.mean(far_frr(scores, genuine, eer_threshold(scores, genuine))))


def roc_auc(scores, genuine):
    """P(genuine score > impostor score), ties counted half (Mann-Whitney)."""
    from scipy.stats import rankdata

    r = rankdata(scores)
    ng, ni = int(genuine.sum()), int((~genuine).sum())
    return float((r[genuine].sum() - ng * (ng + 1) / 2) / (ng * ni))


def score_np(p, pixels, trial, parts=("tower", "raw")):
    sets, probe, tmpl, _ = trial
    return (embed(p, pixels[probe], parts) * templates_np(p, pixels, sets, parts)[tmpl]).sum(1)


# --------------------------------------------------------------------------- ONNX

def _l2n_nodes(helper, inp, out):
    return [helper.make_node("ReduceL2", [inp], [f"{out}_n"], axes=[1], keepdims=1),
            helper.make_node("Max", [f"{out}_n", "eps"], [f"{out}_ns"]),
            helper.make_node("Div", [inp, f"{out}_ns"], [out])]


def _embed_nodes(helper, inp, out):
    """emb = L2norm(concat(TOWER_WEIGHT * L2norm(tower((x - mu) / 16)), L2norm(x - mu)))"""
    return [
        helper.make_node("Sub", [inp, "mu"], [f"{out}_xc"]),
        helper.make_node("Mul", [f"{out}_xc", "pixel_scale"], [f"{out}_x"]),
        helper.make_node("MatMul", [f"{out}_x", "w1"], [f"{out}_h0"]),
        helper.make_node("Add", [f"{out}_h0", "b1"], [f"{out}_h1"]),
        helper.make_node("Relu", [f"{out}_h1"], [f"{out}_h"]),
        helper.make_node("MatMul", [f"{out}_h", "w2"], [f"{out}_z0"]),
        helper.make_node("Add", [f"{out}_z0", "b2"], [f"{out}_z"]),
        *_l2n_nodes(helper, f"{out}_z", f"{out}_tower"),
        *_l2n_nodes(helper, f"{out}_xc", f"{out}_raw"),
        helper.make_node("Mul", [f"{out}_tower", "tower_weight"], [f"{out}_towerw"]),
        helper.make_node("Concat", [f"{out}_towerw", f"{out}_raw"], [f"{out}_cat"], axis=1),
        *_l2n_nodes(helper, f"{out}_cat", out),
    ]


def _inits(p, numpy_helper, threshold=None):
    inits = [numpy_helper.from_array(p[k].astype(np.float32), k) for k in ("mu", "w1", "b1", "w2", "b2")]
    inits += [numpy_helper.from_array(np.array(1 / 16, np.float32), "pixel_scale"),
              numpy_helper.from_array(np.array(1e-12, np.float32), "eps"),
              numpy_helper.from_array(np.array(TOWER_WEIGHT, np.float32), "tower_weight")]
    if threshold is not None:
        inits.append(numpy_helper.from_array(np.array(threshold, np.float32), "threshold"))
    return inits


def enrol_model(p):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes = _embed_nodes(helper, "images", "emb") + [
        helper.make_node("ReduceMean", ["emb"], ["mean"], axes=[0], keepdims=1),
        *_l2n_nodes(helper, "mean", "template"),
    ]
    g = helper.make_graph(nodes, "siamese_enrol",
                          [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["n", 64])],
                          [helper.make_tensor_value_info("template", TensorProto.FLOAT, [1, DIM])],
                          _inits(p, numpy_helper))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="veil-examples/siamese")
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


def verify_model(p, threshold):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes = _embed_nodes(helper, "probe", "pe") + [
        *_l2n_nodes(helper, "template", "t"),
        helper.make_node("Mul", ["pe", "t"], ["prod"]),
        helper.make_node("ReduceSum", ["prod", "axis1"], ["score"], keepdims=0),
        helper.make_node("GreaterOrEqual", ["score", "threshold"], ["match"]),
    ]
    inits = _inits(p, numpy_helper, threshold) + [numpy_helper.from_array(np.array([1], np.int64), "axis1")]
    g = helper.make_graph(nodes, "siamese_verify",
                          [helper.make_tensor_value_info("probe", TensorProto.FLOAT, ["b", 64]),
                           helper.make_tensor_value_info("template", TensorProto.FLOAT, ["b", DIM])],
                          [helper.make_tensor_value_info("score", TensorProto.FLOAT, ["b"]),
                           helper.make_tensor_value_info("match", TensorProto.BOOL, ["b"])],
                          inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="veil-examples/siamese")
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


# --------------------------------------------------------------------------- build

def load():
    from sklearn.datasets import load_digits

    d = load_digits()
    return d.data.astype(np.float32), d.target.astype(np.int64)


def build(force: bool = False) -> dict:
    out = common.build_dir(SCENARIO, Path(__file__))
    if not force and (m := common.cached(out)):
        return m
    t0 = time.time()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    rng = np.random.default_rng(SEED)
    pixels, labels = load()
    known = np.isin(labels, TRAIN_CLASSES)
    kx = np.flatnonzero(known)
    rng.shuffle(kx)
    n_val = int(0.15 * len(kx))
    val_ix, train_ix = kx[:n_val], kx[n_val:]
    held_ix = np.flatnonzero(~known)

    p = train(pixels[train_ix], labels[train_ix], rng)

    # threshold: equal-error point on validation images of the training identities
    vp, vl = pixels[val_ix], labels[val_ix]
    vtrial = trials(vp, vl, rng)
    vgen = vtrial[3]
    vscores = score_np(p, vp, vtrial)
    threshold = eer_threshold(vscores, vgen)

    enrol_path, verify_path = out / "enrol.onnx", out / "verify.onnx"
    enrol_path.write_bytes(enrol_model(p).SerializeToString())
    verify_path.write_bytes(verify_model(p, threshold).SerializeToString())

    # held-out identities, through the ONNX graphs
    hp, hl = pixels[held_ix], labels[held_ix]
    htrial = trials(hp, hl, np.random.default_rng(SEED + 1))
    sets, probe, tmpl, genuine = htrial
    enr, ver = common.ort_session(enrol_path), common.ort_session(verify_path)
    templates = np.concatenate([enr.run(None, {"images": hp[s]})[0] for s in sets])
    scores = ver.run(None, {"probe": hp[probe], "template": templates[tmpl]})[0]
    far, frr = far_frr(scores, genuine, threshold)
    np.savez(out / "heldout.npz", pixels=hp, labels=hl, sets=sets, probe=probe, tmpl=tmpl,
             genuine=genuine, templates=templates, scores=scores)
    vfar, vfrr = far_frr(vscores, vgen, threshold)

    def part_metrics(parts):
        """One branch alone (numpy), its own validation threshold: the ablation."""
        vs = score_np(p, vp, vtrial, parts)
        t = eer_threshold(vs, vgen)
        hs = score_np(p, hp, htrial, parts)
        f, r = far_frr(hs, genuine, t)
        return {"threshold": round(t, 4), "heldout_far": round(f, 4), "heldout_frr": round(r, 4),
                "heldout_eer_approx": round(eer(hs, genuine), 4), "heldout_auc": round(roc_auc(hs, genuine), 4)}

    metrics = {
        "threshold_cosine": round(threshold, 4),
        "validation_far": round(vfar, 4), "validation_frr": round(vfrr, 4),
        "heldout_identities": HELDOUT_CLASSES,
        "heldout_images": int(len(held_ix)),
        "heldout_genuine_trials": int(genuine.sum()),
        "heldout_impostor_trials": int((~genuine).sum()),
        "heldout_far": round(far, 4),
        "heldout_frr": round(frr, 4),
        "heldout_eer_approx": round(eer(scores, genuine), 4),
        "heldout_auc": round(roc_auc(scores, genuine), 4),
        "tower_only": part_metrics(("tower",)),
        "baseline_raw_pixel_cosine": part_metrics(("raw",)),
    }
    manifest = {
        "scenario": SCENARIO,
        "enrol_model": str(enrol_path), "enrol_sha256": common.sha256_file(enrol_path),
        "verify_model": str(verify_path), "verify_sha256": common.sha256_file(verify_path),
        "model_bytes": enrol_path.stat().st_size + verify_path.stat().st_size,
        "heldout": str(out / "heldout.npz"),
        "data": {"source": "scikit-learn load_digits() (bundled with scikit-learn 1.9.1)",
                 "licence": "scikit-learn BSD-3-Clause; UCI Optical Recognition of Handwritten Digits, CC BY 4.0",
                 "train_identities": TRAIN_CLASSES, "train_images": int(len(train_ix)),
                 "validation_images": int(len(val_ix)), "heldout_identities": HELDOUT_CLASSES,
                 "seed": SEED},
        "training": {"tower": [64, HIDDEN, TOWER_DIM], "embedding_dim": DIM, "tower_weight": TOWER_WEIGHT, "steps": STEPS,
                     "batch": f"{BATCH} images x 2 augmented captures",
                     "loss": f"softmax over cosines / {TAU}: {1 - BETA:g} instance-level + {BETA:g} class-level",
                     "optimiser": f"Adam lr {LR}, cosine decay",
                     "augmentation": f"{VIEWS} views per image (rotation 15 deg, scale 10 %, shear 0.15, "
                                     "shift 1 px, stroke thickness), Gaussian noise sigma 1 (pixels 0..16)"},
        "protocol": {"images_per_enrolment": ENROL_IMAGES, "enrolments_per_identity": ENROLMENTS},
        "metrics": metrics,
        "build_seconds": round(time.time() - t0, 1),
    }
    return common.finish(out, manifest)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--force", action="store_true", help="rebuild even if cached")
    print(json.dumps(build(force=ap.parse_args().force), indent=2))
