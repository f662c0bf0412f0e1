"""``veil.connect`` and the ``Client`` it returns."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Union

import numpy as np

from . import _native
from ._errors import InvalidInput, VeilError, from_native
from ._types import Attestation, EncryptedModel, ModelInfo, Signature

__all__ = ["connect", "Client"]

ArrayLike = Any
ModelSource = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, Any]

_SUPPORTED = frozenset(
    ["bool", "uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64",
     "float16", "float32", "float64"]
)


def _call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except _native.NativeError as e:
        raise from_native(e) from None


def _policy_text(policy: Union[None, str, "os.PathLike[str]"]) -> Optional[str]:
    if policy is None:
        return None
    text = os.fspath(policy)
    if "\n" not in text and "=" not in text:
        return Path(text).read_text()
    return text


def connect(
    url: str,
    *,
    policy: Union[None, str, "os.PathLike[str]"] = None,
    allow_simulation: bool = False,
    timeout: float = 30.0,
    owner_token: Optional[str] = None,
    api_key: Optional[str] = None,
) -> "Client":
    """Connect to a Veil server after verifying its attestation.

    The server's evidence is fetched with a fresh nonce and checked against
    ``policy`` (a path to a policy TOML file, or its text) before anything
    else is sent; the returned client encrypts every request end to end to
    the key that evidence binds.

    Args:
        url: the server, e.g. ``"http://127.0.0.1:8443"``.
        policy: the measurements (and platforms, TCB floor) to trust.
        allow_simulation: DANGER: accept the ``simulated`` development
            platform, which proves nothing about the server.
        timeout: seconds allowed for each exchange.
        owner_token: token for uploads and deletes (sent only encrypted).
        api_key: key for inference, if the server requires one.

    Raises:
        AttestationError: the evidence did not verify (``.check`` says which check).
        ConnectionError: the server could not be reached.
    """
    native = _call(
        _native.NativeClient.connect,
        url,
        policy_toml=_policy_text(policy),
        allow_simulation=allow_simulation,
        timeout=timeout,
        owner_token=owner_token,
        api_key=api_key,
    )
    return Client(native)


def _as_array(value: ArrayLike, name: str) -> np.ndarray:
    """A C-contiguous little-endian numpy array of ``value``, without copying when possible."""
    module = type(value).__module__
    if module.startswith("torch"):  # a torch.Tensor: no need to import torch
        value = value.detach().cpu().numpy()
    array = np.asarray(value)
    if array.dtype.name not in _SUPPORTED:
        raise InvalidInput(
            f"input {name!r} has dtype {array.dtype}, which Veil does not support "
            f"(supported: {', '.join(sorted(_SUPPORTED))})"
        )
    if array.dtype.byteorder == ">" or (array.dtype.byteorder == "=" and sys.byteorder == "big"):
        array = array.astype(array.dtype.newbyteorder("<"))
    return np.ascontiguousarray(array).reshape(array.shape)


def _has_dtype(value: Any) -> bool:
    """Whether ``value`` carries its own dtype (numpy arrays and scalars, torch tensors)."""
    return isinstance(value, (np.ndarray, np.generic)) or type(value).__module__.startswith("torch")


def _progress_callback(
    progress: Union[bool, Callable[[int, int], None]], name: str, verb: str = "uploading"
):
    if callable(progress):
        return progress, lambda: None
    if not progress:
        return None, lambda: None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        tqdm = None
    if tqdm is not None:
        bar = tqdm(total=0, unit="B", unit_scale=True, unit_divisor=1024, desc=f"{verb} {name}")

        def update(sent: int, total: int) -> None:
            bar.total = total
            bar.n = sent
            bar.refresh()

        return update, bar.close

    state = {"last": -1}

    def text(sent: int, total: int) -> None:
        pct = 100 * sent // total if total else 100
        if pct != state["last"] and (pct % 5 == 0 or sent == total):
            state["last"] = pct
            sys.stderr.write(f"\r{verb} {name}: {pct:3d}% ({sent}/{total} bytes)")
            sys.stderr.flush()

    return text, lambda: sys.stderr.write("\n") if state["last"] >= 0 else None


class Client:
    """A connection to a Veil server whose attestation verified.

    Made by :func:`connect`. Safe to share between threads; a context
    manager (``with veil.connect(...) as client:``).
    """

    def __init__(self, native: "_native.NativeClient"):
        self._native = native
        self._attestation = Attestation.from_json(native.attestation_json())

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the connection (idempotent; later calls raise ``VeilError``)."""
        self._native = None  # type: ignore[assignment]

    def _n(self) -> "_native.NativeClient":
        if self._native is None:
            raise VeilError("the client is closed")
        return self._native

    def __repr__(self) -> str:
        a = self._attestation
        sim = ", SIMULATED" if a.simulated else ""
        where = "closed" if self._native is None else self._native.url
        return f"<veil.Client {where} platform={a.platform}{sim} measurement={a.measurement[:16]}…>"

    @property
    def url(self) -> str:
        """The server's URL."""
        return self._n().url

    @property
    def attestation(self) -> Attestation:
        """The claims the server's evidence proved (verified at connect)."""
        return self._attestation

    @property
    def server_version(self) -> str:
        """The server's self-reported version (informational; the measurement is what counts)."""
        return self._n().server_version

    def models(self) -> List[Dict[str, Any]]:
        """The models the server serves: name, state, SHA-256 and size of each."""
        return json.loads(_call(self._n().models_json))

    def model(self, name: str) -> ModelInfo:
        """One model's SHA-256, inputs and outputs.

        Raises:
            ModelNotFound: no model of that name.
        """
        return ModelInfo.from_json(json.loads(_call(self._n().model_json, name)))

    def upload_model(
        self,
        name: str,
        model: ModelSource,
        *,
        owner_token: Optional[str] = None,
        progress: Union[bool, Callable[[int, int], None]] = True,
    ) -> ModelInfo:
        """Upload an ONNX model as its owner, encrypted end to end.

        Args:
            name: model name (letters, digits, ``.``, ``_``, ``-``).
            model: a path to an ``.onnx`` file (streamed, never held whole in
                memory), the model's bytes, or an ``onnx.ModelProto``; or a
                model encrypted to this server's model key by
                :meth:`encrypt_model` (a file or its bytes), which the server
                opens inside the TEE.
            owner_token: the owner token (default: the one given to ``connect``).
            progress: show a progress bar (tqdm if installed), or a callable
                ``progress(sent_bytes, total_bytes)``.

        Raises:
            Unauthorized: no or wrong owner token.
            TooManyRequests: too many failed authentications; retry after a pause.
            InvalidModel: ONNX Runtime cannot load the model (its reason is in the
                message), or an encrypted model was encrypted to another
                server's key, changed or cut.
            PayloadTooLarge: the model exceeds the server's limit.

        The upload carries a fresh single-use server challenge, fetched
        first, so a replay of it changes nothing.
        """
        callback, done = _progress_callback(progress, name)
        try:
            if isinstance(model, (str, os.PathLike)):
                info = _call(self._n().upload_file, name, os.fspath(model), owner_token, callback)
            else:
                if hasattr(model, "SerializeToString"):  # onnx.ModelProto
                    model = model.SerializeToString()
                data = memoryview(model).cast("B")
                info = _call(self._n().upload_bytes, name, data, owner_token, callback)
        finally:
            done()
        return ModelInfo.from_json(json.loads(info))

    def encrypt_model(
        self,
        model: ModelSource,
        output: Union[None, str, "os.PathLike[str]"] = None,
        *,
        progress: Union[bool, Callable[[int, int], None]] = False,
    ) -> EncryptedModel:
        """Encrypt a model to this server's model key, for upload later.

        The key is fetched inside the attested channel, so it belongs to the
        TEE whose attestation verified. The encrypted model can be handed to
        whoever uploads it (:meth:`upload_model` with the owner token): only
        that TEE opens it, so the weights are never in plaintext outside
        this machine and the TEE. The key derives from the server's sealing
        key: it stays the same across restarts of the same TEE and data.

        Args:
            model: a path to an ``.onnx`` file (streamed), the model's bytes,
                or an ``onnx.ModelProto``.
            output: where to write the encrypted model (replaced atomically);
                if ``None``, the encrypted bytes are returned in ``.data``.
            progress: show a progress bar, or a callable
                ``progress(done_bytes, total_bytes)`` (files only).

        Returns:
            An :class:`EncryptedModel`: the key id, the model's SHA-256 (what
            the server reports once it serves the model) and sizes.
        """
        if isinstance(model, (str, os.PathLike)) and output is not None:
            callback, done = _progress_callback(progress, os.fspath(model), "encrypting")
            try:
                summary = _call(
                    self._n().encrypt_model_file, os.fspath(model), os.fspath(output), callback
                )
            finally:
                done()
            return EncryptedModel.from_json(json.loads(summary), path=os.fspath(output))
        if isinstance(model, (str, os.PathLike)):
            model = Path(model).read_bytes()
        elif hasattr(model, "SerializeToString"):  # onnx.ModelProto
            model = model.SerializeToString()
        encrypted, summary = _call(self._n().encrypt_model_bytes, memoryview(model).cast("B"))
        if output is None:
            return EncryptedModel.from_json(json.loads(summary), data=encrypted)
        tmp = Path(os.fspath(output) + f".partial-{os.getpid()}")
        try:
            with open(tmp, "wb") as f:
                f.write(encrypted)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, output)
        finally:
            tmp.unlink(missing_ok=True)
        return EncryptedModel.from_json(json.loads(summary), path=os.fspath(output))

    def delete_model(self, name: str, *, owner_token: Optional[str] = None) -> None:
        """Delete a model as its owner.

        Raises:
            ModelNotFound: no model of that name.
            Unauthorized: no or wrong owner token.
            TooManyRequests: too many failed authentications; retry after a pause.

        Like uploads, deletes carry a fresh single-use server challenge.
        """
        _call(self._n().delete_model, name, owner_token)

    def predict(
        self,
        name: str,
        inputs: Union[Mapping[str, ArrayLike], ArrayLike],
        *,
        outputs: Optional[Iterable[str]] = None,
        expected_sha256: Optional[str] = None,
    ) -> Dict[str, np.ndarray]:
        """Run the model on ``inputs`` and return its outputs by name.

        Args:
            name: the model.
            inputs: a dict of input name to array-like (numpy arrays of any
                supported dtype, torch tensors, nested lists or scalars), or
                one array-like for a model with exactly one input. Arrays and
                tensors are sent with their own dtype; lists and scalars are
                converted to the dtype the model declares.
            outputs: only these outputs (default: all).
            expected_sha256: refuse to run unless the served model has this
                SHA-256, so the server cannot swap the model under you.

        Raises:
            InvalidInput: the inputs do not fit (``.expected`` holds the model's signature).
            ModelNotFound: no model of that name.
            ModelHashMismatch: the model is not the expected one.
        """
        if not isinstance(inputs, Mapping):
            inputs = {None: inputs}
        # Arrays and tensors keep their dtype; lists and scalars take the
        # model's (one metadata round trip, only when such inputs are given).
        untyped = [k for k, v in inputs.items() if not _has_dtype(v)]
        spec = self.model(name) if untyped or None in inputs else None
        if None in inputs:
            if len(spec.inputs) != 1:
                raise InvalidInput(
                    f"model {name!r} has {len(spec.inputs)} inputs: pass a dict of name to array",
                    expected=Signature(spec.inputs, spec.outputs),
                )
            inputs = {spec.inputs[0].name: inputs[None]}
        dtypes = {s.name: s.dtype for s in spec.inputs} if spec else {}
        native_inputs = []
        for input_name, value in inputs.items():
            if not _has_dtype(value) and input_name in dtypes:
                value = np.asarray(value, dtype=dtypes[input_name])
            array = _as_array(value, input_name)
            raw = memoryview(array.reshape(-1).view(np.uint8)) if array.size else memoryview(b"")
            native_inputs.append((input_name, array.dtype.name, list(array.shape), raw))
        names = None if outputs is None else [str(o) for o in outputs]
        result = _call(self._n().infer, name, native_inputs, names, expected_sha256)
        return {
            out_name: raw.view(np.dtype(dtype).newbyteorder("<")).reshape(shape).astype(dtype, copy=False)
            for out_name, dtype, shape, raw in result
        }
