#!/usr/bin/env python3
"""Writes the small ONNX models that veil-engine's tests load, into tests/models/.

Run it with the project's venv (created by scripts/setup.sh):

    .venv/bin/python scripts/make_test_models.py

Every model is built with the `onnx.helper` API from fixed seeds, so running
the script again writes byte-identical files (it says which ones changed).
Expected outputs are computed with onnxruntime-python and stored next to the
models, so the Rust tests compare against the reference implementation.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
from onnx import TensorProto, helper, numpy_helper

# Old enough for any onnxruntime >= 1.16, new enough for every operator used here.
OPSET = 17
IR_VERSION = 8
MAX_MODEL_BYTES = 100 * 1024

MODELS_DIR = Path(__file__).resolve().parent.parent / "tests" / "models"

# Open Inference Protocol name -> ONNX element type, for every dtype Veil serves.
SUPPORTED_DTYPES = {
    "BOOL": TensorProto.BOOL,
    "UINT8": TensorProto.UINT8,
    "UINT16": TensorProto.UINT16,
    "UINT32": TensorProto.UINT32,
    "UINT64": TensorProto.UINT64,
    "INT8": TensorProto.INT8,
    "INT16": TensorProto.INT16,
    "INT32": TensorProto.INT32,
    "INT64": TensorProto.INT64,
    "FP16": TensorProto.FLOAT16,
    "FP32": TensorProto.FLOAT,
    "FP64": TensorProto.DOUBLE,
}


def make_model(graph: onnx.GraphProto) -> onnx.ModelProto:
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        ir_version=IR_VERSION,
        producer_name="veil/scripts/make_test_models.py",
    )
    onnx.checker.check_model(model, full_check=True)
    return model


def add_model() -> onnx.ModelProto:
    """a: FP32[-1, -1] + b: FP32[-1, -1] -> sum (dimensions without names)."""
    a = helper.make_tensor_value_info("a", TensorProto.FLOAT, [None, None])
    b = helper.make_tensor_value_info("b", TensorProto.FLOAT, [None, None])
    total = helper.make_tensor_value_info("sum", TensorProto.FLOAT, [None, None])
    node = helper.make_node("Add", ["a", "b"], ["sum"])
    return make_model(helper.make_graph([node], "add", [a, b], [total]))


def mlp_weights() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20261124)
    return {
        "w1": rng.standard_normal((16, 32)).astype(np.float32) * np.float32(0.25),
        "b1": rng.standard_normal((32,)).astype(np.float32) * np.float32(0.1),
        "w2": rng.standard_normal((32, 4)).astype(np.float32) * np.float32(0.25),
    }


def mlp_model(weights: dict[str, np.ndarray]) -> onnx.ModelProto:
    """x: FP32[batch, 16] -> MatMul(16x32) + b1 -> Relu -> MatMul(32x4) -> y: FP32[batch, 4]."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 16])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h0"]),
        helper.make_node("Add", ["h0", "b1"], ["h1"]),
        helper.make_node("Relu", ["h1"], ["h2"]),
        helper.make_node("MatMul", ["h2", "w2"], ["y"]),
    ]
    initializers = [numpy_helper.from_array(v, name) for name, v in weights.items()]
    return make_model(helper.make_graph(nodes, "mlp", [x], [y], initializer=initializers))


def identity_all_dtypes_model() -> onnx.ModelProto:
    """For every supported dtype D: in_D: D[-1, -1] -> Identity -> out_D."""
    inputs, outputs, nodes = [], [], []
    for name, elem in SUPPORTED_DTYPES.items():
        inputs.append(helper.make_tensor_value_info(f"in_{name}", elem, [f"rows_{name}", f"cols_{name}"]))
        outputs.append(helper.make_tensor_value_info(f"out_{name}", elem, [f"rows_{name}", f"cols_{name}"]))
        nodes.append(helper.make_node("Identity", [f"in_{name}"], [f"out_{name}"]))
    return make_model(helper.make_graph(nodes, "identity_all_dtypes", inputs, outputs))


def argmax_model() -> onnx.ModelProto:
    """scores: FP32[batch, 10] -> ArgMax(axis=1) -> label: INT64[batch]."""
    scores = helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", 10])
    label = helper.make_tensor_value_info("label", TensorProto.INT64, ["batch"])
    node = helper.make_node("ArgMax", ["scores"], ["label"], axis=1, keepdims=0)
    return make_model(helper.make_graph([node], "argmax", [scores], [label]))


def scalar_model() -> onnx.ModelProto:
    """x: FP64[] (a rank-0 scalar) -> x * x -> square: FP64[]."""
    x = helper.make_tensor_value_info("x", TensorProto.DOUBLE, [])
    square = helper.make_tensor_value_info("square", TensorProto.DOUBLE, [])
    node = helper.make_node("Mul", ["x", "x"], ["square"])
    return make_model(helper.make_graph([node], "scalar", [x], [square]))


def string_model() -> onnx.ModelProto:
    """text: STRING[-1] -> Identity -> same: a model Veil must refuse (no string tensors)."""
    text = helper.make_tensor_value_info("text", TensorProto.STRING, ["n"])
    same = helper.make_tensor_value_info("same", TensorProto.STRING, ["n"])
    node = helper.make_node("Identity", ["text"], ["same"])
    return make_model(helper.make_graph([node], "strings", [text], [same]))


