"""The Python SDK against a live server: it is the Rust client, so it must be
exactly as strict, and numpy in / numpy out must equal in-process onnxruntime."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import veil

DTYPES = ["bool", "uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64",
          "float16", "float32", "float64"]
OIP = {"bool": "BOOL", "uint8": "UINT8", "uint16": "UINT16", "uint32": "UINT32", "uint64": "UINT64",
       "int8": "INT8", "int16": "INT16", "int32": "INT32", "int64": "INT64", "float16": "FP16",
       "float32": "FP32", "float64": "FP64"}


def sample(dtype: str, shape, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if dtype == "bool":
        return rng.integers(0, 2, size=shape).astype(bool)
    if dtype.startswith(("float",)):
        return (rng.standard_normal(shape) * 100).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)


@pytest.fixture(scope="module")
def mlp(client, models_dir):
    return client.upload_model("mlp", models_dir / "mlp.onnx", progress=False)


def test_connect_verifies_a_simulated_server_and_reports_it_loudly(client):
    a = client.attestation
    assert a.platform == "simulated"
    assert a.simulated is True
    assert a.debug is False
    assert len(bytes.fromhex(a.measurement)) == 48
    assert len(bytes.fromhex(a.report_data)) == 64
    assert a.verified_at > 1_700_000_000
    assert "SIMULATED" in repr(client)


def test_connect_refuses_without_a_policy_or_allow_simulation(server):
    with pytest.raises(veil.AttestationError) as e:
        veil.connect(server.url)
    assert e.value.check == "policy"


def test_connect_refuses_a_simulated_server_under_a_hardware_policy(server, tmp_path):
    policy = tmp_path / "policy.toml"
    policy.write_text(f'platforms = ["sev-snp"]\nmeasurements = ["{"ab" * 48}"]\n')
    with pytest.raises(veil.AttestationError) as e:
        veil.connect(server.url, policy=policy)
    assert e.value.check == "simulation_not_allowed"


def test_connect_refuses_a_policy_with_another_measurement(server):
    text = f'platforms = ["simulated"]\nallow_simulation = true\nmeasurements = ["{"00" * 48}"]\n'
    with pytest.raises(veil.AttestationError) as e:
        veil.connect(server.url, policy=text)
    assert e.value.check == "measurement"


def test_connect_accepts_a_policy_pinning_the_servers_measurement(server, client):
    text = (f'platforms = ["simulated"]\nallow_simulation = true\n'
            f'measurements = ["{client.attestation.measurement}"]\n')
    with veil.connect(server.url, policy=text) as c:
        assert c.attestation.measurement == client.attestation.measurement


class TamperingProxy:
    """Relays to the server, flipping one byte of one field of the evidence bundle."""

    def __init__(self, upstream: str, field: str):
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                with urllib.request.urlopen(upstream + self.path) as r:
                    body = r.read()
                if self.path.startswith("/v1/attestation"):
                    bundle = json.loads(body)
                    raw = bytearray(base64.b64decode(bundle[outer.field]))
                    raw[len(raw) // 2] ^= 0x01
                    bundle[outer.field] = base64.b64encode(bytes(raw)).decode()
                    body = json.dumps(bundle).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.field = field
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


@pytest.mark.parametrize("field, check", [("report", "signature"), ("key_config", "report_data")])
def test_connect_refuses_tampered_evidence(server, field, check):
    proxy = TamperingProxy(server.url, field)
    try:
        with pytest.raises(veil.AttestationError) as e:
            veil.connect(proxy.url, allow_simulation=True)
        assert e.value.check == check, e.value
    finally:
        proxy.close()


def test_connection_error_for_a_server_that_is_not_there():
    with pytest.raises(veil.ConnectionError):
        veil.connect("http://127.0.0.1:9", allow_simulation=True, timeout=2)


def test_upload_from_path_bytes_and_modelproto_report_the_same_model(client, models_dir):
    path = models_dir / "add.onnx"
    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    seen = []
    from_path = client.upload_model("add", path, progress=lambda sent, total: seen.append((sent, total)))
    assert seen[-1] == (len(data), len(data))
    from_bytes = client.upload_model("add", data, progress=False)
    proto = onnx.load(str(path))
    from_proto = client.upload_model("add", proto, progress=False)
    assert from_path.sha256 == from_bytes.sha256 == sha
    assert from_proto.sha256 == hashlib.sha256(proto.SerializeToString()).hexdigest()
    assert [i.name for i in from_path.inputs] == ["a", "b"]
    assert from_path.inputs[0].dtype == np.float32
    assert from_path.inputs[0].shape == (None, None)
    assert client.model("add").sha256 == from_proto.sha256


def test_an_encrypted_model_is_opened_only_by_the_server_and_served(client, models_dir, ort_session, tmp_path):
    import veil

    path = models_dir / "mlp.onnx"
    data = path.read_bytes()
    seen = []
    on_disk = client.encrypt_model(path, tmp_path / "mlp.veil", progress=lambda d, t: seen.append((d, t)))
    in_memory = client.encrypt_model(data)
    assert seen[-1] == (len(data), len(data))
    assert on_disk.key_id == in_memory.key_id and len(on_disk.key_id) == 64
    assert on_disk.sha256 == in_memory.sha256 == hashlib.sha256(data).hexdigest()
    encrypted = (tmp_path / "mlp.veil").read_bytes()
    assert on_disk.path == str(tmp_path / "mlp.veil") and on_disk.encrypted_bytes == len(encrypted)
    assert in_memory.data is not None and len(in_memory.data) == in_memory.encrypted_bytes
    assert encrypted[:8] == b"VEILOWNM" and data[100:164] not in encrypted
    assert list(tmp_path.iterdir()) == [tmp_path / "mlp.veil"]

    # Uploaded as a file or as bytes, the server opens it and serves the model.
    assert client.upload_model("mlp-enc", tmp_path / "mlp.veil", progress=False).sha256 == on_disk.sha256
    info = client.upload_model("mlp-enc", in_memory.data, progress=False)
    assert info.sha256 == on_disk.sha256
    x = sample("float32", (3, 16), 3)
    (want,) = ort_session(path).run(None, {"x": x})
    got = client.predict("mlp-enc", {"x": x}, expected_sha256=info.sha256)
    np.testing.assert_allclose(got["y"], want, rtol=1e-6, atol=1e-6)

    # A changed byte: refused, and the served model stays.
    changed = bytearray(in_memory.data)
    changed[len(changed) // 2] ^= 1
    with pytest.raises(veil.InvalidModel, match="owner-encrypted model failed authentication"):
        client.upload_model("mlp-enc", bytes(changed), progress=False)
    assert client.model("mlp-enc").sha256 == info.sha256
    client.delete_model("mlp-enc")


def test_predict_matches_onnxruntime_for_dynamic_batch_sizes(client, mlp, models_dir, ort_session):
    sess = ort_session(models_dir / "mlp.onnx")
    for batch in (1, 3, 17, 64):
        x = sample("float32", (batch, 16), batch)
        got = client.predict("mlp", {"x": x}, expected_sha256=mlp.sha256)
        (want,) = sess.run(None, {"x": x})
        assert got["y"].dtype == np.float32 and got["y"].shape == (batch, 4)
        np.testing.assert_allclose(got["y"], want, rtol=1e-6, atol=1e-6)


def test_predict_accepts_a_single_array_and_python_lists(client, mlp, models_dir, ort_session):
    x = sample("float32", (2, 16), 7)
    (want,) = ort_session(models_dir / "mlp.onnx").run(None, {"x": x})
    np.testing.assert_allclose(client.predict("mlp", x)["y"], want, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(client.predict("mlp", {"x": x.tolist()})["y"], want, rtol=1e-6, atol=1e-6)


def test_every_dtype_round_trips_bit_exactly_with_multiple_inputs_and_outputs(client, models_dir):
    client.upload_model("identity", models_dir / "identity_all_dtypes.onnx", progress=False)
    inputs = {f"in_{OIP[d]}": sample(d, (3, 5), i) for i, d in enumerate(DTYPES)}
    got = client.predict("identity", inputs)
    assert set(got) == {f"out_{OIP[d]}" for d in DTYPES}
    for d in DTYPES:
        out = got[f"out_{OIP[d]}"]
        assert out.dtype == np.dtype(d)
        assert out.flags.writeable
        np.testing.assert_array_equal(out, inputs[f"in_{OIP[d]}"])
    only = client.predict("identity", inputs, outputs=["out_INT64", "out_FP16"])
    assert set(only) == {"out_INT64", "out_FP16"}


def test_non_contiguous_big_endian_and_scalar_inputs(client, models_dir, ort_session):
    x = sample("float64", (6, 8), 3)[:, ::2]  # a strided view
    got = client.predict("identity", {f"in_{OIP[d]}": sample(d, (1, 1), 0) for d in DTYPES} | {"in_FP64": x})
    np.testing.assert_array_equal(got["out_FP64"], x)
    big = sample("int32", (2, 2), 1).astype(">i4")
    got = client.predict("identity", {f"in_{OIP[d]}": sample(d, (1, 1), 0) for d in DTYPES} | {"in_INT32": big})
    np.testing.assert_array_equal(got["out_INT32"], big)
    client.upload_model("scalar", models_dir / "scalar.onnx", progress=False)
    got = client.predict("scalar", np.float64(3.0))
    assert got["square"].shape == () and got["square"] == 9.0


def test_each_server_error_maps_to_its_exception(server, client, mlp):
    with pytest.raises(veil.ModelNotFound):
        client.predict("no-such-model", np.zeros((1, 16), np.float32))
    with pytest.raises(veil.ModelNotFound):
        client.model("no-such-model")
    with pytest.raises(veil.InvalidInput) as e:
        client.predict("mlp", {"x": np.zeros((1, 15), np.float32)})
    assert e.value.code == "invalid_input" and e.value.status == 400
    assert e.value.expected is not None
    assert e.value.expected.inputs[0].name == "x"
    assert e.value.expected.inputs[0].shape == (None, 16)
    with pytest.raises(veil.InvalidInput):
        client.predict("mlp", {"x": np.zeros((1, 16), np.complex64)})
    with pytest.raises(veil.ModelHashMismatch):
        client.predict("mlp", np.zeros((1, 16), np.float32), expected_sha256="00" * 32)
    with pytest.raises(veil.InvalidModel) as e:
        client.upload_model("broken", b"this is not an onnx model", progress=False)
    assert "broken" not in [m["name"] for m in client.models()]
    with pytest.raises(veil.PayloadTooLarge):
        client.predict("mlp", np.zeros((20_000, 16), np.float32))
    with veil.connect(server.url, allow_simulation=True) as anonymous:
        with pytest.raises(veil.Unauthorized):
            anonymous.upload_model("mlp2", b"x", progress=False)
        with pytest.raises(veil.Unauthorized):
            anonymous.delete_model("mlp")
        with pytest.raises(veil.Unauthorized):
            anonymous.delete_model("mlp", owner_token="wrong")
    # Every one of those left the server serving.
    assert client.predict("mlp", np.zeros((1, 16), np.float32))["y"].shape == (1, 4)
    assert all(issubclass(c, veil.VeilError) for c in (
        veil.AttestationError, veil.ModelNotFound, veil.InvalidInput, veil.Unauthorized,
        veil.PayloadTooLarge, veil.ServerError, veil.ConnectionError))


def test_owner_token_per_call_and_delete(server, client, models_dir):
    with veil.connect(server.url, allow_simulation=True) as anonymous:
        info = anonymous.upload_model("tmp-model", models_dir / "argmax.onnx",
                                      owner_token=server.owner_token, progress=False)
        assert info.name == "tmp-model"
        assert "tmp-model" in [m["name"] for m in anonymous.models()]
        anonymous.delete_model("tmp-model", owner_token=server.owner_token)
    with pytest.raises(veil.ModelNotFound):
        client.model("tmp-model")


def test_eight_threads_share_one_client(client, mlp, models_dir, ort_session):
    sess = ort_session(models_dir / "mlp.onnx")
    errors = []

    def worker(seed: int):
        try:
            for i in range(10):
                x = sample("float32", (1 + (seed + i) % 5, 16), seed * 100 + i)
                got = client.predict("mlp", {"x": x})["y"]
                (want,) = sess.run(None, {"x": x})
                np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(s,)) for s in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def test_a_model_built_in_python_with_two_outputs(client):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n"])
    graph = helper.make_graph(
        [helper.make_node("Neg", ["x"], ["neg"]), helper.make_node("Abs", ["x"], ["abs"])],
        "two_outputs", [x],
        [helper.make_tensor_value_info("neg", TensorProto.FLOAT, ["n"]),
         helper.make_tensor_value_info("abs", TensorProto.FLOAT, ["n"])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    info = client.upload_model("two-outputs", model, progress=False)
    assert [o.name for o in info.outputs] == ["neg", "abs"]
    x = np.array([-1.5, 2.0, -0.0], np.float32)
    got = client.predict("two-outputs", x)
    np.testing.assert_array_equal(got["neg"], -x)
    np.testing.assert_array_equal(got["abs"], np.abs(x))


def test_closed_client_refuses_calls(server):
    c = veil.connect(server.url, allow_simulation=True)
    c.close()
    with pytest.raises(veil.VeilError):
        c.models()
    assert "closed" in repr(c)


class _FakeTorchTensor:
    """Quacks like a torch.Tensor (module `torch`, .detach().cpu().numpy()), without torch."""

    __module__ = "torch"

    def __init__(self, array):
        self._array = array

    def detach(self):
        return self

    def cpu(self):
        return self

    def numpy(self):
        return self._array


def test_torch_tensors_are_converted_without_importing_torch(client, mlp, models_dir, ort_session):
    import sys

    x = sample("float32", (3, 16), 11)
    got = client.predict("mlp", {"x": _FakeTorchTensor(x)})
    (want,) = ort_session(models_dir / "mlp.onnx").run(None, {"x": x})
    np.testing.assert_allclose(got["y"], want, rtol=1e-6, atol=1e-6)
    assert "torch" not in sys.modules
