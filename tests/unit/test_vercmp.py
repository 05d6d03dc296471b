"""rpm_vercmp and deb_vercmp against the real rpm and dpkg, on corpora of tricky pairs."""

from __future__ import annotations

import importlib.util
import json
import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.distroforge.openstack.plugins.filter.versions import FilterModule
from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import InputError
from ansible_collections.distroforge.openstack.plugins.module_utils._versions import vercmp
from ansible_collections.distroforge.openstack.plugins.module_utils._versions.vercmp import (
    deb_vercmp,
    deb_version_check,
    parse_evr,
    rpm_vercmp,
    rpm_vercmp_library,
    rpm_vercmp_python,
    rpmvercmp_python,
)

HAVE_RPM_BINDINGS = importlib.util.find_spec("rpm") is not None

needs_bindings = pytest.mark.skipif(not HAVE_RPM_BINDINGS, reason="rpm Python bindings not installed")
needs_rpm_cli = pytest.mark.skipif(shutil.which("rpm") is None, reason="rpm CLI not installed")
needs_dpkg = pytest.mark.skipif(shutil.which("dpkg") is None, reason="dpkg not installed")

# Pairs people get wrong, each a known rpm rule.
RPM_HANDPICKED = [
    ("1.0", "1.0"),
    ("1.0", "1.0.0"),
    ("1.0a", "1.0.a"),
    ("1.0a", "1.0"),
    ("1.0", "1.0a"),
    ("1.0.1", "1.0a"),
    ("1.0~rc1", "1.0"),
    ("1.0~rc1", "1.0~rc2"),
    ("1.0~~", "1.0~"),
    ("1.0~rc1", "1.0~~dev"),
    ("1.0^", "1.0"),
    ("1.0^git1", "1.0"),
    ("1.0^git1", "1.0.1"),
    ("1.0^git1", "1.0~rc1"),
    ("1.0^1", "1.0^2"),
    ("1.0^", "1.0^"),
    ("1.0~^", "1.0~"),
    ("1.0^~", "1.0^"),
    ("010", "10"),
    ("1.010", "1.10"),
    ("1.00001", "1.1"),
    ("1.0.0", "1.0.00"),
    ("2.0", "10.0"),
    ("1.2.3", "1.2.3.0"),
    ("a", "b"),
    ("A", "a"),
    ("alpha", "beta"),
    ("1a", "1b"),
    ("1_0", "1.0"),
    ("1+0", "1.0"),
    ("1..0", "1.0"),
    ("1.0.", "1.0"),
    (".1.0", "1.0"),
    ("1.0", "1.0_"),
    ("1:1.0", "2.0"),
    ("0:1.0", "1.0"),
    ("00:1.0", "0:1.0"),
    (":1.0", "1.0"),
    ("1:1.0", "1:1.0"),
    ("2:0.1", "1:9.9"),
    ("1.0-1", "1.0-2"),
    ("1.0-2", "1.0-10"),
    ("1.0-1", "1.0"),
    ("1.0-", "1.0"),
    ("1.0-", "1.0-0"),
    ("1.0-1.el9", "1.0-1.el8"),
    ("1.0-1.el9", "1.0-1.el9_1"),
    ("1.0-0.20221010120000.abcdef1", "1.0-0.20221011000000.0000000"),
    ("22.0.0~rc1-0.1", "22.0.0-0.1"),
    ("1.0-1-2", "1.0-1-3"),
    ("1-2-3", "1-2"),
    ("1.0.g1234", "1.0.1234"),
    ("1.0a1", "1.0.1"),
    ("1.0rc1", "1.0"),
    ("1.0.rc1", "1.0.0rc1"),
    ("12345678901234567890", "12345678901234567891"),
    ("0000000000000000000001", "1"),
    ("1.0é", "1.0"),
    ("1.0é1", "1.0.1"),
    ("2.0.0.0rc1.dev3", "2.0.0.0rc1"),
    ("2.0.0~~dev", "2.0.0~rc1~dev"),
    ("~", "~~"),
    ("^", "~"),
    ("^", "."),
]

