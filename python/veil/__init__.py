"""Veil: confidential inference with end-to-end encryption into a TEE.

Connect to a Veil server (its hardware attestation is verified before
anything is sent), upload an ONNX model, and predict with numpy arrays::

    import numpy as np
    import veil

    with veil.connect("http://127.0.0.1:8443", allow_simulation=True,
                      owner_token=open("veil-data/owner-token").read().strip()) as client:
        print(client.attestation)
        client.upload_model("mlp", "tests/models/mlp.onnx")
        out = client.predict("mlp", {"x": np.ones((2, 16), np.float32)})

Against real hardware, pass ``policy="policy.toml"`` naming the measurements
you trust instead of ``allow_simulation=True``. Every cryptographic and
attestation check runs in Rust (``veil._native``), the same code as the
``veil`` command line.
"""

from ._client import Client, connect
from ._errors import (
    AttestationError,
    ConnectionError,
    InvalidChallenge,
    InvalidInput,
    InvalidModel,
    ModelHashMismatch,
    ModelLimitReached,
    ModelNotFound,
    PayloadTooLarge,
    ServerError,
    TooManyRequests,
    Unauthorized,
    Unavailable,
    VeilError,
)
from ._native import __version__
from ._types import Attestation, EncryptedModel, ModelInfo, Signature, TensorSpec

__all__ = [
    "connect",
    "Client",
    "Attestation",
    "ModelInfo",
    "EncryptedModel",
    "Signature",
    "TensorSpec",
    "VeilError",
    "AttestationError",
    "ConnectionError",
    "ServerError",
    "ModelNotFound",
    "InvalidInput",
    "InvalidModel",
    "ModelHashMismatch",
    "Unauthorized",
    "PayloadTooLarge",
    "Unavailable",
    "InvalidChallenge",
    "TooManyRequests",
    "ModelLimitReached",
    "__version__",
]
