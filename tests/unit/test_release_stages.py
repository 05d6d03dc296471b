"""Stages of a release: validation (one line each, published stages intact), diff, moves and signed repos."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import DistroforgeError, InputError
from ansible_collections.distroforge.openstack.plugins.module_utils._common.files import sha256_file
from ansible_collections.distroforge.openstack.plugins.module_utils._publish import debrepo
from ansible_collections.distroforge.openstack.plugins.module_utils._release import stages, tagged

from .pkgfactory import build_deb, build_rpm, make_signing_key, stop_gpg_agent

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "distro"

pytestmark = pytest.mark.skipif(
    not shutil.which("dpkg-deb") or not shutil.which("apt-ftparchive"), reason="needs dpkg-deb and apt-ftparchive"
)


def store(workdir: Path, scratch: Path, project: str, source: str, version: str) -> str:
    """A release build of ``project`` in the NVR store, as tagged.record leaves it (one tiny .deb)."""
    nvr = f"{source}_{version}"
    deb = build_deb(scratch, f"python3-{project}", version.split(":", 1)[-1])
    path = tagged.store_dir(workdir, project, nvr)
    path.mkdir(parents=True)
    shutil.copy2(deb, path / deb.name)
    info = {
        "backend": "dpkg",
        "nvr": nvr,
        "project": project,
        "inputs": {"release_build": True, "commit_hash": "a" * 40, "distro_hash": "b" * 40},
        "version": {"deb_version": version},
        "outputs": [{"name": deb.name, "sha256": sha256_file(deb), "size": deb.stat().st_size}],
    }
    (path / "buildinfo.json").write_text(json.dumps(info))
    return nvr


@pytest.fixture(scope="module")
def gnupg(tmp_path_factory):
    """One signing key for the module's tests (making one costs seconds on a busy machine)."""
    home = tmp_path_factory.mktemp("gnupg")
    make_signing_key(home)
    yield home
    stop_gpg_agent(home)


@pytest.fixture
def world(tmp_path, gnupg):
    pkgdb = tmp_path / "rdoinfo"
    for name in ("rdo-full.yml", "rdo.yml", "tags/zed.yml"):
        (pkgdb / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(EXAMPLE / name, pkgdb / name)
    workdir, scratch = tmp_path / "work", tmp_path / "scratch"
    scratch.mkdir()
    nvrs = {
        "old": store(workdir, scratch, "keystone", "keystone", "2:22.0.1-1"),
        "new": store(workdir, scratch, "keystone", "keystone", "2:22.0.2-1"),
        "lower": store(workdir, scratch, "keystone", "keystone", "2:22.0.0-1"),
        "mw": store(workdir, scratch, "keystonemiddleware", "python-keystonemiddleware", "10.1.1-1"),
    }
    release = stages.Release.read(str(pkgdb / "rdo-full.yml"), "zed")
    options = stages.PublishOptions(repos_dir=tmp_path / "repos", gpg_home=gnupg)
    return release, workdir, nvrs, options


def write(release, stage, text):
    path = release.stage_path(stage)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def published_intact(link: Path, target: str) -> None:
    assert os.readlink(link) == target
    assert debrepo.check_deb_repo(link) == []
    assert (link / "InRelease").is_file()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("bookworm:\n  keystone: keystone_2:22.0.9-1\n", "bookworm.keystone: keystone_2:22.0.9-1 was never built"),
        ("bookworm:\n  keystone: keystone_2:22.0.0-1\n", "sorts lower than the released keystone_2:22.0.1-1"),
        ("bookworm:\n  nova: nova_1-1\n", "bookworm.nova: no package 'nova' in release zed"),
        ("bookworm:\n  keystone: [unclosed\n", "candidate.yml:3: YAML syntax error"),
        ("bookworm:\n  keystone: a\n  keystone: b\n", "key 'keystone' is given twice"),
        ("focal:\n  keystone: keystone_2:22.0.2-1\n", "'focal' is not a repository of release zed"),
        ("- keystone\n", "must map repositories to {package: NVR}"),
        ("bookworm:\n  keystone: 3\n", "bookworm.keystone: 3 is not an NVR"),
    ],
)
def test_a_bad_stage_file_is_one_line_and_the_published_stages_stay(world, text, expected):
    release, workdir, nvrs, options = world
    write(release, "release", f"bookworm:\n  keystone: {nvrs['old']}\n")
    write(release, "candidate", f"bookworm:\n  keystone: {nvrs['new']}\n")
    [rel] = stages.publish(release, "release", workdir, options)
    [cand] = stages.publish(release, "candidate", workdir, options)
    before = {p.path: os.readlink(p.path) for p in (rel, cand)}
    path = write(release, "candidate", text)
    with pytest.raises(InputError) as refused:
        stages.publish(release, "candidate", workdir, options)
    message = str(refused.value)
    assert "\n" not in message and message.startswith(str(path)) and expected in message, message
    for link, target in before.items():
        published_intact(Path(link), target)


