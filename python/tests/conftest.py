"""Fixtures: a live `veil serve` (simulated platform) on a free port, per test session."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / "tests" / "models"


# The live-server helper is shared with the examples' tests (examples/common.py).
sys.path.insert(0, str(REPO / "examples"))
from common import Server, veil_binary  # noqa: E402


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("veil"), "--max-tensor-elements", "200000")
    yield s
    s.stop()


@pytest.fixture(scope="session")
def client(server):
    import veil

    with veil.connect(server.url, allow_simulation=True, owner_token=server.owner_token) as c:
        yield c


@pytest.fixture(scope="session")
def models_dir() -> Path:
    if not (MODELS / "mlp.onnx").exists():
        pytest.exit("tests/models is empty: run scripts/setup.sh (it generates the test models)", 2)
    return MODELS


@pytest.fixture(scope="session")
def ort_session():
    import onnxruntime as ort

    cache = {}

    def session(path: Path):
        if path not in cache:
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = 1
            cache[path] = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        return cache[path]

    return session


@pytest.fixture
def python_exe() -> str:
    return sys.executable


def pytest_report_header(config):
    return f"veil binary: {veil_binary()}"
