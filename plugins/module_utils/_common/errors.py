"""Exception hierarchy of the distroforge engine.

Every error a user can cause or fix carries one line that names the file or
variable, the field and what to do.  Modules turn these into ``fail_json``
in one place (:mod:`._common.module`), never into tracebacks.
"""

from __future__ import annotations


class DistroforgeError(Exception):
    """Base class: ``str(error)`` is the one-line message shown to the user."""

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.details = details


class InputError(DistroforgeError):
    """Bad input: a file, variable or field the user must fix."""


class CommandError(DistroforgeError):
    """An external command failed; ``details`` carry rc, the command and output tail."""
