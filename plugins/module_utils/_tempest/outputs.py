"""Render the report files and write them only when their content changes."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence

from .._common.errors import InputError
from . import html_report, junit
from .results import Report, build_report, load_phases, read_sources

_COMPACT = {"separators": (",", ":")}
# json.dumps(..., **_COMPACT) without building an encoder per call.
_dumps = json.JSONEncoder(**_COMPACT).encode
# What json.dumps writes unchanged inside a string (ensure_ascii): printable ASCII but the quote and backslash.
_JSON_UNSAFE = re.compile(r"[^ !#-\[\]-~]")


def _encoded(values: list) -> list[str]:
    """JSON-encode many strings (without their quotes) or numbers with one ``json.dumps`` call.

    The list's encoding is split back at its separators: a comma between two
    encoded items is always followed by ``"`` (strings) or a digit/``n``
    (numbers), while inside an encoded string every ``"`` is escaped, so the
    split cannot cut an item.  Byte-for-byte what encoding each item alone gives.
    """
    if not values:
        return []
    if isinstance(values[0], str):
        return _dumps(values)[2:-2].split('","')
    return _dumps(values)[1:-1].split(",")


def _string_lists(key: str, lists: list[tuple[str, ...]]) -> list[str]:
    """``,"key":[...]`` for each non-empty tuple of strings, "" for an empty one, encoded in bulk.

    Each tuple is joined on NUL (test ids and tags never hold it: the parser
    refuses it), encoded as one string, and the encoded NUL becomes the
    separator.  A backslash in the text could make an escaped ``\\u0000``
    look like a NUL: then each list is encoded alone.
    """
    joined = ["\0".join(items) for items in lists]
    if "\\" in "".join(joined):
        return [f',"{key}":{_dumps(list(items))}' if items else "" for items in lists]
    prefix = f',"{key}":["'
    return [
        prefix + encoded.replace("\\u0000", '","') + '"]' if items else ""
        for encoded, items in zip(_encoded(joined), lists, strict=True)
    ]


def _tests_json(report: Report) -> str:
    """The ``tests`` list: the same text as ``json.dumps`` of every ``as_dict()``, built in bulk."""
    tests = report.tests
    if not tests:
        return "[]"
    test_ids = [test.test_id for test in tests]
    if _JSON_UNSAFE.search("".join(test_ids)) is None:
        # Printable ASCII without quote or backslash (nearly every run): JSON as is,
        # and so are the class names and names cut from these ids.
        classnames = [test.classname for test in tests]
        names = [test.name for test in tests]
    else:
        test_ids = _encoded(test_ids)
        classnames = _encoded([test.classname for test in tests])
        names = _encoded([test.name for test in tests])
    durations = _encoded([None if test.duration is None else round(test.duration, 3) for test in tests])
    rows = [
        f'{{"test_id":"{test_id}","classname":"{classname}","name":"{name}","outcome":"{test.outcome}",'
        f'"duration":{duration}{attrs}{tags}}}'
        for test, test_id, classname, name, duration, attrs, tags in zip(
            tests,
            test_ids,
            classnames,
            names,
            durations,
            _string_lists("attrs", [test.attrs for test in tests]),
            _string_lists("tags", [test.tags for test in tests]),
            strict=True,
        )
    ]
    # Reruns, failures and skips carry more keys (between attrs and tags, or after): encoded one by one.
    for index in [index for index, test in enumerate(tests) if test.attempts > 1 or test.message or test.details]:
        rows[index] = _dumps(tests[index].as_dict())
    return "[" + ",".join(rows) + "]"


def render_json(report: Report) -> str:
    """Summary, phases, damaged regions and every test, failures first.

    Equal to ``json.dumps`` of the whole document with compact separators,
    but the test list (nearly all of it) is written in bulk: 5x faster.
    """
    head = {
        "summary": report.summary(),
        "corruption": report.corruption(),
        "streams": [
            {"file": stream.path, "size": stream.size, "packets": stream.packets, "tests": stream.tests}
            for stream in report.streams
        ],
    }
    # Compact: with an indent, json falls back to its pure-Python encoder (5x slower).
    return _dumps(head)[:-1] + ',"tests":' + _tests_json(report) + "}\n"


def write_if_changed(option: str, path: str, content: str, check_mode: bool) -> bool:
    """Write ``content`` to ``path`` atomically unless it already holds it; return whether it changed.

    Written aside and renamed, so a reader (a log server, a CI viewer)
    never sees half a report.
    """
    data = content.encode("utf-8")
    try:
        with open(path, "rb") as current:
            if current.read() == data:
                return False
    except FileNotFoundError:
        pass
    except IsADirectoryError as exc:
        raise InputError(f"{option}: {path} is a directory; give a file name") from exc
    except OSError as exc:
        raise InputError(f"{option}: cannot read {path}: {exc.strerror}") from exc
    directory, name = os.path.split(os.path.abspath(path))
    # Checked before check mode returns, so a dry run predicts this failure too.
    if not os.path.isdir(directory):
        raise InputError(f"{option}: directory {directory} does not exist; create it before writing {name}")
    if check_mode:
        return True
    # os and not tempfile: tempfile's imports cost a cold process more than this whole write.
    aside = os.path.join(directory, f".{name}.{os.getpid()}.{os.urandom(4).hex()}")
    try:
        handle = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(data)
            os.chmod(aside, 0o644)
            os.replace(aside, path)
        except BaseException:
            if os.path.lexists(aside):
                os.unlink(aside)
            raise
    except OSError as exc:
        raise InputError(f"{option}: cannot write {path}: {exc.strerror}") from exc
    return True


def run(
    src: Sequence[str],
    *,
    junit_path: str | None = None,
    html_path: str | None = None,
    json_path: str | None = None,
    phases: Sequence[dict] | None = None,
    suite_name: str = "tempest",
    title: str = "Tempest results",
    slowest: int = 10,
    check_mode: bool = False,
) -> dict[str, object]:
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
