# Copyright: distroforge developers
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: tempest_skiplist
short_description: Pick the skip-list entries that apply to a Tempest run, and the expired ones
version_added: 0.1.0
description:
  - Validates a skip list (C({skips - [{test, reason, bug, releases, scenarios, expires}]})) and
    returns the entries that apply to this release and scenario, split into C(active) and
    C(expired) (past their C(expires) day), and how many do not apply.
  - Each expired entry carries a one-line C(message) naming it, its expiry and the file.
  - A malformed entry fails with the file, the entry index and the field.
author:
  - distroforge developers (@distroforge)
positional: release, scenario, today, source
options:
  _input:
    description: The skip list document, as loaded from YAML.
    type: dict
    required: true
  release:
    description: Release under test; entries whose C(releases) do not name it do not apply.
    type: str
    default: ""
  scenario:
    description: Scenario under test; entries whose C(scenarios) do not name it do not apply.
    type: str
    default: ""
  today:
    description: Date (YYYY-MM-DD) expiry is checked against; empty means today (UTC).
    type: str
    default: ""
  source:
    description: Name of the file, for messages.
    type: str
    default: skip list
"""

EXAMPLES = r"""
- name: Read the skip list for zed / scenario001
  ansible.builtin.set_fact:
    skips: "{{ lookup('ansible.builtin.file', 'skiplist.yml') | from_yaml
      | distroforge.openstack.tempest_skiplist('zed', 'scenario001', '', 'skiplist.yml') }}"
"""

RETURN = r"""
_value:
  description: C(active) and C(expired) entries (normalised, C(expires) as YYYY-MM-DD) and C(not_applicable), a count.
  type: dict
"""

import datetime
import re
from dataclasses import dataclass, field
from typing import Any

from ansible.errors import AnsibleFilterError

REQUIRED = ("test", "reason", "bug")
KNOWN = {*REQUIRED, "releases", "scenarios", "expires"}


class SkipListError(ValueError):
    """A malformed skip list; the message names the file, the entry and the field."""


@dataclass
class Selection:
    """Entries that apply, entries that apply but expired, and how many do not apply."""

    active: list[dict[str, Any]] = field(default_factory=list)
    expired: list[dict[str, Any]] = field(default_factory=list)
    not_applicable: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Plain data for Ansible."""
        return {"active": self.active, "expired": self.expired, "not_applicable": self.not_applicable}


def _date(value: Any, where: str) -> datetime.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(str(value))
    except ValueError as exc:
        raise SkipListError(f"{where}: expires: {value!r} is not a date; write it as YYYY-MM-DD") from exc


def _names(value: Any, where: str, key: str) -> list[str]:
    if value in (None, ""):
        return []
    if isinstance(value, (str, int, float)):
        return [str(value)]
    if isinstance(value, list):
        return [str(item) for item in value]
    raise SkipListError(f"{where}: {key}: expected a list of names, got {value!r}")


def _entry(entry: Any, where: str) -> dict[str, Any]:
    """Validate one entry and return it normalised (``expires`` as a date or None)."""
    if not isinstance(entry, dict):
        raise SkipListError(f"{where}: expected a mapping with {', '.join(REQUIRED)}, got {entry!r}")
    for key in REQUIRED:
        if not str(entry.get(key) or "").strip():
            raise SkipListError(f"{where}: '{key}' is missing; every skip needs {', '.join(REQUIRED)}")
    unknown = sorted(set(entry) - KNOWN)
    if unknown:
        raise SkipListError(f"{where}: unknown key(s) {', '.join(unknown)}; use {', '.join(sorted(KNOWN))}")
    try:
        re.compile(str(entry["test"]))
    except re.error as exc:
        raise SkipListError(f"{where}: test: {entry['test']!r} is not a valid regular expression: {exc}") from exc
    return {
        "test": str(entry["test"]),
        "reason": " ".join(str(entry["reason"]).split()),
        "bug": str(entry["bug"]),
        "releases": _names(entry.get("releases"), where, "releases"),
        "scenarios": _names(entry.get("scenarios"), where, "scenarios"),
        "expires": _date(entry.get("expires"), where),
    }


def select(
    document: Any, release: str = "", scenario: str = "", today: Any = None, source: str = "skip list"
) -> Selection:
    """Validate a skip-list document (``{skips: [...]}``) and split its entries for one run.

    ``today`` defaults to the current UTC date; an entry is valid through its
    ``expires`` day.  Empty ``release``/``scenario`` match only entries that do
    not restrict them.
    """
    if document in (None, ""):
        return Selection()
    if not isinstance(document, dict) or not isinstance(document.get("skips") or [], list):
        raise SkipListError(f"{source}: expected a mapping with a list 'skips', got {type(document).__name__}")
    day = datetime.datetime.now(datetime.UTC).date() if today in (None, "") else _date(today, f"{source}: today")
    selection = Selection()
    for index, raw in enumerate(document.get("skips") or []):
        entry = _entry(raw, f"{source}: skips[{index}]")
        if (entry["releases"] and release not in entry["releases"]) or (
            entry["scenarios"] and scenario not in entry["scenarios"]
        ):
            selection.not_applicable += 1
            continue
        expires = entry["expires"]
        entry["expires"] = expires.isoformat() if expires else ""
        if expires is not None and day > expires:
            entry["message"] = (
                f"skip list {source}: entry '{entry['test']}' (bug {entry['bug']}) expired on {entry['expires']}:"
                " fix or re-check the test, then remove the entry or extend 'expires'"
            )
            selection.expired.append(entry)
        else:
            selection.active.append(entry)
    return selection


def tempest_skiplist(
    document: Any, release: str = "", scenario: str = "", today: Any = None, source: str = "skip list"
) -> dict[str, Any]:
    """Jinja entry point: ``doc | tempest_skiplist(release, scenario, today, source)``."""
    try:
        return select(document, release, scenario, today, source).as_dict()
    except SkipListError as exc:
        raise AnsibleFilterError(str(exc)) from exc


class FilterModule:
    """Filters of the tempest_run role."""

    def filters(self) -> dict[str, Any]:
        """Name -> function."""
        return {"tempest_skiplist": tempest_skiplist}
