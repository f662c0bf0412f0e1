"""Veil's exceptions, and the translation from the native module's errors."""

from __future__ import annotations

import builtins
import json
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from ._types import Signature

__all__ = [
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
]


class VeilError(Exception):
    """Base class of every error the Veil SDK raises.

    ``code`` is the server's machine-readable error code (``None`` when the
    error did not come from the server), ``status`` its HTTP status.
    """

    code: Optional[str] = None
    status: Optional[int] = None

    def __init__(self, message: str, *, code: Optional[str] = None, status: Optional[int] = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status


class AttestationError(VeilError):
    """The server's attestation did not verify; nothing was sent to it.

    ``check`` names the check that failed: ``simulation_not_allowed``,
    ``platform``, ``format``, ``chain``, ``signature``, ``freshness``,
    ``measurement``, ``debug``, ``tcb``, ``report_data`` or ``policy``.
    """

    def __init__(self, message: str, *, check: str):
        super().__init__(message)
        self.check = check


class ConnectionError(VeilError, builtins.ConnectionError):
    """The server could not be reached, or the transport failed."""


class ServerError(VeilError):
    """The server refused the request; ``code`` says why."""


class ModelNotFound(ServerError):
    """No model of that name is served."""


class InvalidInput(ServerError):
    """The inputs do not fit the model.

    ``expected`` is the model's signature (its inputs' names, dtypes and
    shapes), when the server sent it.
    """

    def __init__(self, message: str, *, code: Optional[str] = None, status: Optional[int] = None,
                 expected: Optional["Signature"] = None):
        super().__init__(message, code=code, status=status)
        self.expected = expected


class InvalidModel(ServerError):
    """The uploaded bytes are not a model the engine can serve (ONNX Runtime's reason is in the message)."""


class ModelHashMismatch(ServerError):
    """The model served under that name is not the one with the expected SHA-256."""


class Unauthorized(ServerError):
    """The owner token or API key is missing or wrong."""


class PayloadTooLarge(ServerError):
    """The request, model or tensor exceeds a limit the server is configured with."""


class Unavailable(ServerError):
    """The model's queue is full (HTTP 503): retry after a short pause."""


class InvalidChallenge(ServerError):
    """An upload or delete was refused as a possible replay (HTTP 403): its
    single-use server challenge was missing, unknown, expired or already used.

    The SDK fetches a fresh challenge for every upload and delete, so this
    means the request itself was replayed or sent long after it was made.
    """


class ModelLimitReached(ServerError):
    """An upload under a new name while the server holds its maximum number
    of models (HTTP 507): delete a model first."""


class TooManyRequests(ServerError):
    """Too many failed authentication attempts (HTTP 429): the server checks
    no token for a while; retry after a pause."""


_BY_CODE = {
    "model_not_found": ModelNotFound,
    "invalid_input": InvalidInput,
    "invalid_model": InvalidModel,
    "model_hash_mismatch": ModelHashMismatch,
    "unauthorized": Unauthorized,
    "payload_too_large": PayloadTooLarge,
    "unavailable": Unavailable,
    "invalid_challenge": InvalidChallenge,
    "too_many_requests": TooManyRequests,
    "model_limit_reached": ModelLimitReached,
}


def from_native(err: BaseException) -> VeilError:
    """The public exception for a ``veil._native.NativeError``."""
    kind, message, code, status, check, expected_json = err.args
    if kind == "attestation":
        return AttestationError(message, check=check or "unknown")
    if kind == "attestation_policy":
        return AttestationError(message, check="policy")
    if kind == "connection":
        return ConnectionError(message)
    if kind == "input":
        return InvalidInput(message)
    if kind == "server":
        cls = _BY_CODE.get(code, ServerError)
        if cls is InvalidInput:
            from ._types import Signature

            expected = Signature.from_json(json.loads(expected_json)) if expected_json else None
            return InvalidInput(message, code=code, status=status, expected=expected)
        return cls(message, code=code, status=status)
    return VeilError(message)
