#!/usr/bin/env python3
"""Veil against plain ONNX Runtime, measured side by side in one run.

    scripts/bench.sh            # builds what it needs, then runs this
    .venv/bin/python bench/bench.py [--rounds 5] [--iterations 20] [--quick]

For each model, batch size and intra-op thread count, the candidates run in
interleaved rounds (ORT, SDK, Rust, ORT, SDK, Rust, ...) so that drift on a
shared machine hits all three alike:

1. plain in-process ONNX Runtime (Python `onnxruntime`, the same version and
   thread settings as the server: intra-op T, inter-op 1, all optimisations);
2. Veil end to end through the Python SDK (connected once; `predict`);
3. Veil end to end through the Rust client (`bench_client` example,
   connected once per round, connect time excluded).

Then: throughput with 1, 4 and 8 concurrent clients against in-process ORT
at the same concurrency (threads sharing one session), connect time
(attestation fetch + verification), and the server's RSS after loading each
model. Prints Markdown tables; `--json FILE` also writes the raw numbers.
Latencies are wall-clock medians and 99th percentiles in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import onnxruntime as ort

import veil

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO / "bench" / "models"


def target_dir() -> Path:
    out = subprocess.run(["cargo", "metadata", "--format-version", "1", "--no-deps"], cwd=REPO,
                         check=True, capture_output=True, text=True).stdout
    return Path(json.loads(out)["target_directory"])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Server:
    def __init__(self, veil_bin: Path, threads: int, workdir: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        data = workdir / f"data-{threads}"
        self.proc = subprocess.Popen(
            [str(veil_bin), "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir", str(data),
             "--intra-op-threads", str(threads)],
            stdout=subprocess.DEVNULL, stderr=open(workdir / f"server-{threads}.log", "wb"))
        for _ in range(600):
            try:
                urllib.request.urlopen(f"{self.url}/v1/health", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError("server did not start")
        self.token = (data / "owner-token").read_text().strip()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def inputs_for(model: str, batch: int) -> dict[str, np.ndarray]:
    """The same values the Rust bench client sends (see bench_client.rs)."""
    def ints(shape, dtype):
        return (np.arange(int(np.prod(shape))) % 97).astype(dtype).reshape(shape)

    if model == "mobilenetv2":
        return {"input": np.full((batch, 3, 224, 224), 0.5, np.float32)}
    if model == "mobilenetv2_u8":
        return {"image": ints((batch, 3, 224, 224), np.uint8)}
    if model == "minilm":
        return {"input_ids": ints((batch, 128), np.int64), "attention_mask": ints((batch, 128), np.int64)}
    raise ValueError(model)


def rust_specs(feeds: dict[str, np.ndarray], model: str) -> list[str]:
    return [f"{name}:{a.dtype.name}:{'x'.join(map(str, a.shape))}" for name, a in feeds.items()]


def ort_session(path: Path, threads: int) -> ort.InferenceSession:
    o = ort.SessionOptions()
    o.intra_op_num_threads = threads
    o.inter_op_num_threads = 1
    o.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), o, providers=["CPUExecutionProvider"])


def timed(fn, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def rust_run(bench_bin: Path, url: str, model: str, specs: list[str], n: int, concurrency: int) -> dict:
    out = subprocess.run([str(bench_bin), url, model, str(n), str(concurrency), *specs],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def p99(xs: list[float]) -> float:
    return float(np.percentile(xs, 99))


def latency(args, server: Server, client: veil.Client, bench_bin: Path, threads: int, rows: list) -> None:
    for model in ["mobilenetv2", "mobilenetv2_u8", "minilm"]:
        sess = ort_session(MODELS / f"{model}.onnx", threads)
        for batch in ([1] if args.quick else [1, 8]):
            feeds = inputs_for(model, batch)
            sess.run(None, feeds)
            client.predict(model, feeds)
            n = max(4, args.iterations // batch)
            res = {"ort": [], "sdk": [], "rust": []}
            for _ in range(args.rounds):
                res["ort"] += timed(lambda: sess.run(None, feeds), n)
                res["sdk"] += timed(lambda: client.predict(model, feeds), n)
                r = rust_run(bench_bin, server.url, model, rust_specs(feeds, model), n, 1)
                res["rust"] += [us / 1000 for us in r["latencies_us"]]
            base = statistics.median(res["ort"])
            row = {"model": model, "batch": batch, "threads": threads}
            for k, v in res.items():
                row[f"{k}_median_ms"] = statistics.median(v)
                row[f"{k}_p99_ms"] = p99(v)
                row[f"{k}_ratio"] = statistics.median(v) / base
            rows.append(row)
            print(f"  {model} b{batch} t{threads}: ort {base:.2f} ms, sdk x{row['sdk_ratio']:.3f}, "
                  f"rust x{row['rust_ratio']:.3f}", file=sys.stderr)


def throughput(args, server: Server, client: veil.Client, bench_bin: Path, rows: list) -> None:
    for model in ["mobilenetv2", "minilm"]:
        sess = ort_session(MODELS / f"{model}.onnx", 1)
        feeds = inputs_for(model, 1)
        for conc in [1, 4, 8]:
            total = args.throughput_requests
            res = {}
            for name in ["ort", "sdk", "rust"]:
                if name == "rust":
                    r = rust_run(bench_bin, server.url, model, rust_specs(feeds, model), total, conc)
                    res[name] = total / (r["wall_us"] / 1e6)
                    continue
                run = (lambda: sess.run(None, feeds)) if name == "ort" else (lambda: client.predict(model, feeds))
                per = [total // conc + (i < total % conc) for i in range(conc)]
                threads = [threading.Thread(target=lambda k=k: [run() for _ in range(k)]) for k in per]
                t = time.perf_counter()
                for th in threads:
                    th.start()
                for th in threads:
                    th.join()
                res[name] = total / (time.perf_counter() - t)
            rows.append({"model": model, "clients": conc, **{f"{k}_rps": v for k, v in res.items()},
                         "sdk_ratio": res["sdk"] / res["ort"], "rust_ratio": res["rust"] / res["ort"]})
            print(f"  {model} x{conc}: ort {res['ort']:.1f}/s sdk x{res['sdk'] / res['ort']:.2f} "
                  f"rust x{res['rust'] / res['ort']:.2f}", file=sys.stderr)


def markdown(results: dict) -> str:
    out = [f"Measured {results['when']} on {results['machine']}; onnxruntime {ort.__version__}.", ""]
    out += ["### Latency (ms; ratio = Veil median / in-process ORT median)", "",
            "| model | batch | threads | ORT median | ORT p99 | Rust client median | p99 | ratio | Python SDK median | p99 | ratio |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in results["latency"]:
        out.append(f"| {r['model']} | {r['batch']} | {r['threads']} | {r['ort_median_ms']:.2f} | {r['ort_p99_ms']:.2f} | "
                   f"{r['rust_median_ms']:.2f} | {r['rust_p99_ms']:.2f} | **{r['rust_ratio']:.3f}** | "
                   f"{r['sdk_median_ms']:.2f} | {r['sdk_p99_ms']:.2f} | **{r['sdk_ratio']:.3f}** |")
    out += ["", "### Throughput (requests/s, batch 1, intra-op threads 1; ratio to in-process ORT at the same concurrency)", "",
            "| model | clients | ORT | Rust client | ratio | Python SDK | ratio |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in results["throughput"]:
        out.append(f"| {r['model']} | {r['clients']} | {r['ort_rps']:.1f} | {r['rust_rps']:.1f} | {r['rust_ratio']:.2f} | "
                   f"{r['sdk_rps']:.1f} | {r['sdk_ratio']:.2f} |")
    c = results["connect"]
    out += ["", "### Connect (fetch evidence + verify, fresh nonce)", "",
            f"Python SDK `veil.connect`: median {c['sdk_median_ms']:.2f} ms over {c['n']}; "
            f"Rust `Client::connect`: median {c['rust_median_ms']:.2f} ms.", "",
            "### Server memory", "", "| model | file size (MB) | server RSS growth after upload (MB) |", "| --- | ---: | ---: |"]
    for m in results["memory"]:
        out.append(f"| {m['model']} | {m['model_mb']:.1f} | {m['rss_growth_mb']:.1f} |")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--iterations", type=int, default=30, help="requests per candidate per round at batch 1")
    ap.add_argument("--throughput-requests", type=int, default=256)
    ap.add_argument("--quick", action="store_true", help="batch 1 only, thread count 1 only")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    target = target_dir()
    veil_bin = target / "release" / "veil"
    bench_bin = target / "release" / "examples" / "bench_client"
    for p in (veil_bin, bench_bin):
        if not p.exists():
            sys.exit(f"{p} missing: run scripts/bench.sh (it builds the release binaries)")
    results = {"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
               "machine": f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
                          f"Python {platform.python_version()}",
               "latency": [], "throughput": [], "memory": []}
    with tempfile.TemporaryDirectory() as tmp:
        for threads in ([1] if args.quick else [1, 2]):
            server = Server(veil_bin, threads, Path(tmp))
            try:
                with veil.connect(server.url, allow_simulation=True, owner_token=server.token) as client:
                    for model in ["mobilenetv2", "mobilenetv2_u8", "minilm"]:
                        before = rss_kib(server.proc.pid)
                        client.upload_model(model, MODELS / f"{model}.onnx", progress=False)
                        if threads == 1:
                            results["memory"].append({
                                "model": model, "model_mb": (MODELS / f"{model}.onnx").stat().st_size / 1e6,
                                "rss_growth_mb": (rss_kib(server.proc.pid) - before) * 1024 / 1e6})
                    print(f"intra-op threads {threads}: latency", file=sys.stderr)
                    latency(args, server, client, bench_bin, threads, results["latency"])
                    if threads == 1:
                        print("throughput", file=sys.stderr)
                        throughput(args, server, client, bench_bin, results["throughput"])
                        sdk = []
                        for _ in range(10):
                            t = time.perf_counter()
                            veil.connect(server.url, allow_simulation=True).close()
                            sdk.append((time.perf_counter() - t) * 1000)
                        rust = [rust_run(bench_bin, server.url, "mobilenetv2",
                                         rust_specs(inputs_for("mobilenetv2", 1), "mobilenetv2"), 1, 1)["connect_us"] / 1000
                                for _ in range(5)]
                        results["connect"] = {"n": len(sdk), "sdk_median_ms": statistics.median(sdk),
                                              "rust_median_ms": statistics.median(rust)}
            finally:
                server.stop()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    print(markdown(results))


if __name__ == "__main__":
    main()
