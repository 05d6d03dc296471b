"""Why a vote or a promotion is refused, with the HTTP status DLRN 0.26.1 answers with.

``http_status`` lets a web API map each refusal without a table of its
own.  DLRN says 400 for a hash it does not know ("commit_hash+distro_hash+
extended_hash combination not found"), not 404, so :class:`UnknownHash` is
a 400.
"""

from __future__ import annotations

from .._common.errors import DistroforgeError


class PromoteError(DistroforgeError):
    """Base class: a one-line reason and the HTTP status an API answers with."""

    http_status = 400


class InvalidRequest(PromoteError):
    """Missing, extra or contradictory fields (both hash kinds at once, a bad type)."""

    http_status = 400


class UnknownHash(PromoteError):
    """No successful, published build (or promoted aggregate) has this hash: DLRN's 400."""

    http_status = 400


class ForbiddenLabel(PromoteError):
    """A label that must not be moved by a promotion (``current``, ``consistent``, a path): DLRN's 403."""

    http_status = 403


class Conflict(PromoteError):
    """The label moved meanwhile, or its link and the state DB disagree: 409."""

    http_status = 409


class CriteriaNotMet(PromoteError):
    """The hash lacks a successful vote of a required job (named in the message): 409."""

    http_status = 409


class PurgedHash(PromoteError):
    """The build was purged: DLRN's 410."""

    http_status = 410
