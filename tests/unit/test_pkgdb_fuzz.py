"""Property tests (hypothesis) of the pkgdb loader on broken databases, bounded to a few seconds each.

Starting from the fixture database (6 files, every rdoinfo feature the public database uses),
each example breaks it one way and loads it, with and without a release:

1. a value of the wrong type (or a renamed or removed key) at any place of any file;
2. a file re-encoded (Latin-1, UTF-16, UTF-32, CP1252) after non-ASCII text is put in it;
3. a file cut at any byte;
4. a few random bytes of a file flipped, inserted or deleted.

Whatever the damage, the loader either loads the database (and the result is plain JSON data, as
the module returns it) or raises InputError whose message is one line naming a file of the
database. Any other exception fails the test. A fifth test proves the hand-written template check
against Python's % operator, which distroinfo substitutes with.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import InputError
from ansible_collections.distroforge.openstack.plugins.module_utils._pkgdb import loader

FIXTURE = Path(__file__).parent / "fixtures" / "pkgdb"
FILES = {str(p.relative_to(FIXTURE)): p.read_bytes() for p in sorted(FIXTURE.rglob("*.yml"))}
DATA = {name: yaml.safe_load(content) for name, content in FILES.items()}
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def places(node, where=()):
    """Every place in a file's data: the path of keys and indexes to it."""
    yield where
    if isinstance(node, dict):
        for key, value in node.items():
            yield from places(value, (*where, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from places(value, (*where, index))


PLACES = [(name, where) for name, data in DATA.items() for where in places(data) if where]

# What a user types by mistake or an attacker on purpose, YAML's implicit types included.
TEMPLATE_TEXT = st.text(alphabet="%()sdx2F/:.-ab \n\t", max_size=16)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.text(max_size=16),
    TEMPLATE_TEXT,
    st.sampled_from(["", "../../etc/passwd", "/etc/passwd", "zed", "core", "a@b.c", "https://x/y", "tags.yml"]),
    st.dates(min_value=datetime.date(1, 1, 1)),
    st.binary(max_size=6),
)
KEYS = st.one_of(st.text(max_size=8), st.integers(), st.booleans(), st.none(), st.sampled_from(["tags", "zed", "name"]))
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=6,
)
RELEASES = st.sampled_from([None, "zed", "antelope"])


def write_db(root: Path, files: dict[str, bytes]) -> Path:
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content)
    return root / "rdo-full.yml"


def assert_loads_or_one_line(files: dict[str, bytes], release: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "db"
        entry = write_db(root, files)
        try:
            db = loader.read(str(entry), release=release)
            json.dumps([db.packages, db.releases, db.files])  # what the module returns
            event("loads")
        except InputError as exc:
            event("refused")  # pytest --hypothesis-show-statistics shows the share
            message = str(exc)
            assert len(message.splitlines()) == 1 and "\n" not in message, message
            assert message.startswith(f"{root}{os.sep}"), message


def damaged(name: str, content: bytes) -> dict[str, bytes]:
    return {**FILES, name: content}


@st.composite
def wrong_type(draw):
    name, where = draw(st.sampled_from(PLACES))
    data = yaml.safe_load(FILES[name])
    parent = data
    for step in where[:-1]:
        parent = parent[step]
    last = where[-1]
    action = draw(st.sampled_from(["set", "set", "set", "rename", "remove"]))
    if action == "set":
        parent[last] = draw(VALUES)
    elif action == "rename" and isinstance(parent, dict):
        value = parent.pop(last)
        parent[draw(KEYS)] = value
    else:
        del parent[last]
    return damaged(name, yaml.safe_dump(data, sort_keys=False, allow_unicode=True).encode())


@SETTINGS
@given(files=wrong_type(), release=RELEASES)
def test_wrong_types_anywhere(files, release):
    assert_loads_or_one_line(files, release)


@st.composite
def bad_encoding(draw):
    name = draw(st.sampled_from(sorted(FILES)))
    text = FILES[name].decode()
    at = draw(st.integers(0, len(text)))
    text = text[:at] + draw(st.text(st.characters(min_codepoint=0x80, max_codepoint=0x2FF), min_size=1)) + text[at:]
    encoding = draw(st.sampled_from(["latin-1", "cp1252", "utf-16", "utf-16-le", "utf-32"]))
    return damaged(name, text.encode(encoding, errors="replace"))


@SETTINGS
@given(files=bad_encoding(), release=RELEASES)
def test_bad_encodings(files, release):
    assert_loads_or_one_line(files, release)


@st.composite
def truncated(draw):
    name = draw(st.sampled_from(sorted(FILES)))
    return damaged(name, FILES[name][: draw(st.integers(0, len(FILES[name])))])


@SETTINGS
@given(files=truncated(), release=RELEASES)
def test_truncated_files(files, release):
    assert_loads_or_one_line(files, release)


@st.composite
def byte_damage(draw):
    name = draw(st.sampled_from(sorted(FILES)))
    content = bytearray(FILES[name])
    for _step in range(draw(st.integers(1, 8))):
        at = draw(st.integers(0, max(len(content) - 1, 0)))
        how = draw(st.sampled_from(["flip", "insert", "delete"]))
        if how == "insert" or not content:
            content[at:at] = bytes([draw(st.integers(0, 255))])
        elif how == "flip":
            content[at] ^= 1 << draw(st.integers(0, 7))
        else:
            del content[at]
    return damaged(name, bytes(content))


@SETTINGS
@given(files=byte_damage(), release=RELEASES)
def test_random_byte_damage(files, release):
    assert_loads_or_one_line(files, release)


# Keys as the public database names them, and a few that are not names.
TEMPLATE_KEYS = st.sampled_from(["project", "name", "a-b", "x.y", "", " ", "%"])
TEMPLATES = st.lists(
    st.one_of(
        st.text(alphabet="%()sdx2F#0-+ .*", max_size=6),
        TEMPLATE_KEYS.map(lambda key: f"%({key})s"),
        st.just("%%"),
    ),
    max_size=6,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(value=TEMPLATES)
def test_accepted_templates_are_plain_substitution_for_python(value):
    """What template_fields accepts, Python's % (distroinfo's substitution) only substitutes.

    Strings it refuses may be harmless (``%(project)-s``); refusing them is deliberate.
    """
    names, stray = loader.template_fields(value)
    if stray is not None:
        assert value[stray] == "%"
        return
    markers = {name: f"<field {index}>" for index, name in enumerate(dict.fromkeys(names))}
    substituted = value % markers
    expected = re.sub(r"%\(([^()]*)\)s|%%", lambda m: markers[m[1]] if m[1] is not None else "%", value)
    assert substituted == expected