def sequence_output_model() -> onnx.ModelProto:
    """x: FP32[-1] -> SequenceConstruct -> seq(tensor(float)): a model Veil must refuse."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n"])
    seq = helper.make_tensor_sequence_value_info("seq", TensorProto.FLOAT, ["n"])
    node = helper.make_node("SequenceConstruct", ["x"], ["seq"])
    return make_model(helper.make_graph([node], "sequence_output", [x], [seq]))


# Where external_data.onnx points: a file in the loading process's working
# directory, which onnxruntime reads for models loaded from bytes.
EXTERNAL_DATA_PROBE = "veil_external_data_probe.bin"


def external_data_model() -> onnx.ModelProto:
    """x: UINT8[16] + w -> y, where w is 16 bytes read from a file next to the
    model (ONNX "external data"): a model Veil must refuse, or an uploaded
    model could read files from the server's working directory."""
    w = TensorProto()
    w.name = "w"
    w.data_type = TensorProto.UINT8
    w.dims.append(16)
    w.data_location = TensorProto.EXTERNAL
    entry = w.external_data.add()
    entry.key = "location"
    entry.value = EXTERNAL_DATA_PROBE
    x = helper.make_tensor_value_info("x", TensorProto.UINT8, [16])
    y = helper.make_tensor_value_info("y", TensorProto.UINT8, [16])
    node = helper.make_node("Add", ["x", "w"], ["y"])
    model = helper.make_model(
        helper.make_graph([node], "external_data", [x], [y], initializer=[w]),
        opset_imports=[helper.make_opsetid("", OPSET)],
        ir_version=IR_VERSION,
        producer_name="veil/scripts/make_test_models.py",
    )
    # Not check_model: the checker would look for the external file.
    return model


def slow_loop_model() -> onnx.ModelProto:
    """x: FP32[1, 64], iterations: INT64[] -> y: FP32[64]. Broadcasts x to
    [2048, 64], then runs `iterations` rounds of v = Tanh(v @ W) in an ONNX
    Loop and averages the rows: an inference whose run time the caller sets
    (about 4 M multiply-adds per round), for the graceful-shutdown test."""
    rng = np.random.default_rng(11)
    w = (rng.standard_normal((64, 64)) / 8).astype(np.float32)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64])
    iterations = helper.make_tensor_value_info("iterations", TensorProto.INT64, [])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [64])
    body = helper.make_graph(
        [
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
            helper.make_node("MatMul", ["v_in", "w"], ["vw"]),
            helper.make_node("Tanh", ["vw"], ["v_out"]),
        ],
        "round",
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
            helper.make_tensor_value_info("v_in", TensorProto.FLOAT, [2048, 64]),
        ],
        [
            helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("v_out", TensorProto.FLOAT, [2048, 64]),
        ],
    )
    nodes = [
        helper.make_node("Expand", ["x", "rows"], ["v0"]),
        helper.make_node("Loop", ["iterations", "keep_going", "v0"], ["v"], body=body),
        helper.make_node("ReduceMean", ["v"], ["y"], axes=[0], keepdims=0),
    ]
    initializers = [
        numpy_helper.from_array(w, "w"),
        numpy_helper.from_array(np.array([2048, 64], dtype=np.int64), "rows"),
        numpy_helper.from_array(np.array(True), "keep_going"),
    ]
    return make_model(
        helper.make_graph(nodes, "slow_loop", [x, iterations], [y], initializer=initializers)
    )


def mlp_expected(model: onnx.ModelProto, weights: dict[str, np.ndarray]) -> dict:
    """Inputs, weights and onnxruntime-python's outputs for the Rust parity test."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((5, 16)).astype(np.float32)
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (y,) = session.run(["y"], {"x": x})
    as_list = lambda a: [float(v) for v in np.asarray(a, dtype=np.float32).ravel()]  # noqa: E731
    return {
        "comment": "written by scripts/make_test_models.py; y = relu(x @ w1 + b1) @ w2, by onnxruntime "
        + onnxruntime.__version__,
        "x_shape": list(x.shape),
        "x": as_list(x),
        "w1_shape": list(weights["w1"].shape),
        "w1": as_list(weights["w1"]),
        "b1": as_list(weights["b1"]),
        "w2_shape": list(weights["w2"].shape),
        "w2": as_list(weights["w2"]),
        "y_shape": list(y.shape),
        "y": as_list(y),
    }


def write(path: Path, data: bytes) -> None:
    if len(data) > MAX_MODEL_BYTES:
        sys.exit(f"error: {path.name} is {len(data)} bytes, over the {MAX_MODEL_BYTES}-byte limit for test files")
    old = path.read_bytes() if path.exists() else None
    status = "unchanged" if old == data else ("updated" if old is not None else "created")
    if old != data:
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    digest = hashlib.sha256(data).hexdigest()[:16]
    print(f"{status:9} {path} ({len(data)} bytes, sha256 {digest}…)")


def main() -> None:
    MODELS_DIR.mkdir(parents=True, exist_ok=True)
    weights = mlp_weights()
    mlp = mlp_model(weights)
    models = {
        "add.onnx": add_model(),
        "mlp.onnx": mlp,
        "identity_all_dtypes.onnx": identity_all_dtypes_model(),
        "argmax.onnx": argmax_model(),
        "scalar.onnx": scalar_model(),
        "strings.onnx": string_model(),
        "sequence_output.onnx": sequence_output_model(),
        "external_data.onnx": external_data_model(),
        "slow_loop.onnx": slow_loop_model(),
    }
    for name, model in models.items():
        write(MODELS_DIR / name, model.SerializeToString())
    expected = json.dumps(mlp_expected(mlp, weights), indent=1) + "\n"
    write(MODELS_DIR / "mlp.expected.json", expected.encode())


if __name__ == "__main__":
    main()