def test_stages_publish_signed_diff_and_move_with_the_reason_recorded(world):
    release, workdir, nvrs, options = world
    write(release, "release", f"bookworm:\n  keystone: {nvrs['old']}\n  keystonemiddleware: {nvrs['mw']}\n")
    put = stages.put(release, "candidate", {"bookworm": {"keystone": nvrs["new"]}}, workdir, reason="tag 22.0.2")
    assert [c.as_dict() for c in put.changes] == [
        {"repo": "bookworm", "project": "keystone", "old": None, "new": nvrs["new"]}
    ]
    candidate = stages.load(release, "candidate", workdir)
    released = stages.load(release, "release", workdir)
    assert [(c.project, c.old, c.new) for c in stages.diff(released, candidate) if c.new] == [
        ("keystone", nvrs["old"], nvrs["new"])
    ]
    [pub] = stages.publish(release, "candidate", workdir, options)
    assert pub.changed and pub.package_format == "deb" and pub.packages == ["python3-keystone_22.0.2-1_all.deb"]
    published_intact(Path(pub.path), os.readlink(pub.path))
    assert not stages.publish(release, "candidate", workdir, options)[0].changed  # idempotent
    # check mode: what would move, nothing written
    preview = stages.move(release, "candidate", "testing", workdir, reason="gate passed", check=True)
    assert preview.changed and not release.stage_path("testing").exists()
    moved = stages.move(release, "candidate", "testing", workdir, reason="gate run 7 passed", user="ci")
    assert [(c.project, c.new) for c in moved.changes] == [("keystone", nvrs["new"])]
    assert stages.load(release, "testing", workdir).nvr("bookworm", "keystone") == nvrs["new"]
    history = [json.loads(line) for line in (release.stages_dir / "history.jsonl").read_text().splitlines()]
    assert [(h["from"], h["to"], h["reason"], h["user"]) for h in history] == [
        ("build", "candidate", "tag 22.0.2", ""),
        ("candidate", "testing", "gate run 7 passed", "ci"),
    ]
    again = stages.move(release, "candidate", "testing", workdir, reason="again")
    assert not again.changed
    promoted = stages.move(release, "testing", "release", workdir, reason="by hand", projects=["keystone"])
    assert [(c.old, c.new) for c in promoted.changes] == [(nvrs["old"], nvrs["new"])]
    [rel] = stages.publish(release, "release", workdir, options)
    assert sorted(rel.packages) == ["python3-keystone_22.0.2-1_all.deb", "python3-keystonemiddleware_10.1.1-1_all.deb"]
    with pytest.raises(InputError, match=r"^reason: say why"):
        stages.move(release, "testing", "release", workdir, reason=" ")
    with pytest.raises(InputError, match="goes back"):
        stages.move(release, "release", "testing", workdir, reason="x")
    lower = {"bookworm": {"keystone": nvrs["lower"]}}
    with pytest.raises(InputError, match="sorts lower than the released"):
        stages.put(release, "candidate", lower, workdir, reason="x")


# -- installability before a move -----------------------------------------------------------------

# The base distribution in miniature: what bookworm's Packages says of two packages.
BASE_PACKAGES = """\
Package: python3
Version: 3.11.2-1+b1
Architecture: amd64

Package: python3-oslo.config
Version: 1:9.0.0-2
Architecture: all
Depends: python3
"""


def store_depending(workdir: Path, scratch: Path, project: str, version: str, depends: str) -> str:
    """Like :func:`store`, with a ``Depends`` field in the package (dpkg-deb builds it)."""
    nvr = store(workdir, scratch, project, project, version)
    path = tagged.store_dir(workdir, project, nvr)
    [old] = path.glob("*.deb")
    root = scratch / f"depending-{project}-{version}"
    subprocess.run(["dpkg-deb", "--raw-extract", str(old), str(root)], check=True, capture_output=True)
    control = root / "DEBIAN" / "control"
    control.write_text(control.read_text() + f"Depends: {depends}\n")
    subprocess.run(["dpkg-deb", "--root-owner-group", "--build", str(root), str(old)], check=True, capture_output=True)
    info = json.loads((path / "buildinfo.json").read_text())
    info["outputs"] = [{"name": old.name, "sha256": sha256_file(old), "size": old.stat().st_size}]
    (path / "buildinfo.json").write_text(json.dumps(info))
    return nvr


