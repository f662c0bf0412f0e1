"""Type stubs of the native module (Rust, PyO3). Use the ``veil`` package's API instead."""

from typing import Callable, List, Optional, Sequence, Tuple, final

import numpy as np
import numpy.typing as npt

__all__ = ["NativeClient", "NativeError", "__version__"]

__version__: str

class NativeError(Exception):
    """Raised with args (kind, message, code, status, check, expected_json)."""

@final
class NativeClient:
    """A connection to a Veil server whose attestation verified."""

    @staticmethod
    def connect(
        url: str,
        policy_toml: Optional[str] = None,
        allow_simulation: bool = False,
        timeout: float = 30.0,
        owner_token: Optional[str] = None,
        api_key: Optional[str] = None,
    ) -> NativeClient: ...
    def attestation_json(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def server_version(self) -> str: ...
    def server_metadata_json(self) -> str: ...
    def models_json(self) -> str: ...
    def model_json(self, name: str) -> str: ...
    def delete_model(self, name: str, owner_token: Optional[str] = None) -> None: ...
    def upload_file(
        self,
        name: str,
        path: str,
        owner_token: Optional[str] = None,
        progress: Optional[Callable[[int, int], object]] = None,
    ) -> str: ...
    def upload_bytes(
        self,
        name: str,
        data: memoryview,
        owner_token: Optional[str] = None,
        progress: Optional[Callable[[int, int], object]] = None,
    ) -> str: ...
    def encrypt_model_file(
        self,
        path: str,
        output: str,
        progress: Optional[Callable[[int, int], object]] = None,
    ) -> str: ...
    def encrypt_model_bytes(self, data: memoryview) -> Tuple[bytes, str]: ...
    def infer(
        self,
        name: str,
        inputs: Sequence[Tuple[str, str, Sequence[int], memoryview]],
        outputs: Optional[Sequence[str]] = None,
        expected_sha256: Optional[str] = None,
    ) -> List[Tuple[str, str, List[int], npt.NDArray[np.uint8]]]: ...
