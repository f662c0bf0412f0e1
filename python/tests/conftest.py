"""Fixtures: a live `veil serve` (simulated platform) on a free port, per test session."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / "tests" / "models"


def _veil_binary() -> Path:
    if os.environ.get("VEIL_BIN"):
        return Path(os.environ["VEIL_BIN"])
    meta = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--no-deps"],
        cwd=REPO, check=True, capture_output=True, text=True,
    )
    target = Path(json.loads(meta.stdout)["target_directory"])
    for profile in ("debug", "release"):
        if (target / profile / "veil").exists():
            return target / profile / "veil"
    pytest.exit("the veil binary is not built: run `cargo build -p veil-cli` (scripts/test.sh does)", 2)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A `veil serve` process and what a test needs to talk to it."""

    def __init__(self, tmp: Path, *extra: str):
        self.data_dir = tmp / "data"
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(tmp / "server.log", "wb")
        self.args = [
            str(_veil_binary()), "serve",
            "--listen", f"127.0.0.1:{self.port}",
            "--data-dir", str(self.data_dir),
            "--intra-op-threads", "1",
            *extra,
        ]
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=subprocess.STDOUT, cwd=REPO)
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"veil serve exited: {(tmp / 'server.log').read_text()}")
            try:
                with urllib.request.urlopen(f"{self.url}/v1/health", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("veil serve did not become healthy in 60 s")
            time.sleep(0.1)
        self.owner_token = (self.data_dir / "owner-token").read_text().strip()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


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
    return f"veil binary: {shutil.which('veil') or os.environ.get('VEIL_BIN', '(from cargo metadata)')}"
