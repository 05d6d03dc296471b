"""nvr_parse and repo_path (DLRN's repos/ layout)."""

from __future__ import annotations

import pytest

from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import InputError
from ansible_collections.distroforge.openstack.plugins.module_utils._versions.nvr import nvr_parse, repo_path

COMMIT = "abcdef0123456789abcdef0123456789abcdef01"
DISTGIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "python-keystoneclient-5.0.1-0.20221010120000.abcdef1.el9.noarch.rpm",
            ("python-keystoneclient", None, "5.0.1", "0.20221010120000.abcdef1.el9", "noarch"),
        ),
        (
            "keystone-22.0.1-0.20221010120000.abcdef1",
            ("keystone", None, "22.0.1", "0.20221010120000.abcdef1", None),
        ),
        ("openstack-keystone-1:22.0.1-1.el9.noarch", ("openstack-keystone", 1, "22.0.1", "1.el9", "noarch")),
        ("1:openstack-keystone-22.0.1-1.el9.noarch", ("openstack-keystone", 1, "22.0.1", "1.el9", "noarch")),
        ("keystone-22.0.0~rc1-0.1.src.rpm", ("keystone", None, "22.0.0~rc1", "0.1", "src")),
        ("python3-oslo-config-9.0.0-1.el9.x86_64", ("python3-oslo-config", None, "9.0.0", "1.el9", "x86_64")),
        ("foo-1.0-1.el9.mycustomarch.rpm", ("foo", None, "1.0", "1.el9", "mycustomarch")),
        ("foo-1.0-1.el9", ("foo", None, "1.0", "1.el9", None)),
        ("glibc-2.34-60.el9_2.7.aarch64", ("glibc", None, "2.34", "60.el9_2.7", "aarch64")),
        ("foo-bar-baz-1.0^git1-2", ("foo-bar-baz", None, "1.0^git1", "2", None)),
        ("kernel-0:5.14.0-1.el9.x86_64", ("kernel", 0, "5.14.0", "1.el9", "x86_64")),
    ],
)
def test_nvr_parse(text, expected):
    parsed = nvr_parse(text)
    assert (parsed["name"], parsed["epoch"], parsed["version"], parsed["release"], parsed["arch"]) == expected
    assert sorted(parsed) == ["arch", "epoch", "name", "release", "version"]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "keystone",
        "keystone-22.0.1",
        "-22.0.1-1",
        "keystone--1",
        "keystone-22.0.1-",
        "keystone-22.0.1-1.rpm",
        "/srv/repos/keystone-22.0.1-1.noarch.rpm",
        "keystone 22.0.1-1",
        "keystone-x:22.0.1-1",
        "1:keystone-2:22.0.1-1",
        "keystone-22.0.1-1:2",
        None,
    ],
)
def test_nvr_parse_rejects_with_the_value_named(text):
    with pytest.raises(InputError) as err:
        nvr_parse(text)
    message = str(err.value)
    assert repr(text) in message
    assert "\n" not in message


def test_repo_path_is_dlrns_layout():
    assert repo_path(COMMIT, DISTGIT) == f"ab/cd/{COMMIT}_01234567"


def test_repo_path_with_component_and_extended_hashes():
    other = "f" * 40
    assert repo_path(COMMIT, DISTGIT, component="tripleo") == f"component/tripleo/ab/cd/{COMMIT}_01234567"
    assert repo_path(COMMIT, DISTGIT, extended_hash=other) == f"ab/cd/{COMMIT}_01234567_ffffffff"
    dual = f"{other}_{'e' * 40}"
    assert repo_path(COMMIT, DISTGIT, extended_hash=dual) == f"ab/cd/{COMMIT}_01234567_ffffffff_eeeeeeee"
    # DLRN cuts the second hash of a dual extended hash at [41:49]: the same thing.
    assert dual[41:49] == "e" * 8


def test_repo_path_accepts_sha256_hashes():
    long_hash = "ab" * 32
    assert repo_path(long_hash, DISTGIT) == f"ab/ab/{long_hash}_01234567"


@pytest.mark.parametrize(
    ("commit_hash", "distro_hash", "field"),
    [
        ("abc", DISTGIT, "commit_hash"),
        (COMMIT.upper(), DISTGIT, "commit_hash"),
        (COMMIT[:-1] + "g", DISTGIT, "commit_hash"),
        ("../" + COMMIT[3:], DISTGIT, "commit_hash"),
        (COMMIT, "", "distro_hash"),
        (COMMIT, DISTGIT[:8], "distro_hash"),
        (None, DISTGIT, "commit_hash"),
    ],
)
def test_repo_path_validates_hashes(commit_hash, distro_hash, field):
    with pytest.raises(InputError, match=f"^{field} .* is not a git commit hash: give the full 40"):
        repo_path(commit_hash, distro_hash)


def test_repo_path_validates_component():
    with pytest.raises(InputError, match=r"component '\.\./x' is not a valid name"):
        repo_path(COMMIT, DISTGIT, component="../x")
