"""Label names and where a label's symlink lives and points, in DLRN's layout.

Without components a label is ``repos/<label> -> <h[0:2]>/<h[2:4]>/<hash>``;
with components it is ``repos/component/<c>/<label> -> <h[0:2]>/<h[2:4]>/<hash>``
(relative to the component directory, as DLRN strips ``component/<c>/``) and
``repos/<label>/`` holds the label's aggregate.
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path
from typing import Optional

from .._publish.layout import Layout
from .._statedb.db import RESERVED_LABELS
from .errors import ForbiddenLabel

PREVIOUS = "previous-"
# What DLRN's promote_name column holds (String(256)); the characters are
# the state DB's label rule, which keeps a label one path component.
MAX_LABEL = 255
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
# Names the layout already uses at the top of repos/ (and the shard
# directories ``xx`` of builds, which are two hex digits).
_TAKEN = ("component",)
_SHARD = re.compile(r"^[0-9a-f]{2}$")
# A build's directory name and the aggregate hash.
_BUILD_DIR = re.compile(r"^([0-9a-f]{4,64})_([0-9a-f]{8})$")


def check_label(label: object, *, allow_previous: bool = False, what: str = "label") -> str:
    """Return ``label`` if a promotion may move it, else raise ForbiddenLabel (DLRN's 403) saying why."""
    if not isinstance(label, str) or not label:
        raise ForbiddenLabel(f"{what} must be a non-empty string, got {label!r}")
    if label in RESERVED_LABELS:
        raise ForbiddenLabel(
            f"{what} {label!r} is moved by every build, never by a promotion: promote to another label"
        )
    if len(label) > MAX_LABEL or not _LABEL.match(label) or label in _TAKEN or _SHARD.match(label):
        raise ForbiddenLabel(
            f"{what} {label!r} is not a label name: use letters, digits, '.', '_' and '-' (no path, no"
            " leading dot, not 'component' or two hex digits, at most 255 characters)"
        )
    if label.startswith(PREVIOUS) and not allow_previous:
        raise ForbiddenLabel(
            f"{what} {label!r}: previous-<label> is kept by the promotion of <label> itself; promote"
            f" {label[len(PREVIOUS) :]!r} instead"
        )
    return label


def previous_of(label: str) -> str:
    """The label that keeps where ``label`` pointed before its last move."""
    return f"{PREVIOUS}{label}"


@dataclasses.dataclass(frozen=True)
class LabelLink:
    """One label symlink: its path and the directory its relative target starts from."""

    layout: Layout
    label: str
    component: Optional[str]

    @property
    def base(self) -> Path:
        """The directory holding the link (``repos/`` or ``repos/component/<c>/``)."""
        if self.layout.use_components:
            return self.layout.repos_dir / "component" / str(self.component)
        return self.layout.repos_dir

    @property
    def path(self) -> Path:
        """The symlink itself."""
        return self.base / self.label

    @property
    def rel(self) -> str:
        """The link's path relative to ``repos/`` (how results and the journal name it)."""
        return str(self.path.relative_to(self.layout.repos_dir))

    def target_for(self, commit_hash: str, distro_hash: str) -> str:
        """The relative target a promotion of this build writes (``xx/yy/<commit>_<distgit8>``)."""
        return os.path.relpath(self.layout.commit_dir(commit_hash, distro_hash, self.component), self.base)

    def read(self) -> Optional[str]:
        """Where the link points now (its raw target), None when there is no link.

        A real file or directory in its place is refused: a promotion would
        have to destroy it.
        """
        try:
            return os.readlink(self.path)
        except FileNotFoundError:
            return None
        except OSError:
            if self.path.exists():
                raise ForbiddenLabel(
                    f"{self.path} is a real file or directory, not a label link: choose another label name"
                ) from None
            raise


def repo_hash_of(target: Optional[str]) -> Optional[str]:
    """``<commit>_<distgit8>`` named by a label target (``xx/yy/<commit>_<distgit8>``), or None."""
    if not target:
        return None
    name = target.rstrip("/").rsplit("/", 1)[-1]
    return name if _BUILD_DIR.match(name) else None