DEB_HANDPICKED = [
    ("1.0", "1.0"),
    ("1.0", "1.0.0"),
    ("1.0a", "1.0.a"),
    ("1.0a", "1.0"),
    ("1.0~rc1", "1.0"),
    ("1.0~rc1", "1.0~rc2"),
    ("1.0~~", "1.0~"),
    ("1.0~~git20221010.abc", "1.0~rc1"),
    ("1.0+b1", "1.0"),
    ("1.0+b1", "1.0.1"),
    ("010", "10"),
    ("1.010", "1.10"),
    ("1:1.0", "2.0"),
    ("0:1.0", "1.0"),
    ("01:1.0", "1:1.0"),
    ("2:0.1", "1:9.9"),
    ("1.0-1", "1.0-2"),
    ("1.0-2", "1.0-10"),
    ("1.0-1", "1.0"),
    ("1.0-0", "1.0"),
    ("1.0-1~bpo12+1", "1.0-1"),
    ("1.0-1+deb12u1", "1.0-1"),
    ("1.0-1-2", "1.0-1-3"),
    ("1.0-1-2", "1.0-1"),
    ("1:2:3", "1:2.3"),
    ("1:2:3-4", "1:2:3-4~"),
    ("1.0a", "1.0+"),
    ("1.0+", "1.0."),
    ("1.0.", "1.0~"),
    ("1.0Z", "1.0a"),
    ("1.0z", "1.0+"),
    ("1.0-a", "1.0-+"),
    ("2:22.0.1~git20221010120000.abcdef1-1", "2:22.0.1-1"),
    ("22.0.0~rc1-1", "22.0.0-1"),
    ("12345678901234567890", "12345678901234567891"),
]


def _random_rpm(rng: random.Random) -> str:
    pieces = ["0", "00", "01", "1", "2", "9", "10", "099", "100", "a", "b", "rc", "Z", "dev", "git", "el9"]
    seps = [".", ".", ".", "", "_", "+", "~", "^", "-", "..", "~~", "%"]
    out = rng.choice(["", "", "", "1:", "0:", "2:", "01:", ":"])
    for _piece in range(rng.randint(1, 5)):
        out += rng.choice(pieces) + rng.choice(seps)
    out = out.rstrip("-") or "0"
    return out if parse_evr_ok(out) else "0" + out.lstrip(":-")


def parse_evr_ok(text: str) -> bool:
    try:
        parse_evr(text)
    except InputError:
        return False
    return True


def _mutate(rng: random.Random, text: str) -> str:
    """A near neighbour of ``text``: the pairs that exercise the rules are the close ones."""
    choice = rng.randrange(6)
    position = rng.randrange(len(text) + 1)
    insert = rng.choice(["~", "^", ".", "0", "a", "1", "-1", "rc1", "+", "_"])
    if choice == 0:
        return text[:position] + insert + text[position:]
    if choice == 1 and len(text) > 1:
        return text[:position] + text[position + 1 :] or text
    if choice == 2:
        return text + insert
    if choice == 3:
        return text.replace(".", rng.choice(["_", "..", "", "."]), 1) or text
    if choice == 4:
        return text.replace("0", "00", 1)
    return text


def rpm_corpus() -> list[tuple[str, str]]:
    rng = random.Random(20221010)
    pairs = list(RPM_HANDPICKED)
    while len(pairs) < 450:
        a = _random_rpm(rng)
        b = _mutate(rng, a) if rng.random() < 0.7 else _random_rpm(rng)
        if parse_evr_ok(b):
            pairs.append((a, b))
    return pairs


def _random_deb(rng: random.Random) -> str:
    pieces = ["0", "00", "01", "1", "2", "9", "10", "099", "a", "b", "rc", "Z", "dfsg", "git", "deb"]
    seps = [".", ".", "", "+", "~", "~~", "-", ":"]
    out = rng.choice(["", "", "", "1:", "0:", "2:", "01:"])
    out += rng.choice(["0", "1", "2", "10", "01"])
    for _piece in range(rng.randint(0, 4)):
        out += rng.choice(seps) + rng.choice(pieces)
    return out


def deb_candidates() -> list[tuple[str, str]]:
    rng = random.Random(1210)
    pairs = list(DEB_HANDPICKED)
    while len(pairs) < 700:
        a = _random_deb(rng)
        b = _mutate(rng, a) if rng.random() < 0.7 else _random_deb(rng)
        pairs.append((a, b))
    return pairs


def stricter_than_dpkg(version: str) -> bool:
    """Versions dpkg parses but we refuse: a signed epoch (strtol takes "+1:") or blanks it trims."""
    return (version[:1] in "+-" and ":" in version) or version != version.strip()


def _tsv(tmp_path: Path, pairs: list[tuple[str, str]]) -> Path:
    path = tmp_path / "pairs.tsv"
    path.write_bytes(b"".join(f"{a}\t{b}\n".encode() for a, b in pairs))
    return path


def rpm_cli_answers(tmp_path: Path, pairs: list[tuple[str, str]]) -> list[int]:
    """One ``rpm --eval`` runs rpm.vercmp (rpm's own EVR compare, in its Lua) over every pair."""
    path = _tsv(tmp_path, pairs)
    lua = (
        "%{lua: for line in io.lines('" + str(path) + "') do "
        "local a, b = line:match('^(.-)\\t(.*)$'); print(rpm.vercmp(a, b) .. ' ') end}"
    )
    out = subprocess.run(["rpm", "--eval", lua], capture_output=True, text=True, check=True).stdout
    answers = [int(x) for x in out.split()]
    assert len(answers) == len(pairs)
    return answers


