"""Render the report files and write them only when their content changes."""

from __future__ import annotations

import gc
import json
import os
from collections.abc import Sequence

from .._common.errors import InputError
from .._common.files import open_atomic
from . import html_report, junit
from .results import Report, build_report, load_phases, read_sources

_COMPACT = {"separators": (",", ":")}
# Report pieces (mostly one test row each, ~100-250 bytes) joined per write.
_PIECES_PER_WRITE = 1024
# json.dumps(..., **_COMPACT) without building an encoder per call.
_dumps = json.JSONEncoder(**_COMPACT).encode


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
    if not any(lists):
        return [""] * len(lists)
    joined = ["\0".join(items) for items in lists]
    if "\\" in "".join(joined):
        return [f',"{key}":{_dumps(list(items))}' if items else "" for items in lists]
    prefix = f',"{key}":["'
    return [
        prefix + encoded.replace("\\u0000", '","') + '"]' if items else ""
        for encoded, items in zip(_encoded(joined), lists, strict=True)
    ]


def _json_durations(tests: list, times: list[str]) -> list[str]:
    """Each test's ``round(duration, 3)`` as JSON writes it, from the shared ``%.3f`` texts.

    ``round(x, 3)`` and ``"%.3f" % x`` round the same way (both are CPython's
    correctly rounded dtoa), so ``float(text)`` is ``round(x, 3)`` and its repr
    is what ``json.dumps`` writes; each distinct text is converted once.
    """
    as_json = {text: repr(float(text)) for text in set(times)}
    return ["null" if test.duration is None else as_json[text] for test, text in zip(tests, times, strict=True)]


def _tests_json(report: Report) -> list[str]:
    """The ``tests`` list's items, each after a comma: the text ``json.dumps`` writes, built in bulk."""
    tests = report.tests
    if not tests:
        return []
    test_ids = [test.test_id for test in tests]
    classnames = [test.classname for test in tests]
    names = [test.name for test in tests]
    if not report.plain_ids():
        # Printable ASCII without quote or backslash (nearly every run) is JSON as is,
        # and so are the class names and names cut from these ids; other ids are encoded.
        test_ids = _encoded(test_ids)
        classnames = _encoded(classnames)
        names = _encoded(names)
    rows = [
        f',{{"test_id":"{test_id}","classname":"{classname}","name":"{name}","outcome":"{test.outcome}",'
        f'"duration":{duration}{attrs}{tags}}}'
        for test, test_id, classname, name, duration, attrs, tags in zip(
            tests,
            test_ids,
            classnames,
            names,
            _json_durations(tests, report.times()),
            _string_lists("attrs", [test.attrs for test in tests]),
            _string_lists("tags", [test.tags for test in tests]),
            strict=True,
        )
    ]
    # Reruns, failures and skips carry more keys (between attrs and tags, or after): encoded one by one.
    for index in [index for index, test in enumerate(tests) if test.attempts > 1 or test.message or test.details]:
        rows[index] = "," + _dumps(tests[index].as_dict())
    return rows


def json_parts(report: Report) -> list[str]:
    """Summary, phases, damaged regions and every test, failures first: the JSON document as pieces to join.

    Joined, equal to ``json.dumps`` of the whole document with compact
    separators, but the test list (nearly all of it) is written in bulk: 5x faster.
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
    rows = _tests_json(report)
    if not rows:
        return [_dumps(head)[:-1] + ',"tests":[]}\n']
    rows[0] = _dumps(head)[:-1] + ',"tests":[' + rows[0][1:]
    rows.append("]}\n")
    return rows


def write_if_changed(option: str, path: str, content: str | list[str], check_mode: bool) -> bool:
    """Write ``content`` (a string, or pieces of one) to ``path`` atomically unless it already holds it.

    Return whether it changed.  Written aside and renamed, so a reader (a log
    server, a CI viewer) never sees half a report.  Pieces are joined and
    encoded a few hundred kB at a time: the whole document joined and then
    encoded would be two more copies of it, and in a fresh process every
    fresh megabyte costs ~250 page faults (about a millisecond here).
    """
    pieces = [content] if isinstance(content, str) else content
    try:
        with open(path, "rb") as current:
            if current.read() == "".join(pieces).encode("utf-8"):
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
    try:
        # Not fsynced: a report is remade from the subunit stream by the next
        # run, and readers see the old report or the new one either way.
        with open_atomic(path, 0o644, durable=False) as stream:
            for start in range(0, len(pieces), _PIECES_PER_WRITE):
                stream.write("".join(pieces[start : start + _PIECES_PER_WRITE]).encode("utf-8"))
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
    """Read the streams, write the requested files, return the module's result.

    The cyclic garbage collector is paused meanwhile (and resumed, even on an
    error): the records, results and rows made here hold no reference
    cycles, and on a big run its passes over those ~100,000 new containers
    cost ~3% of the time for nothing.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        report = build_report(read_sources(src), load_phases(phases), slowest=slowest)
        changed = []
        renderers = (
            ("json", json_path, lambda: json_parts(report)),
            ("junit", junit_path, lambda: junit.document_parts(report, suite_name)),
            ("html", html_path, lambda: html_report.page_parts(report, title)),
        )
        for option, path, render in renderers:
            if path and write_if_changed(option, path, render(), check_mode):
                changed.append(option)
    finally:
        if collecting:
            gc.enable()
    return {
        "changed": bool(changed),
        "changed_files": changed,
        "summary": report.summary(),
        "corruption": report.corruption(),
    }
