"""The biometric example through a live server: templates and scores equal to
in-process ONNX Runtime on the same inputs, and FAR/FRR on held-out
identities as measured at build."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import common

HERE = Path(__file__).resolve().parent
bm = common.load_module(HERE / "build_model.py", "siamese_biometric_build_model")
run = common.load_module(HERE / "run.py", "siamese_biometric_run")


@pytest.fixture(scope="module")
def built():
    return bm.build()


@pytest.fixture(scope="module")
def uploaded(owner, built):
    return (common.upload(owner, run.ENROL, built["enrol_model"], built["enrol_sha256"]),
            common.upload(owner, run.VERIFY, built["verify_model"], built["verify_sha256"]))


def test_enrol_and_verify_equal_onnxruntime_and_heldout_far_frr(user, built, uploaded):
    e_info, v_info = uploaded
    held = np.load(built["heldout"])
    pixels, sets = held["pixels"], held["sets"]
    templates = np.concatenate([run.enrol(user, pixels[s], e_info.sha256) for s in sets])
    enr = common.ort_session(built["enrol_model"])
    ref_t = np.concatenate([enr.run(None, {"images": pixels[s]})[0] for s in sets])
    np.testing.assert_allclose(templates, ref_t, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(templates, axis=1), 1.0, atol=1e-5)

    probes, tmpl, genuine = pixels[held["probe"]], templates[held["tmpl"]], held["genuine"]
    scores, match = run.verify(user, probes, tmpl, v_info.sha256)
    ref_s, ref_m = common.ort_session(built["verify_model"]).run(None, {"probe": probes, "template": tmpl})
    np.testing.assert_allclose(scores, ref_s, atol=1e-5)
    # a score within float noise of the threshold could flip; none may otherwise
    close = np.abs(ref_s - built["metrics"]["threshold_cosine"]) < 1e-5
    assert (match == ref_m)[~close].all()

    far, frr = float(match[~genuine].mean()), float((~match[genuine]).mean())
    # Measured at build: FAR 0.1097, FRR 0.1403, AUC 0.9468 on 21,420 impostor /
    # 7,020 genuine trials over identities 6-9, never seen in training (the
    # raw-pixel baseline: FAR 0.1374, FRR 0.1345, AUC 0.9391).
    assert genuine.sum() > 5000 and (~genuine).sum() > 15000
    assert far <= 0.13, far
    assert frr <= 0.16, frr
    # ranking quality independent of the threshold: ROC AUC
    ranks = scores.argsort().argsort() + 1
    auc = (ranks[genuine].sum() - genuine.sum() * (genuine.sum() + 1) / 2) / (genuine.sum() * (~genuine).sum())
    assert auc >= 0.94, auc
    # the fused model must rank better than the no-network baseline it contains
    assert auc > built["metrics"]["baseline_raw_pixel_cosine"]["heldout_auc"], auc
