"""tritonclient (Triton's Open Inference Protocol client, from PyPI) drives
`veil proxy` without any change: metadata, JSON and binary inference, an
output subset. Results are compared with onnxruntime run in this process.

Run by tests/proxy.rs, which starts a server and a proxy and sets
VEIL_PROXY (host:port) and VEIL_TEST_MODELS (the generated test models).
"""

import os

import numpy as np
import onnxruntime
import pytest
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

PROXY = os.environ["VEIL_PROXY"]
MODELS = os.environ["VEIL_TEST_MODELS"]


@pytest.fixture(scope="module")
def client():
    return httpclient.InferenceServerClient(url=PROXY)


@pytest.fixture(scope="module")
def reference():
    return onnxruntime.InferenceSession(os.path.join(MODELS, "mlp.onnx"))


def x_input(batch):
    return np.linspace(-2.0, 2.0, batch * 16, dtype=np.float32).reshape(batch, 16)


def test_health_and_metadata(client):
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready("mlp")
    meta = client.get_model_metadata("mlp")
    assert meta["name"] == "mlp"
    assert [i["name"] for i in meta["inputs"]] == ["x"]
    assert meta["inputs"][0]["datatype"] == "FP32"
    assert [o["name"] for o in meta["outputs"]] == ["y"]


@pytest.mark.parametrize("binary", [True, False])
def test_infer_matches_onnxruntime(client, reference, binary):
    x = x_input(5)
    inp = httpclient.InferInput("x", list(x.shape), "FP32")
    inp.set_data_from_numpy(x, binary_data=binary)
    out = httpclient.InferRequestedOutput("y", binary_data=binary)
    result = client.infer("mlp", [inp], outputs=[out])
    (expected,) = reference.run(["y"], {"x": x})
    got = result.as_numpy("y")
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)


def test_unknown_model_error_reaches_the_client(client):
    # The server's 404 and message, from inside the channel, unchanged.
    with pytest.raises(InferenceServerException) as err:
        client.get_model_metadata("no-such-model")
    assert err.value.status() == "404"
    assert "no model of that name" in err.value.message()