@pytest.fixture
def closure_world(world, tmp_path):
    release, workdir, nvrs, options = world
    scratch = tmp_path / "scratch-closure"
    scratch.mkdir()
    base = tmp_path / "base-Packages"
    base.write_text(BASE_PACKAGES)
    nvrs["good"] = store_depending(workdir, scratch, "keystone", "2:22.0.3-1", "python3-oslo.config (>= 1:9), python3")
    nvrs["broken"] = store_depending(workdir, scratch, "keystone", "2:22.0.4-1", "python3-oslo.db (>= 12.1.0), python3")
    write(release, "release", f"bookworm:\n  keystone: {nvrs['old']}\n")
    write(release, "testing", f"bookworm:\n  keystone: {nvrs['old']}\n")
    return release, workdir, nvrs, options, stages.Installability(base_indexes=[base])


@pytest.mark.skipif(not shutil.which("dose-debcheck"), reason="needs dose-debcheck (dose-distcheck)")
def test_a_move_that_would_break_installability_is_refused_in_one_line_and_nothing_moves(closure_world):
    release, workdir, nvrs, options, ok = closure_world
    [published] = stages.publish(release, "testing", workdir, options, installability=ok)
    before = os.readlink(published.path)
    testing_text = release.stage_path("testing").read_text()
    write(release, "candidate", f"bookworm:\n  keystone: {nvrs['broken']}\n")
    candidate, testing = release.stage_path("candidate"), release.stage_path("testing")
    for where, attempt in (
        (testing, lambda: stages.move(release, "candidate", "testing", workdir, reason="gate", installability=ok)),
        (testing, lambda: stages.move(release, "candidate", "testing", workdir, reason="gate", check=True,
                                      installability=ok)),
        (candidate, lambda: stages.publish(release, "candidate", workdir, options, installability=ok)),
    ):  # fmt: skip
        with pytest.raises(DistroforgeError) as refused:
            attempt()
        message = str(refused.value)
        assert "\n" not in message, message
        assert message.startswith(f"{where}: bookworm: "), message
        assert "python3-keystone 22.0.4-1 needs python3-oslo.db (>= 12.1.0)" in message, message
        assert refused.value.details["broken"][0]["missing"] == "python3-oslo.db (>= 12.1.0)"
    assert release.stage_path("testing").read_text() == testing_text
    published_intact(Path(published.path), before)
    assert not (Path(options.repos_dir) / "stages" / "zed" / "bookworm" / "candidate").exists()
    # without the base, a dependency the base satisfies is missing too: the base is what it resolves against
    write(release, "candidate", f"bookworm:\n  keystone: {nvrs['good']}\n")
    with pytest.raises(DistroforgeError, match=r"needs python3-oslo.config \(>= 1:9\)"):
        stages.move(release, "candidate", "testing", workdir, reason="gate", installability=stages.Installability())


@pytest.mark.skipif(not shutil.which("dose-debcheck"), reason="needs dose-debcheck (dose-distcheck)")
def test_a_move_whose_dependencies_resolve_in_the_base_moves_and_publishes(closure_world):
    release, workdir, nvrs, options, installability = closure_world
    write(release, "candidate", f"bookworm:\n  keystone: {nvrs['good']}\n")
    moved = stages.move(release, "candidate", "testing", workdir, reason="gate 8 passed", installability=installability)
    assert [(c.old, c.new) for c in moved.changes] == [(nvrs["old"], nvrs["good"])]
    assert stages.read_stage(release, "testing").nvr("bookworm", "keystone") == nvrs["good"]
    [published] = stages.publish(release, "testing", workdir, options, installability=installability)
    assert published.changed and published.packages == ["python3-keystone_22.0.3-1_all.deb"]


# -- tampering ------------------------------------------------------------------------------------


