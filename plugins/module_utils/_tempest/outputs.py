"""Render the report files and write them only when their content changes."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Dict, Optional, Sequence

from .._common.errors import InputError
from . import html_report, junit
from .results import Report, build_report, load_phases, read_sources


def render_json(report: Report) -> str:
    """Summary, phases, damaged regions and every test, failures first."""
    document = {
        "summary": report.summary(),
        "corruption": report.corruption(),
        "streams": [
            {"file": stream.path, "size": stream.size, "packets": stream.packets, "tests": stream.tests}
            for stream in report.streams
        ],
        "tests": [test.as_dict() for test in report.tests],
    }
    # Compact: with an indent, json falls back to its pure-Python encoder (5x slower).
    return json.dumps(document, separators=(",", ":")) + "\n"


def write_if_changed(option: str, path: str, content: str, check_mode: bool) -> bool:
    """Write ``content`` to ``path`` atomically unless it already holds it; return whether it changed.

    Written aside and renamed, so a reader (a log server, a CI viewer)
    never sees half a report.
    """
    target = Path(path)
    data = content.encode("utf-8")
    try:
        if target.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    except IsADirectoryError as exc:
        raise InputError(f"{option}: {path} is a directory; give a file name") from exc
    except OSError as exc:
        raise InputError(f"{option}: cannot read {path}: {exc.strerror}") from exc
    # Checked before check mode returns, so a dry run predicts this failure too.
    if not target.parent.is_dir():
        raise InputError(f"{option}: directory {target.parent} does not exist; create it before writing {target.name}")
    if check_mode:
        return True
    try:
        handle, aside = tempfile.mkstemp(prefix=f".{target.name}.", dir=str(target.parent))
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(data)
            os.chmod(aside, 0o644)
            os.replace(aside, target)
        except BaseException:
            Path(aside).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise InputError(f"{option}: cannot write {path}: {exc.strerror}") from exc
    return True


def run(
    src: Sequence[str],
    *,
    junit_path: Optional[str] = None,
    html_path: Optional[str] = None,
    json_path: Optional[str] = None,
    phases: Optional[Sequence[dict]] = None,
    suite_name: str = "tempest",
    title: str = "Tempest results",
    slowest: int = 10,
    check_mode: bool = False,
) -> Dict[str, object]:
    """Read the streams, write the requested files, return the module's result."""
    report = build_report(read_sources(src), load_phases(phases), slowest=slowest)
    changed = []
    renderers = (
        ("json", json_path, lambda: render_json(report)),
        ("junit", junit_path, lambda: junit.render(report, suite_name)),
        ("html", html_path, lambda: html_report.render(report, title)),
    )
    for option, path, render in renderers:
        if path and write_if_changed(option, path, render(), check_mode):
            changed.append(option)
    return {
        "changed": bool(changed),
        "changed_files": changed,
        "summary": report.summary(),
        "corruption": report.corruption(),
    }
