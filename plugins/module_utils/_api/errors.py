"""The one error an API handler raises: an HTTP status and DLRN's ``{"message": ...}`` body."""

from __future__ import annotations

from typing import Any, Dict, Optional

from .._common.errors import DistroforgeError


class ApiError(DistroforgeError):
    """A refused request: ``status`` is the HTTP code, ``str(self)`` the one-line message."""

    def __init__(self, status: int, message: str, headers: Optional[Dict[str, str]] = None) -> None:
        super().__init__(message)
        self.status = status
        self.headers = dict(headers or {})

    def body(self) -> Dict[str, Any]:
        """DLRN's error document."""
        return {"message": str(self)}


def from_engine(exc: DistroforgeError) -> ApiError:
    """An engine refusal (``http_status`` on the promote errors, 400 for any other input error) as an ApiError."""
    return ApiError(int(getattr(exc, "http_status", 400)), str(exc))
