"""The values the SDK returns: model signatures, model info, attestation claims."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

__all__ = ["TensorSpec", "Signature", "ModelInfo", "Attestation"]

# The Open Inference Protocol's datatype names and their numpy dtypes.
_OIP_TO_NUMPY = {
    "BOOL": "bool",
    "UINT8": "uint8",
    "UINT16": "uint16",
    "UINT32": "uint32",
    "UINT64": "uint64",
    "INT8": "int8",
    "INT16": "int16",
    "INT32": "int32",
    "INT64": "int64",
    "FP16": "float16",
    "FP32": "float32",
    "FP64": "float64",
}


@dataclass(frozen=True)
class TensorSpec:
    """One input or output of a model.

    ``shape`` has ``None`` for each dynamic dimension (any size).
    """

    name: str
    dtype: np.dtype
    shape: Tuple[Optional[int], ...]

    @classmethod
    def from_json(cls, obj: Dict[str, Any]) -> "TensorSpec":
        dtype = np.dtype(_OIP_TO_NUMPY[obj["datatype"]])
        shape = tuple(None if d < 0 else int(d) for d in obj["shape"])
        return cls(name=obj["name"], dtype=dtype, shape=shape)

    def __str__(self) -> str:
        dims = ", ".join("?" if d is None else str(d) for d in self.shape)
        return f"{self.name}: {self.dtype}[{dims}]"


@dataclass(frozen=True)
class Signature:
    """What a model takes and returns."""

    inputs: List[TensorSpec]
    outputs: List[TensorSpec]

    @classmethod
    def from_json(cls, obj: Dict[str, Any]) -> "Signature":
        return cls(
            inputs=[TensorSpec.from_json(s) for s in obj.get("inputs", [])],
            outputs=[TensorSpec.from_json(s) for s in obj.get("outputs", [])],
        )

    def __str__(self) -> str:
        ins = ", ".join(map(str, self.inputs))
        outs = ", ".join(map(str, self.outputs))
        return f"({ins}) -> ({outs})"


@dataclass(frozen=True)
class ModelInfo:
    """A model the server serves: its name, SHA-256 and signature."""

    name: str
    sha256: str
    inputs: List[TensorSpec]
    outputs: List[TensorSpec]
    size_bytes: Optional[int] = None

    @classmethod
    def from_json(cls, obj: Dict[str, Any]) -> "ModelInfo":
        sig = Signature.from_json(obj)
        return cls(
            name=obj["name"],
            sha256=obj["sha256"],
            inputs=sig.inputs,
            outputs=sig.outputs,
            size_bytes=obj.get("size_bytes"),
        )


@dataclass(frozen=True)
class EncryptedModel:
    """A model encrypted to a server's model key by ``Client.encrypt_model``.

    ``key_id`` is the SHA-256 of the key it is encrypted to; ``sha256`` is the
    plaintext model's, which the server reports once it serves the model (pin
    it with ``predict(..., expected_sha256=...)``). The encrypted model is in
    the file ``path``, or in ``data`` when no output path was given.
    """

    key_id: str
    sha256: str
    model_bytes: int
    encrypted_bytes: int
    path: Optional[str] = None
    data: Optional[bytes] = None

    @classmethod
    def from_json(
        cls, obj: Dict[str, Any], *, path: Optional[str] = None, data: Optional[bytes] = None
    ) -> "EncryptedModel":
        return cls(
            key_id=obj["key_id"],
            sha256=obj["sha256"],
            model_bytes=obj["model_bytes"],
            encrypted_bytes=obj["encrypted_bytes"],
            path=path,
            data=data,
        )


@dataclass(frozen=True)
class Attestation:
    """What the server's attestation proved, verified before anything was sent.

    ``simulated`` is true for the development platform, which proves nothing
    about the hardware. ``claims`` holds every verified claim as the Rust
    verifier reports it (TCB and firmware details where the platform has them).
    """

    platform: str
    measurement: str
    simulated: bool
    debug: bool
    report_data: str
    verified_at: int
    claims: Dict[str, Any] = field(repr=False)

    @classmethod
    def from_json(cls, text: str) -> "Attestation":
        claims = json.loads(text)
        return cls(
            platform=claims["platform"],
            measurement=claims["measurement"],
            simulated=bool(claims["simulated"]),
            debug=bool(claims.get("debug", False)),
            report_data=claims["report_data"],
            verified_at=int(claims["verified_at"]),
            claims=claims,
        )
