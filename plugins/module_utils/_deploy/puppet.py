"""Puppet runs as pipeline phases: what a ``puppet apply`` did, read from its own records.

``puppet apply --detailed-exitcodes`` exits 0 (no changes), 2 (changes),
4 (failures) or 6 (changes and failures); anything else is a failure to
run at all.  The counts come from ``last_run_summary.yaml`` (written with
``--lastrunfile``) and the changed resources and error lines from the
``--logdest`` file, so a phase says which resources changed, not only how
many.  ``puppet-openstack-integration``'s rule is the one applied: the
first run must succeed, the second must change nothing.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any, Dict, List, Optional, Tuple

PASSED = "passed"
FAILED = "failed"

# Exit codes of `puppet apply --detailed-exitcodes`.
RC_NO_CHANGES = 0
RC_CHANGES = 2
SUCCESS_CODES = (RC_NO_CHANGES, RC_CHANGES)

# How many changed resources or error lines a phase's details keep.
DETAILS_LIMIT = 200

# `--logdest <file>` lines: "<date> <time> <tz> <source> (<level>): <message>";
# console lines: "<Level>: <source>: <message>".
_FILE_LINE = re.compile(r"^\S+ \S+ [+-]\d{4} (?P<source>.*?) \((?P<level>[a-z]+)\): (?P<message>.*)$")
_CONSOLE_LINE = re.compile(
    r"^(?:\x1b\[[0-9;]*m)?(?P<level>Notice|Warning|Error|Info|Debug|Err|Crit|Alert|Emerg): "
    r"(?P<rest>.*?)(?:\x1b\[0m)?$"
)
# A resource path such as /Stage[main]/Keystone::Db/Keystone_config[database/connection]/ensure
_RESOURCE = re.compile(r"^/Stage\[[^\]]*\]/(?:.*/)?(?P<resource>[A-Z][\w:]*\[.*\])(?:/(?P<property>[\w-]+))?$")
_ERROR_LEVELS = {"err", "error", "crit", "alert", "emerg"}


@dataclass
class PuppetRun:
    """One finished ``puppet apply``, as the phase is made from it."""

    rc: int
    duration: float
    summary: Dict[str, Dict[str, Any]]
    log_text: str


@dataclass
class Phase:
    """A pipeline phase result, the shape ``tempest_results`` reads (``phases`` option)."""

    name: str
    status: str
    duration: float
    changed_resources: int
    message: str
    details: str

    def as_dict(self) -> Dict[str, Any]:
        """Plain data for the module result and the ``deploy_puppet_phases`` fact."""
        return asdict(self)


def _scalar(text: str) -> Any:
    value = text.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def parse_last_run_summary(text: str) -> Dict[str, Dict[str, Any]]:
    """Read Puppet's ``last_run_summary.yaml`` (sections of scalar keys) without a YAML library.

    The file is always two levels deep (``resources:``, ``time:``,
    ``changes:``, ``events:``, ``version:``), so a line parser is enough and
    the module runs on nodes that have no PyYAML.  Unknown shapes are skipped.
    """
    sections: Dict[str, Dict[str, Any]] = {}
    current: Optional[Dict[str, Any]] = None
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].rstrip()
        if not line.strip() or line.strip() == "---" or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.strip().partition(":")
        if not sep:
            continue
        if not line[0].isspace():
            current = {} if not value.strip() else None
            if current is not None:
                sections[key.strip()] = current
            continue
        if current is not None:
            current[key.strip()] = _scalar(value)
    return sections


def _int(summary: Dict[str, Dict[str, Any]], section: str, key: str) -> int:
    value = summary.get(section, {}).get(key, 0)
    return value if isinstance(value, int) else 0


def parse_log(text: str) -> Tuple[List[str], List[str]]:
    """The changed resources (in order, once each) and the error lines of a Puppet log.

    Reads both the ``--logdest <file>`` format and console output.  A
    resource counts as changed when a notice names one of its properties
    (``/ensure: created``, ``/content: content changed …``), as Puppet's
    own count does; refreshes (``Triggered 'refresh'``) follow a change
    elsewhere and are not counted.
    """
    changed: List[str] = []
    seen = set()
    errors: List[str] = []
    for raw in text.splitlines():
        line = raw.rstrip()
        match = _FILE_LINE.match(line)
        if match:
            level, source, message = match["level"], match["source"], match["message"]
        else:
            console = _CONSOLE_LINE.match(line)
            if not console:
                continue
            level = console["level"].lower()
            source, _sep, message = console["rest"].partition(": ")
            if not source.startswith("/Stage["):
                source, message = "", console["rest"]
        if level in _ERROR_LEVELS:
            errors.append(f"{source}: {message}" if source else message)
            continue
        if level != "notice" or not source.startswith("/Stage["):
            continue
        resource = _RESOURCE.match(source)
        if not resource:
            continue
        if resource["property"]:
            name = resource["resource"]
            if name not in seen:
                seen.add(name)
                changed.append(name)
    return changed, errors


def _details(lines: List[str], what: str) -> str:
    if len(lines) > DETAILS_LIMIT:
        lines = [*lines[:DETAILS_LIMIT], f"... and {len(lines) - DETAILS_LIMIT} more {what}"]
    return "\n".join(lines)


def make_phase(name: str, run: PuppetRun, *, expect_no_changes: bool) -> Phase:
    """Judge one run: a phase ``passed`` or ``failed``, with what changed or what went wrong.

    ``expect_no_changes`` is the idempotency rule: any change fails the phase.
    """
    changed_list, errors = parse_log(run.log_text)
    failures = _int(run.summary, "resources", "failed") + _int(run.summary, "events", "failure")
    failures += _int(run.summary, "resources", "failed_to_restart")
    counted = _int(run.summary, "resources", "changed")
    changed = max(counted, len(changed_list))
    duration = round(run.duration, 1)
    if run.rc not in SUCCESS_CODES or failures:
        if not run.summary:
            message = f"puppet apply exited {run.rc} before applying the catalog (no last_run_summary.yaml)"
        else:
            message = f"puppet apply exited {run.rc}: {failures} failed resources or events"
        if errors:
            message += f"; first error: {errors[0]}"
        return Phase(name, FAILED, duration, changed, message, _details(errors or changed_list, "lines"))
    if expect_no_changes and (changed or run.rc == RC_CHANGES):
        message = f"the run changed {changed} resources; a second apply must change nothing"
        return Phase(name, FAILED, duration, changed, message, _details(changed_list, "resources"))
    message = f"puppet apply exited {run.rc}: {changed} resources changed"
    return Phase(name, PASSED, duration, changed, message, _details(changed_list, "resources"))