def dpkg_answers(tmp_path: Path, pairs: list[tuple[str, str]]) -> list[int]:
    """``dpkg --compare-versions`` on every pair, in one shell loop."""
    path = _tsv(tmp_path, pairs)
    script = (
        'while IFS="$(printf "\\t")" read -r a b; do '
        'if dpkg --compare-versions "$a" lt "$b"; then echo -1; '
        'elif dpkg --compare-versions "$a" eq "$b"; then echo 0; else echo 1; fi; done < "$1"'
    )
    out = subprocess.run(["sh", "-c", script, "sh", str(path)], capture_output=True, text=True, check=True)
    answers = [int(x) for x in out.stdout.split()]
    assert len(answers) == len(pairs)
    return answers


def dpkg_valid(tmp_path: Path, versions: list[str]) -> list[bool]:
    """Does dpkg parse each version without an error or a warning?"""
    path = tmp_path / "versions.txt"
    path.write_text("".join(f"{v}\n" for v in versions))
    script = (
        'while read -r v; do if dpkg --validate-version "$v" 2>/dev/null; then echo y; else echo n; fi; done < "$1"'
    )
    out = subprocess.run(["sh", "-c", script, "sh", str(path)], capture_output=True, text=True, check=True).stdout
    return [x == "y" for x in out.split()]


@needs_rpm_cli
@needs_bindings
def test_rpm_cli_library_and_fallback_agree_on_the_corpus(tmp_path):
    pairs = rpm_corpus()
    assert len(pairs) >= 400
    cli = rpm_cli_answers(tmp_path, pairs)
    library = [rpm_vercmp_library(a, b) for a, b in pairs]
    python = [rpm_vercmp_python(a, b) for a, b in pairs]
    wrong_library = [(a, b, c, x) for (a, b), c, x in zip(pairs, cli, library, strict=False) if c != x]
    wrong_python = [(a, b, c, x) for (a, b), c, x in zip(pairs, cli, python, strict=False) if c != x]
    assert not wrong_library
    assert not wrong_python
    # The corpus is not lopsided: it has every answer many times.
    assert min(cli.count(-1), cli.count(0), cli.count(1)) >= 40


@needs_dpkg
def test_deb_vercmp_equals_dpkg_on_the_corpus(tmp_path):
    candidates = deb_candidates()
    versions = sorted({v for pair in candidates for v in pair})
    valid = dict(zip(versions, dpkg_valid(tmp_path, versions), strict=False))
    pairs = [
        (a, b)
        for a, b in candidates
        if valid[a] and valid[b] and not stricter_than_dpkg(a) and not stricter_than_dpkg(b)
    ]
    assert len(pairs) >= 400
    dpkg = dpkg_answers(tmp_path, pairs)
    ours = [deb_vercmp(a, b) for a, b in pairs]
    assert [(a, b, d, o) for (a, b), d, o in zip(pairs, dpkg, ours, strict=False) if d != o] == []
    assert min(dpkg.count(-1), dpkg.count(0), dpkg.count(1)) >= 40


@needs_dpkg
def test_deb_vercmp_rejects_exactly_what_dpkg_rejects(tmp_path):
    versions = [
        *sorted({v for pair in deb_candidates() for v in pair}),
        "",
        "a1.0",
        "1.0-",
        "-1",
        ":1.0",
        "1:",
        "a:1.0",
        "1.0_1",
        "1.0-1_2",
        "1.0-1:2",
        "1.0/2",
        "1.0é",
        "99999999999:1.0",
        "+1:1.0",
    ]
    rejected_by_dpkg = {v for v, ok in zip(versions, dpkg_valid(tmp_path, versions), strict=False) if not ok}
    assert len(rejected_by_dpkg) >= 20

    def rejected_by_us(version: str) -> bool:
        try:
            deb_version_check(version)
        except InputError:
            return True
        return False

    ours = {v for v in versions if rejected_by_us(v)}
    assert ours - rejected_by_dpkg == {v for v in versions if stricter_than_dpkg(v)}
    assert rejected_by_dpkg <= ours


def test_invalid_debian_version_names_the_value():
    with pytest.raises(InputError, match=r"Debian version 'a1\.0' is invalid: the upstream version must start"):
        deb_vercmp("a1.0", "1.0")
    with pytest.raises(InputError, match=r"'1\.0 ' is invalid: it contains spaces"):
        deb_vercmp("1.0", "1.0 ")
    with pytest.raises(InputError, match="not a string"):
        deb_vercmp(1.0, "1.0")


