"""Release day (``make release-day``) on a reduced example: one package, one tag, without the gate's node tests.

``tools/release_day.py --packages keystonemiddleware --pin keystonemiddleware=10.1.0 --no-gate``
releases keystonemiddleware at 10.1.0 in set-up, then plays release day on upstream's 10.1.1: new tag,
bump, reqcheck, tagged build, candidate -> testing (no gate: said so), testing -> release, release
packages.  The test asserts what a user of the run sees: the summary, the stage files and their
history, the signed release stage holding the new NVR, the release packages and what they install.
The deploy + Tempest halves (the gate, the fresh node from the release package, the upgrade) are the
slow lane's (``make release-day`` in ``make slow``); tests/e2e deploys and runs Tempest in ``make test``.

The stages must install against bookworm's real ``Packages`` index, reduced to the dependency closure
of the package's ``Depends`` (dose-debcheck reads a few hundred stanzas, not 63,440: seconds per check
instead of ~15 on this machine).  About 3 minutes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from debian import deb822

from ansible_collections.distroforge.openstack.plugins.module_utils._publish import debrepo

from .ansible_run import TOP, ansible_env

EXAMPLE = TOP / "examples" / "distro"
sys.path.insert(0, str(EXAMPLE))

import make_upstreams  # pylint: disable=wrong-import-position

PORT = 8095  # release_day's default 8094 is the slow lane's; 8088 is make run's, 8090-8092 the other test lanes'
APT_LIST = Path("/var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages.lz4")
NEW_NVR = "python-keystonemiddleware_10.1.1-1"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not shutil.which("dpkg-buildpackage") or not shutil.which("dose-debcheck") or not shutil.which("rpmbuild"),
        reason="needs the dpkg build tools, dose-debcheck and rpmbuild (run `make`)",
    ),
    pytest.mark.skipif(
        not all(
            (make_upstreams.DEFAULT_CACHE / r.filename).is_file()
            for u in make_upstreams.load_pins()
            for r in u.releases
        ),
        reason="the example sdists are not cached: run `make example`",
    ),
]


def _names(relations: str) -> set[str]:
    """Package names a Depends field asks for (every alternative; versions and architectures dropped)."""
    found: set[str] = set()
    # substitution variables (${misc:Depends}) are filled in at build time: not package names
    relations = ",".join(item for item in relations.split(",") if item.strip() and not item.strip().startswith("${"))
    for relation in deb822.PkgRelation.parse_relations(relations) if relations else []:
        found.update(alternative["name"] for alternative in relation)
    return found


def reduced_base(target: Path) -> Path:
    """bookworm main's Packages reduced to what keystonemiddleware's packaging needs, recursively."""
    if not APT_LIST.is_file():
        pytest.fail(f"{APT_LIST} is missing: run apt-get update (the bootstrap does)")
    with (EXAMPLE / "packaging/keystonemiddleware/debian/control").open(encoding="utf-8") as control:
        paragraphs = list(deb822.Deb822.iter_paragraphs(control))
    # the binary packages' Depends (the first paragraph is the source's), and ${python3:Depends}'s python3
    wanted = {"python3"} | set().union(*(_names(p.get("Depends", "")) for p in paragraphs[1:]))
    plain = subprocess.run(["lz4cat", str(APT_LIST)], check=True, capture_output=True, text=True).stdout
    # The stanzas are kept as apt wrote them; only the relation fields are parsed (by python-debian).
    by_name: dict[str, list[str]] = {}
    fields: dict[str, dict[str, str]] = {}
    for stanza in plain.split("\n\n"):
        found = dict(re.findall(r"(?m)^(Package|Version|Provides|Depends|Pre-Depends): (.*)$", stanza))
        if "Package" not in found:
            continue
        fields[stanza] = found
        by_name.setdefault(found["Package"], []).append(stanza)
        for provided in _names(found.get("Provides", "")):
            by_name.setdefault(provided, []).append(stanza)
    kept: dict[str, None] = {}
    todo = sorted(wanted)
    while todo:
        for stanza in by_name.get(todo.pop(), []):
            if stanza not in kept:
                kept[stanza] = None
                todo += sorted(
                    _names(fields[stanza].get("Depends", "")) | _names(fields[stanza].get("Pre-Depends", ""))
                )
    base = target / "base-Packages"
    base.write_text("\n\n".join(kept) + "\n", encoding="utf-8")
    return base


@pytest.fixture(scope="module")
def day(tmp_path_factory):
    """One release day, run as `make release-day RELEASE_DAY_ARGS=...` runs it; (target, stdout)."""
    root = tmp_path_factory.mktemp("release-day")
    base = reduced_base(root)
    target = root / "day"
    argv = [sys.executable, str(TOP / "tools" / "release_day.py"), "--target", str(target), "--no-gate",
            "--packages", "keystonemiddleware", "--pin", "keystonemiddleware=10.1.0", "--port", str(PORT),
            "--base-index", str(base)]  # fmt: skip
    proc = subprocess.run(argv, cwd=TOP, env=ansible_env(), capture_output=True, text=True, timeout=1200, check=False)
    log = target / "release-day.log"
    tail = log.read_text(encoding="utf-8")[-4000:] if log.is_file() else ""
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:] + tail
    return target, proc.stdout


def test_the_summary_says_each_step_its_time_and_the_time_to_the_release(day):
    target, out = day
    summary = json.loads((target / "summary.json").read_text())
    names = [re.sub(r" \(.*$", "", step["name"]) for step in summary["steps"]]
    assert names == [
        "set-up",
        "install test: a fresh node, only the release package",
        "new upstream tag",
        "bump",
        "reqcheck",
        "tagged build",
        "gate",
        "testing -> release",
        "release package",
        "upgrade test",
    ]
    results = {name: step["result"] for name, step in zip(names, summary["steps"], strict=True)}
    assert summary["passed"] and all(isinstance(step["seconds"], float) for step in summary["steps"])
    assert results["set-up"].startswith("released python-keystonemiddleware_10.1.0-1; ")
    assert results["new upstream tag"] == "keystonemiddleware 10.1.1"
    assert "pins moved in tags/zed.yml" in results["bump"]
    assert re.match(r'^keystonemiddleware: \{"any_version": \d+, "excess": \d+, "met": \d+', results["reqcheck"])
    assert results["tagged build"] == f"candidate: {NEW_NVR}"
    # the steps a run without the gate skips say so
    for skipped in ("gate", "install test: a fresh node, only the release package", "upgrade test"):
        assert results[skipped].startswith("SKIPPED (--no-gate)"), results[skipped]
    assert results["testing -> release"] == f"release: {NEW_NVR}"
    # the time to the release: the steps after set-up, the node tests excluded
    counted = sum(
        s["seconds"] for n, s in zip(names, summary["steps"], strict=True) if n not in ("set-up", "upgrade test")
    )
    assert summary["tag_to_release_seconds"] == pytest.approx(counted, abs=0.5)
    assert "release day summary" in out and re.search(r"(?m)^  tag landed -> released\s+\d+\.\d s$", out), out


def test_the_stages_hold_the_new_nvr_and_say_why_it_moved(day):
    target, _out = day
    stages_dir = target / "example" / "rdoinfo" / "stages" / "zed"
    for stage in ("candidate", "testing", "release"):
        text = (stages_dir / f"{stage}.yml").read_text()
        assert f'keystonemiddleware: "{NEW_NVR}"' in text, text
    history = [json.loads(line) for line in (stages_dir / "history.jsonl").read_text().splitlines()]
    moves = [(h["from"], h["to"], h["old"], h["new"]) for h in history]
    old = "python-keystonemiddleware_10.1.0-1"
    assert moves == [
        ("build", "candidate", None, old),
        ("candidate", "testing", None, old),
        ("testing", "release", None, old),
        ("build", "candidate", old, NEW_NVR),
        ("candidate", "testing", old, NEW_NVR),
        ("testing", "release", old, NEW_NVR),
    ]
    assert history[4]["reason"] == "release day without the gate (--no-gate)"
    pins = (target / "example" / "rdoinfo" / "tags" / "zed.yml").read_text()
    assert re.search(
        r"- project: keystonemiddleware\n  tags:\n    zed:\n    zed-release:\n      source-branch: 10.1.1\n", pins
    )


def test_the_release_stage_is_signed_and_holds_the_new_nvr(day):
    target, _out = day
    repos = target / "work" / "repos"
    link = repos / "stages" / "zed" / "bookworm" / "release"
    assert link.is_symlink() and os.readlink(link).startswith(".snapshots/")
    assert debrepo.check_deb_repo(link) == []
    packages = list(deb822.Packages.iter_paragraphs((link / "Packages").open(), use_apt_pkg=False))
    assert [(p["Package"], p["Version"]) for p in packages] == [("python3-keystonemiddleware", "10.1.1-1")]
    keyring = repos / "distroforge-archive-keyring.gpg"
    for argv in (["gpgv", "--keyring", str(keyring), str(link / "InRelease")],
                 ["gpgv", "--keyring", str(keyring), str(link / "Release.gpg"), str(link / "Release")]):  # fmt: skip
        assert subprocess.run(argv, capture_output=True, check=False).returncode == 0, argv
    # the release before release day stays published as it was, in its own snapshot
    previous = [s for s in (link.parent / ".snapshots").iterdir() if (s / "Packages").is_file()]
    assert any("Version: 10.1.0-1" in (s / "Packages").read_text() for s in previous)


def test_the_release_packages_configure_the_served_release_stage_and_its_key(day, tmp_path):
    target, _out = day
    repos = target / "work" / "repos"
    made = repos / "release-packages"
    assert sorted(p.name for p in made.iterdir()) == [
        "distroforge-release-zed-1-1.noarch.rpm",
        "distroforge-release-zed_1-1_all.deb",
    ]
    root = tmp_path / "deb"
    subprocess.run(["dpkg-deb", "-x", str(made / "distroforge-release-zed_1-1_all.deb"), str(root)], check=True)
    installed = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    assert installed == [
        "etc/apt/preferences.d/distroforge-zed.pref",
        "etc/apt/sources.list.d/distroforge-zed.sources",
        "usr/share/keyrings/distroforge-zed-archive-keyring.gpg",
    ]
    sources = (root / "etc/apt/sources.list.d/distroforge-zed.sources").read_text()
    assert f"URIs: http://10.89.42.1:{PORT}/repos/stages/zed/bookworm/release/\n" in sources
    assert (
        "Pin: release o=distroforge,a=zed-release\nPin-Priority: 1001\n"
        in (root / "etc/apt/preferences.d/distroforge-zed.pref").read_text()
    )
    keyring = root / "usr/share/keyrings/distroforge-zed-archive-keyring.gpg"
    assert keyring.read_bytes() == (repos / "distroforge-archive-keyring.gpg").read_bytes()
    # the release stage's InRelease verifies with the key the package installs
    verified = subprocess.run(
        ["gpgv", "--keyring", str(keyring), str(repos / "stages/zed/bookworm/release/InRelease")], check=False
    )
    assert verified.returncode == 0
    rpm = made / "distroforge-release-zed-1-1.noarch.rpm"
    listing = subprocess.run(["rpm", "-qlp", str(rpm)], check=True, capture_output=True, text=True).stdout.split()
    assert listing == ["/etc/pki/rpm-gpg/RPM-GPG-KEY-distroforge-zed", "/etc/yum.repos.d/distroforge-zed.repo"]
    script = subprocess.run(
        f"rpm2cpio {rpm} | cpio -i --to-stdout ./etc/yum.repos.d/distroforge-zed.repo",
        shell=True,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert f"baseurl=http://10.89.42.1:{PORT}/repos/stages/zed/el9s/release/\n" in script
    assert "gpgcheck=1\nrepo_gpgcheck=1\n" in script
