"""The mapping from the native module's errors to the public exceptions,
for every server error code (the live-server tests cover the common ones)."""

import json

import pytest

import veil
from veil._errors import from_native


class NativeLike(Exception):
    """Carries the native module's error args: (kind, message, code, status, check, expected_json)."""


@pytest.mark.parametrize("code, status, cls", [
    ("model_not_found", 404, veil.ModelNotFound),
    ("invalid_input", 400, veil.InvalidInput),
    ("invalid_model", 400, veil.InvalidModel),
    ("model_hash_mismatch", 409, veil.ModelHashMismatch),
    ("unauthorized", 401, veil.Unauthorized),
    ("payload_too_large", 413, veil.PayloadTooLarge),
    ("unavailable", 503, veil.Unavailable),
    ("invalid_challenge", 403, veil.InvalidChallenge),
    ("too_many_requests", 429, veil.TooManyRequests),
    ("model_limit_reached", 507, veil.ModelLimitReached),
    ("internal", 500, veil.ServerError),
    ("bad_request", 400, veil.ServerError),
])
def test_server_codes_map_to_their_exception(code, status, cls):
    err = from_native(NativeLike("server", "refused", code, status, None, None))
    assert type(err) is cls
    assert isinstance(err, veil.ServerError) and isinstance(err, veil.VeilError)
    assert (err.code, err.status, str(err)) == (code, status, "refused")


def test_invalid_input_carries_the_expected_signature():
    sig = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 16]}],
           "outputs": [{"name": "y", "datatype": "INT64", "shape": [-1]}]}
    err = from_native(NativeLike("server", "bad", "invalid_input", 400, None, json.dumps(sig)))
    assert err.expected.inputs[0].shape == (None, 16)
    assert str(err.expected.outputs[0].dtype) == "int64"


def test_attestation_and_connection_kinds():
    err = from_native(NativeLike("attestation", "no", None, None, "measurement", None))
    assert isinstance(err, veil.AttestationError) and err.check == "measurement"
    err = from_native(NativeLike("connection", "down", None, None, None, None))
    assert isinstance(err, veil.ConnectionError) and isinstance(err, ConnectionError)