def test_invalid_rpm_version_names_the_value():
    with pytest.raises(InputError, match="rpm version '' is empty"):
        rpm_vercmp("", "1.0")
    with pytest.raises(InputError, match="rpm version None"):
        rpm_vercmp_python(None, "1.0")
    for empty_version in ("-", "1:", "2:-1", "-1"):
        with pytest.raises(InputError, match="has an empty version part"):
            rpm_vercmp(empty_version, "1.0")


def test_parse_evr_follows_rpm():
    assert parse_evr("1:2.0-3.el9") == ("1", "2.0", "3.el9")
    assert parse_evr("2.0") == (None, "2.0", None)
    assert parse_evr(":2.0") == ("0", "2.0", None)
    assert parse_evr("1a:2.0") == (None, "1a:2.0", None)
    assert parse_evr("1.0-1-2") == (None, "1.0-1", "2")
    assert parse_evr("1.0-") == (None, "1.0", "")
    assert parse_evr("1:1.0") == ("1", "1.0", None)


def test_fallback_is_used_without_the_bindings(monkeypatch):
    monkeypatch.setattr(vercmp, "_rpm_label_compare", None)
    assert rpm_vercmp("1.0~rc1", "1.0") == -1
    with pytest.raises(ImportError):
        rpm_vercmp_library("1.0", "1.0")


# Versions built from the pieces the rules are about.
EVR = st.builds(
    lambda epoch, parts, release: epoch + "".join(parts) + release,
    st.sampled_from(["", "", "0:", "1:", "01:", ":"]),
    st.lists(
        st.one_of(
            st.sampled_from(["0", "00", "1", "01", "10", "a", "b", "rc", "Z", "é"]),
            st.sampled_from([".", "_", "~", "^", "+", ".."]),
            st.text(alphabet="0123456789abz.~^_+", min_size=1, max_size=4),
        ),
        min_size=1,
        max_size=8,
    ),
    st.sampled_from(["", "", "-1", "-0.1.el9", "-", "-1~x", "-2^"]),
).filter(parse_evr_ok)


@needs_bindings
@settings(max_examples=1500, deadline=None)
@given(EVR, EVR)
def test_python_rpm_comparison_equals_the_library(a, b):
    assert rpm_vercmp_python(a, b) == rpm_vercmp_library(a, b)


@settings(max_examples=500, deadline=None)
@given(EVR, EVR, EVR)
def test_python_rpm_comparison_is_an_order(a, b, c):
    ab = rpm_vercmp_python(a, b)
    ba = rpm_vercmp_python(b, a)  # pylint: disable=arguments-out-of-order
    assert ab == -ba
    assert rpm_vercmp_python(a, a) == 0
    if ab <= 0 and rpm_vercmp_python(b, c) <= 0:
        assert rpm_vercmp_python(a, c) <= 0


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789ab.~^_", min_size=1, max_size=10))
def test_rpmvercmp_segments_are_reflexive(text):
    assert rpmvercmp_python(text, text) == 0


def _filters():
    return FilterModule().filters()


def test_filters_wrap_the_engine_and_turn_input_errors_into_filter_errors():
    filters = _filters()
    assert sorted(filters) == ["deb_vercmp", "nvr_parse", "repo_path", "rpm_vercmp"]
    assert filters["rpm_vercmp"]("1.0~rc1", "1.0") == -1
    assert filters["deb_vercmp"]("2:1.0-1", "1.0-1") == 1
    assert filters["nvr_parse"]("keystone-1:22.0.1-1.el9.noarch")["epoch"] == 1
    assert filters["repo_path"]("ab" * 20, "cd" * 20, component="c") == f"component/c/ab/ab/{'ab' * 20}_cdcdcdcd"
    with pytest.raises(AnsibleFilterError, match="Debian version 'a1' is invalid"):
        filters["deb_vercmp"]("a1", "1.0")


@pytest.mark.slow
def test_filters_through_ansible():
    top = Path(__file__).resolve().parents[2]
    # The venv's ansible and this checkout's collection, also when pytest runs without `make` around it.
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(top / "ansible.cfg"),
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_COLLECTIONS_PATH": str(top / ".venv" / "collections"),
        "PATH": f"{top / '.venv' / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}",
    }
    msg = (
        "{{ '1.0~rc1' | distroforge.openstack.rpm_vercmp('1.0') }},"
        "{{ '2:1.0-1' | distroforge.openstack.deb_vercmp('1.0-1') }},"
        "{{ ('keystone-1:22.0.1-1.el9.noarch' | distroforge.openstack.nvr_parse).version }},"
        "{{ ('ab' * 20) | distroforge.openstack.repo_path('cd' * 20) }}"
    )
    out = subprocess.run(
        ["ansible", "localhost", "-m", "ansible.builtin.debug", "-a", json.dumps({"msg": msg}), "-o"],
        cwd=top,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f'"msg": "-1,1,22.0.1,ab/ab/{"ab" * 20}_cdcdcdcd"' in out