def test_a_package_changed_in_the_nvr_store_is_refused_in_one_line_and_nothing_is_published(world):
    release, workdir, nvrs, options = world
    write(release, "release", f"bookworm:\n  keystone: {nvrs['old']}\n")
    [rel] = stages.publish(release, "release", workdir, options)
    before = os.readlink(rel.path)
    write(release, "candidate", f"bookworm:\n  keystone: {nvrs['new']}\n")
    [deb] = tagged.store_dir(workdir, "keystone", nvrs["new"]).glob("*.deb")
    deb.write_bytes(deb.read_bytes() + b"\0")  # changed after the build
    with pytest.raises(InputError) as refused:
        stages.publish(release, "candidate", workdir, options)
    message = str(refused.value)
    assert "\n" not in message, message
    assert message.startswith(f"keystone: {deb.name} of {nvrs['new']} in "), message
    assert "is not what was built" in message and "build the tag again" in message, message
    assert not (Path(options.repos_dir) / "stages" / "zed" / "bookworm" / "candidate").exists()
    published_intact(Path(rel.path), before)


def _tamper_deb(snapshot: Path) -> str:
    [deb] = snapshot.glob("python3-keystone_*.deb")
    deb.write_bytes(deb.read_bytes() + b"\0")
    return f"{deb.name}: differs from Packages"


def _tamper_packages(snapshot: Path) -> str:
    # a consistent forgery: Packages and Release rewritten, the signatures left as they were
    (snapshot / "Packages").write_text((snapshot / "Packages").read_text() + "\nPackage: evil\nVersion: 1\n")
    debrepo.write_deb_metadata(snapshot, origin="distroforge", label="distroforge", suite="zed-release")
    return "Release.gpg: does not verify"


def _tamper_inrelease(snapshot: Path) -> str:
    text = (snapshot / "InRelease").read_text()
    (snapshot / "InRelease").write_text(text.replace("Suite: zed-release", "Suite: zed-evil"))
    return "InRelease: does not verify"


@pytest.mark.parametrize("tamper", [_tamper_deb, _tamper_packages, _tamper_inrelease])
def test_a_published_stage_changed_afterwards_is_refused_in_one_line_and_the_link_stays(world, tamper):
    release, workdir, nvrs, options = world
    write(release, "release", f"bookworm:\n  keystone: {nvrs['old']}\n  keystonemiddleware: {nvrs['mw']}\n")
    [rel] = stages.publish(release, "release", workdir, options)
    link = Path(rel.path)
    before = os.readlink(link)
    named = tamper(link.parent / before)
    for check in (True, False):  # check mode says so too
        with pytest.raises(InputError) as refused:
            stages.publish(release, "release", workdir, options, check=check)
        message = str(refused.value)
        assert "\n" not in message, message
        assert message.startswith(f"{link}: the published repository {rel.snapshot} changed after it was published: ")
        assert named in message and "move " in message and "publish the stage again" in message, message
        assert os.readlink(link) == before


@pytest.mark.skipif(not shutil.which("rpmbuild") or not shutil.which("createrepo_c"), reason="needs rpmbuild")
def test_an_rpm_stage_republishes_unchanged_and_a_changed_rpm_is_refused(world, tmp_path):
    release, workdir, _nvrs, options = world
    scratch = tmp_path / "scratch-rpm"
    nvr = "openstack-keystone-22.0.1-1"
    path = tagged.store_dir(workdir, "keystone", nvr)
    path.mkdir(parents=True)
    outputs = []
    for built in build_rpm(scratch, "openstack-keystone", "22.0.1", "1"):
        shutil.copy2(built, path / built.name)
        outputs.append({"name": built.name, "sha256": sha256_file(built), "size": built.stat().st_size})
    info = {"backend": "rpmbuild", "nvr": nvr, "project": "keystone", "outputs": outputs,
            "inputs": {"release_build": True}, "version": {"rpm_version": "22.0.1", "epoch": None}}  # fmt: skip
    (path / "buildinfo.json").write_text(json.dumps(info))
    write(release, "release", f"el9s:\n  keystone: {nvr}\n")
    [rel] = stages.publish(release, "release", workdir, options)
    assert rel.package_format == "rpm" and rel.changed
    assert not stages.publish(release, "release", workdir, options)[0].changed  # as published: no false alarm
    link = Path(rel.path)
    before = os.readlink(link)
    [rpm] = (link.parent / before).glob("openstack-keystone-22.0.1-1.noarch.rpm")
    rpm.write_bytes(rpm.read_bytes() + b"\0")
    with pytest.raises(InputError, match=rf"^{link}: the published repository .*{rpm.name}: size differs from primary"):
        stages.publish(release, "release", workdir, options)
    assert os.readlink(link) == before
