"""DLRN's request parameters: where they come from, their types, and one-line refusals.

DLRN reads GET parameters from the query string and, for old clients
(``dlrnapi-client`` still does it), from a JSON body when the request says
``Content-Type: application/json``; the query string wins.  POST bodies are
JSON objects.  DLRN answers a wrong type with a 500 or silently ignores a
misspelt field; here both are a 400 naming the field.
"""

from __future__ import annotations

import re
from typing import Any, Dict, Iterable, Mapping, Optional

from .errors import ApiError

# distutils.util.strtobool, which DLRN uses for every boolean (removed from
# Python 3.12, hence the table).
_TRUE = ("y", "yes", "t", "true", "on", "1")
_FALSE = ("n", "no", "f", "false", "off", "0")
_INT = re.compile(r"^\s*[+-]?\d+\s*$")


def bad(message: str) -> ApiError:
    """A 400 with ``message``."""
    return ApiError(400, message)


def only(params: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
    """Refuse fields outside ``allowed`` (DLRN ignores them, so a typo silently changed the query)."""
    extra = sorted(set(params) - set(allowed))
    if extra:
        raise bad(f"{where}: unknown parameter(s) {', '.join(extra)}; allowed: {', '.join(sorted(allowed))}")


def boolean(value: Any, name: str) -> Optional[bool]:
    """DLRN's ``strtobool`` (true/false, yes/no, on/off, 1/0, any case), plus JSON booleans; None stays None."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE:
        return True
    if isinstance(value, str) and value.strip().lower() in _FALSE:
        return False
    raise bad(f"{name} must be true or false, got {value!r}")


def integer(value: Any, name: str, *, minimum: Optional[int] = None, maximum: Optional[int] = None) -> int:
    """An integer given as a JSON number or a decimal string (what DLRN's ``int()`` takes)."""
    if isinstance(value, bool):
        raise bad(f"{name} must be an integer, got {value!r}")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and _INT.match(value):
        value = int(value)
    if not isinstance(value, int):
        raise bad(f"{name} must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise bad(f"{name} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise bad(f"{name} must be at most {maximum}, got {value}")
    return value


def text(value: Any, name: str, *, required: bool = False, max_length: int = 4096) -> Optional[str]:
    """A string field (None when absent and not ``required``)."""
    if value is None:
        if required:
            raise bad(f"Missing parameters: {name} is required")
        return None
    if not isinstance(value, str):
        raise bad(f"{name} must be a string, got {value!r}")
    if len(value) > max_length:
        raise bad(f"{name} is longer than {max_length} characters")
    return value


def merged(query: Mapping[str, str], body: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """GET parameters: the query string, then the deprecated JSON body for what the query lacks."""
    params: Dict[str, Any] = dict(body or {})
    params.update(query)
    return params
