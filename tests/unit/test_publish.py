"""Publishing: DLRN layout and files, links, components, signing verified by dnf and apt, purge, report."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import InputError
from ansible_collections.distroforge.openstack.plugins.module_utils._publish import debrepo, layout, rpmrepo
from ansible_collections.distroforge.openstack.plugins.module_utils._publish.publisher import (
    Publisher,
    PublishOptions,
    dir_status,
)
from ansible_collections.distroforge.openstack.plugins.module_utils._publish.purge import purge
from ansible_collections.distroforge.openstack.plugins.module_utils._statedb.db import StateDB

from .pkgfactory import add_build, artifacts_dir, build_deb, build_rpm, hexhash

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def gpg_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("gnupg")
    yield home
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], check=False, capture_output=True)


@pytest.fixture(scope="module")
def rpms(tmp_path_factory):
    work = tmp_path_factory.mktemp("rpms")
    return {name: build_rpm(work, name) for name in ("alpha", "beta", "gamma")} | {
        "alpha2": build_rpm(work, "alpha", "2.0")
    }


def _publisher(tmp_path, gpg_home, **kw):
    db = StateDB(tmp_path / "state.db")
    options = PublishOptions(repos_dir=tmp_path / "data" / "repos", gpg_home=gpg_home, **kw)
    return db, Publisher(options, db)


def test_layout_files_and_links_match_dlrn(tmp_path, gpg_home, rpms):
    db, pub = _publisher(tmp_path, gpg_home)
    db.upsert_project("alpha", upstream="https://opendev.org/x/alpha", distgit="https://example.org/alpha-distgit")
    results = {}
    for seq, name in enumerate(("alpha", "beta", "gamma")):
        record = add_build(db, name, seq)
        results[name] = pub.publish(record.id, artifacts_dir(tmp_path, rpms[name]))
    repos = tmp_path / "data" / "repos"
    gamma = results["gamma"]
    h = gamma.repo_hash
    assert gamma.repo_path == f"{h[:2]}/{h[2:4]}/{h}" and len(h.split("_")[1]) == 8
    assert os.readlink(repos / "current") == gamma.repo_path == os.readlink(repos / "consistent")
    current = repos / "current"
    # Every package of the distro is in the newest repo: own files plus links to the others' builds.
    names = sorted(p.name for p in current.iterdir() if p.name.endswith(".rpm"))
    assert names == sorted(p.name for key in ("alpha", "beta", "gamma") for p in rpms[key])
    assert (current / "alpha-1.0-1.noarch.rpm").is_symlink() and not (current / "gamma-1.0-1.noarch.rpm").is_symlink()
    assert rpmrepo.check_rpm_repo(current) == []
    rows = list(csv.reader(io.StringIO((current / "versions.csv").read_text())))
    assert ",".join(rows[0]) == layout.VERSIONS_HEADER
    assert rows[1][:6] == [
        "alpha",
        "https://opendev.org/x/alpha",
        results["alpha"].repo_hash.split("_")[0],
        "https://example.org/alpha-distgit",
        db.get(results["alpha"].commit_id).distro_hash,
        "SUCCESS",
    ]
    assert rows[1][9] == "alpha-1.0-1" and rows[1][8] == "None"
    commit = yaml.safe_load((current / "commit.yaml").read_text())["commits"][0]
    assert set(commit) == set(layout.COMMIT_YAML_KEYS)
    assert all(isinstance(v, str) for v in commit.values())  # DLRN stores str() of every column
    assert commit["status"] == "SUCCESS" and commit["project_name"] == "gamma"
    assert commit["artifacts"].split(",")[0] == f"repos/{gamma.repo_path}/gamma-1.0-1.noarch.rpm"
    repo_file = (current / "delorean.repo").read_text()
    assert repo_file.startswith("[delorean]\nname=delorean-gamma-")
    assert f"baseurl=file://{repos}/{gamma.repo_path}\n" in repo_file
    assert "gpgcheck=1\nrepo_gpgcheck=1\n" in repo_file and "priority=1" in repo_file
    assert (current / "build.log").read_text() == "build ok\n"
    assert (repos / "RPM-GPG-KEY-delorean").read_text().startswith("-----BEGIN PGP PUBLIC KEY BLOCK-----")
    # The RPMs are signed by the key.
    out = subprocess.run(
        ["rpm", "-Kv", "--nosignature", str(current / "gamma-1.0-1.noarch.rpm")],
        check=False,
        capture_output=True,
        text=True,
    )
    assert "Header" in out.stdout
    info = subprocess.run(
        ["rpm", "-qpi", str(current / "gamma-1.0-1.noarch.rpm")], check=False, capture_output=True, text=True
    ).stdout
    assert gamma.key_fingerprint[-8:].lower() in info.lower()


def test_second_publish_changes_nothing_and_failures_do_not_move_links(tmp_path, gpg_home, rpms):
    db, pub = _publisher(tmp_path, gpg_home)
    first = add_build(db, "alpha", 0)
    done = pub.publish(first.id, artifacts_dir(tmp_path, rpms["alpha"]))
    repos = tmp_path / "data" / "repos"
    snapshot = {p: p.stat().st_mtime_ns for p in repos.rglob("*") if ".cache" not in p.parts}
    again = pub.publish(first.id, artifacts_dir(tmp_path, rpms["alpha"]))
    assert done.changed and not again.changed
    assert snapshot == {p: p.stat().st_mtime_ns for p in repos.rglob("*") if ".cache" not in p.parts}
    failed = add_build(db, "beta", 1, status="FAILED")
    log = tmp_path / "fail.log"
    log.write_text("error: boom\n")
    result = pub.publish(failed.id, None, log)
    assert result.changed and result.links == {} and not result.consistent
    failed_dir = repos / result.repo_path
    assert sorted(p.name for p in failed_dir.iterdir()) == ["build.log", "commit.yaml", "notes.log"]
    assert dir_status(failed_dir) == "FAILED"
    assert os.readlink(repos / "current") == done.repo_path == os.readlink(repos / "consistent")
    # A later success moves current, but not consistent: beta's newest build failed.
    later = pub.publish(add_build(db, "gamma", 2).id, artifacts_dir(tmp_path, rpms["gamma"]))
    assert os.readlink(repos / "current") == later.repo_path
    assert os.readlink(repos / "consistent") == done.repo_path
    with pytest.raises(InputError, match="QUEUED: only finished builds"):
        pub.publish(db.queue([{**_new("delta"), "dt_commit": 5}])[0].id)


def _new(project):
    return {
        "project": project,
        "release": "master",
        "commit_hash": hexhash(project),
        "distro_hash": hexhash("d", project),
    }


def test_components_and_aggregate_hash_as_dlrn(tmp_path, gpg_home, rpms):
    db, pub = _publisher(tmp_path, gpg_home, use_components=True, baseurl="https://repo.example.org/master")
    a = pub.publish(add_build(db, "alpha", 0, component="common").id, artifacts_dir(tmp_path, rpms["alpha"]))
    b = pub.publish(add_build(db, "beta", 1, component="network").id, artifacts_dir(tmp_path, rpms["beta"]))
    repos = tmp_path / "data" / "repos"
    assert a.repo_path.startswith("component/common/") and b.repo_path.startswith("component/network/")
    assert os.readlink(repos / "component" / "network" / "current") == b.repo_path.split("/", 2)[2]
    # Component repos hold only their component's packages.
    assert not any("alpha" in p.name for p in (repos / b.repo_path).iterdir())
    text = (repos / "current" / "delorean.repo").read_text()
    md5 = (repos / "current" / "delorean.repo.md5").read_text()
    assert md5 == layout.aggregate_hash(text) == b.aggregate_hashes["current"]
    assert os.readlink(repos / "current" / "delorean.repo") == f"{md5[:2]}/{md5[2:4]}/{md5}/delorean.repo"
    assert "[delorean-component-common]" in text and "[delorean-component-network]" in text
    assert f"baseurl=https://repo.example.org/master/{b.repo_path}\n" in text
    agg_csv = (repos / "current" / "versions.csv").read_text().splitlines()
    assert agg_csv[0] == layout.VERSIONS_HEADER and len(agg_csv) == 3


def _dnf(tmp_path, repo_file: Path, package: str):
    root = tmp_path / f"root-{len(list(tmp_path.glob('root-*')))}"
    conf = tmp_path / "dnf.conf"
    conf.write_text(f"[main]\nreposdir=\ncachedir=/var/cache/dnf\nlogdir={tmp_path}\n\n" + repo_file.read_text())
    return subprocess.run(
        ["dnf", "-y", "-q", f"--installroot={root}", f"--config={conf}", "--setopt=reposdir=", "--releasever=1",
         "install", package],
        check=False, capture_output=True, text=True, timeout=120,
    ), root  # fmt: skip


def test_dnf_verifies_signed_repo_and_refuses_tampered_metadata(tmp_path, gpg_home, rpms):
    db, pub = _publisher(tmp_path, gpg_home)
    pub.publish(add_build(db, "alpha", 0).id, artifacts_dir(tmp_path, rpms["alpha"]))
    current = tmp_path / "data" / "repos" / "current"
    proc, root = _dnf(tmp_path, current / "delorean.repo", "alpha")
    assert proc.returncode == 0, proc.stderr
    assert (root / "usr/share/alpha/VERSION").read_text() == "alpha-1.0\n"
    repomd = current / "repodata" / "repomd.xml"
    repomd.write_text(repomd.read_text().replace("<revision>", "<revision>6"))
    proc, _root = _dnf(tmp_path, current / "delorean.repo", "alpha")
    assert proc.returncode != 0
    assert "repomd.xml GPG signature verification error: Bad GPG signature" in proc.stderr
    for pubring in tmp_path.glob("root-*/var/cache/dnf/*/pubring"):  # librepo leaves an agent per keyring
        subprocess.run(["gpgconf", "--homedir", str(pubring), "--kill", "all"], check=False, capture_output=True)


def _apt(base: Path, list_file: Path, *args: str):
    """apt-get on our repo only, with state and cache in ``base``: the system is untouched."""
    for sub in ("state/lists/partial", "cache/archives/partial"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    options = [
        f"-oDir::Etc::sourcelist={list_file}", "-oDir::Etc::sourceparts=-", f"-oDir::State={base / 'state'}",
        f"-oDir::Cache={base / 'cache'}", "-oDir::State::status=/var/lib/dpkg/status", "-oAPT::Sandbox::User=root",
        "-oDebug::NoLocking=1",
    ]  # fmt: skip
    return subprocess.run(["apt-get", *options, *args], check=False, capture_output=True, text=True, timeout=120)


def test_deb_flat_repo_signed_and_apt_refuses_tampered_packages(tmp_path, gpg_home):
    keyring = tmp_path / "data" / "repos" / "delorean-archive-keyring.gpg"
    db, pub = _publisher(tmp_path, gpg_home, deb_signed_by=str(keyring))
    for seq, name in enumerate(("python3-alpha", "python3-beta")):
        deb = build_deb(tmp_path, name)
        (tmp_path / f"{name}.buildinfo").write_text("Format: 1.0\n")
        result = pub.publish(add_build(db, name, seq, nvr=f"{name}_1.0-1").id,
                             artifacts_dir(tmp_path, [deb, tmp_path / f"{name}.buildinfo"]))  # fmt: skip
    current = tmp_path / "data" / "repos" / "current"
    assert result.package_format == "deb"
    assert {"Packages", "Packages.gz", "Release", "InRelease", "Release.gpg", "delorean.list"} <= {
        p.name for p in current.iterdir()
    }
    assert debrepo.check_deb_repo(current) == []
    assert (current / "delorean.list").read_text() == f"deb [signed-by={keyring}] file://{current.resolve()}/ ./\n"
    assert "python3-beta_1.0-1" in (current / "versions.csv").read_text()
    list_file = current / "delorean.list"
    proc = _apt(tmp_path / "apt", list_file, "update")
    assert proc.returncode == 0 and "W:" not in proc.stderr and "E:" not in proc.stderr, proc.stderr
    proc = _apt(tmp_path / "apt", list_file, "-y", "--download-only", "install", "python3-alpha")
    assert proc.returncode == 0, proc.stderr
    # Tamper: a package version changed in Packages (and .gz) without re-signing.
    for name in ("Packages",):
        path = current / name
        path.write_text(path.read_text().replace("Version: 1.0-1", "Version: 9.9-1"))
    (current / "Packages.gz").unlink()
    proc = _apt(tmp_path / "apt-fresh", list_file, "update")
    assert proc.returncode != 0 or "E:" in proc.stderr
    assert re.search(r"Hash Sum mismatch|File has unexpected size", proc.stderr + proc.stdout), proc.stderr


def test_purge_keeps_newest_success_labels_and_linked_builds(tmp_path, gpg_home, rpms):
    db, pub = _publisher(tmp_path, gpg_home, sign=False)
    old_alpha = pub.publish(add_build(db, "alpha", 0).id, artifacts_dir(tmp_path, rpms["alpha"]))
    beta = pub.publish(add_build(db, "beta", 1).id, artifacts_dir(tmp_path, rpms["beta"]))
    new_alpha = pub.publish(add_build(db, "alpha", 2).id, artifacts_dir(tmp_path, rpms["alpha2"]))
    failed = pub.publish(add_build(db, "gamma", 3, status="FAILED").id, None, None)
    repos = tmp_path / "data" / "repos"
    lay = pub.layout
    now = 1_700_000_000 + 400 + 90 * 86400
    # beta's repo links to old alpha's packages: while beta's repo stays, old alpha stays.
    plan = purge(db, lay, 60, check_mode=True, now=now)
    assert plan.removed == [failed.repo_path]
    assert plan.kept[old_alpha.repo_path].startswith("linked from")
    assert plan.kept[new_alpha.repo_path] == "newest successful build of alpha"  # also current's target
    assert plan.kept[beta.repo_path] == "newest successful build of beta"
    assert (repos / failed.repo_path).is_dir()  # check mode removed nothing
    purge(db, lay, 60, now=now)
    assert not (repos / failed.repo_path).exists()
    assert db.get(failed.commit_id).flags & layout.FLAG_PURGED
    for kept in (old_alpha, beta, new_alpha):
        assert (repos / kept.repo_path).is_dir()
    assert rpmrepo.check_rpm_repo(repos / "current") == []
    assert purge(db, lay, 60, check_mode=True, now=now).removed == []


def test_report_orders_failures_first_and_filters_in_a_real_browser(tmp_path, gpg_home, rpms):
    db, pub = _publisher(tmp_path, gpg_home, sign=False)
    db.upsert_project("beta", maintainers=["beta-core@example.org", "<script>x</script>@example.org"])
    pub.publish(add_build(db, "alpha", 0).id, artifacts_dir(tmp_path, rpms["alpha"]))
    pub.publish(add_build(db, "gamma", 1).id, artifacts_dir(tmp_path, rpms["gamma"]))
    pub.publish(add_build(db, "beta", 2, status="FAILED").id, None, None)
    pub.publish(add_build(db, "beta", 3, status="FAILED").id, None, None)
    repos = tmp_path / "data" / "repos"
    data = json.loads((repos / "status_report.json").read_text())
    assert [p["project"] for p in data["packages"]] == ["beta", "alpha", "gamma"]
    (failing,) = data["ftbfs"]
    assert (failing["project"], failing["failures"], failing["last_success"]) == ("beta", 2, None)
    assert data["packages"][1]["repo"].endswith("/") and data["packages"][0]["repo"] is None
    html_text = (repos / "status_report.html").read_text()
    assert "<tr" not in html_text.split("<tbody")[1].split("</tbody>")[0]  # rows come from the page's script

    def dom(query: str) -> str:
        profile = tmp_path / f"chromium-{len(list(tmp_path.glob('chromium-*')))}"
        proc = subprocess.run(
            ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
             "--dump-dom", f"file://{repos / 'status_report.html'}{query}"],
            check=False, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-2000:]
        return proc.stdout

    page = dom("")
    failing_part, newest_part = page.split('id="ftbfs-rows"')[1].split("</tbody>", 1)
    rows = re.findall(r'<tr class="(\w+)" data-project="([\w-]+)"', newest_part)
    assert rows == [("FAILED", "beta"), ("SUCCESS", "alpha"), ("SUCCESS", "gamma")]
    # the failing packages come first, with how long, how often and whose (text, never markup)
    cells = re.findall(r"<td>(.*?)</td>", failing_part.split('data-project="beta"')[1].split("</tr>")[0])
    assert cells[0] == "beta" and re.fullmatch(r"\d+ days", cells[2]) and cells[3] == "2"
    assert cells[5] == "beta-core@example.org, &lt;script&gt;x&lt;/script&gt;@example.org"

    def newest(query: str) -> list[str]:
        return re.findall(r'data-project="([\w-]+)"', dom(query).split('id="rows"')[1])

    assert newest("?filter=gam") == ["gamma"]
    assert newest("?filter=failed") == ["beta"]


def test_missing_artifacts_is_a_one_line_error(tmp_path, gpg_home):
    db, pub = _publisher(tmp_path, gpg_home, sign=False)
    empty = tmp_path / "empty"
    empty.mkdir()
    record = add_build(db, "alpha", 0)
    with pytest.raises(InputError, match=r"no \.rpm or \.deb files .*hand the publisher the build's output directory"):
        pub.publish(record.id, empty)
    # The aborted staging directory never became a repository.
    assert not (tmp_path / "data" / "repos" / record.repo_path).exists()
    shutil.rmtree(tmp_path / "data")


def _aggregate_dirs(repos: Path) -> set[str]:
    return {
        str(p.relative_to(repos))
        for p in repos.glob("*/??/??/*")
        if p.parts[-4] != "component" and re.fullmatch(r"[0-9a-f]{32}", p.name)
    }


def _aggregate_builds_exist(repos: Path, aggregate: str) -> bool:
    urls = re.findall(r"^baseurl=file://(\S+)$", (repos / aggregate / "delorean.repo").read_text(), re.MULTILINE)
    return bool(urls) and all(Path(url).is_dir() for url in urls)


def test_purge_removes_aggregates_of_purged_builds_but_not_labelled_ones(tmp_path, gpg_home, rpms):
    db, pub = _publisher(tmp_path, gpg_home, sign=False, use_components=True)
    repos = tmp_path / "data" / "repos"
    old_alpha = pub.publish(add_build(db, "alpha", 0, component="common").id, artifacts_dir(tmp_path, rpms["alpha"]))
    beta = pub.publish(add_build(db, "beta", 1, component="network").id, artifacts_dir(tmp_path, rpms["beta"]))
    promoted = beta.aggregate_hashes["current"]  # names old alpha and beta
    db.record_promotion(promoted, "current-passed-ci", timestamp=1_700_000_150, aggregate=True)
    lone = pub.publish(add_build(db, "gamma", 2, status="FAILED", component="old").id, None, None)
    new_alpha = pub.publish(add_build(db, "alpha", 3, component="common").id, artifacts_dir(tmp_path, rpms["alpha2"]))
    labelled = {
        str(Path(os.readlink(repos / label / "delorean.repo")).parent)
        for label in ("current", "consistent")  # relative to the label dir
    }
    before = _aggregate_dirs(repos)
    assert len(before) >= 4
    now = 1_700_000_000 + 400 + 90 * 86400

    # The promoted aggregate stays, and with it the old alpha build it names.
    plan = purge(db, pub.layout, 60, check_mode=True, now=now)
    assert plan.kept_aggregates[f"current/{layout.sharded(promoted)}"] == "promoted as current-passed-ci"
    assert re.fullmatch(
        rf"aggregate \w+/{layout.sharded(promoted)} \(promoted as current-passed-ci\)", plan.kept[old_alpha.repo_path]
    )
    assert plan.removed == [lone.repo_path] and plan.removed_aggregates == []
    assert "component/old" in plan.removed_empty_dirs  # the component had only that failed build

    # Once the label moves on, the old build and every aggregate naming it go, labelled ones never.
    db.record_promotion(new_alpha.aggregate_hashes["current"], "current-passed-ci", timestamp=now, aggregate=True)
    plan = purge(db, pub.layout, 60, check_mode=True, now=now)
    assert sorted(plan.removed) == sorted([old_alpha.repo_path, lone.repo_path])
    assert f"current/{layout.sharded(promoted)}" in plan.removed_aggregates
    assert not {rel.split("/", 1)[1] for rel in plan.removed_aggregates} & labelled
    assert _aggregate_dirs(repos) == before  # check mode removed nothing
    assert (repos / old_alpha.repo_path).is_dir() and not db.get(old_alpha.commit_id).flags & layout.FLAG_PURGED

    done = purge(db, pub.layout, 60, now=now)
    assert done.as_dict() == plan.as_dict()
    assert not (repos / old_alpha.repo_path).exists() and not (repos / "component" / "old").exists()
    assert db.get(old_alpha.commit_id).flags & layout.FLAG_PURGED and db.get(lone.commit_id).flags & layout.FLAG_PURGED
    assert not (repos / old_alpha.repo_path).parent.exists()  # its emptied xx/yy shard went too
    left = _aggregate_dirs(repos)
    assert left == before - set(plan.removed_aggregates) and left
    # Every aggregate left (labelled ones included) still names only builds that exist.
    assert all(_aggregate_builds_exist(repos, rel) for rel in left)
    for label in ("current", "consistent"):
        assert _aggregate_builds_exist(repos, label)  # follows the label's delorean.repo link
    assert db.integrity_check() == "ok"
    assert not purge(db, pub.layout, 60, now=now).changes
