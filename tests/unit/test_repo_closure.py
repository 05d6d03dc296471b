"""repo_closure: a repository whose packages cannot all be installed is refused, naming package and dependency.

Real small DEB and RPM repositories, built here with dpkg-deb/rpmbuild and
indexed as repo_publish indexes them; the solvers are dose-debcheck and
dnf repoclosure.
"""

from __future__ import annotations

import json
import re
import subprocess
import textwrap
from pathlib import Path

import pytest
import yaml

from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import InputError
from ansible_collections.distroforge.openstack.plugins.module_utils._publish import debrepo, rpmrepo
from ansible_collections.distroforge.openstack.plugins.module_utils._release import closure

from .ansible_run import run_playbook

pytestmark = pytest.mark.slow

# A base distribution in miniature: what bookworm's Packages says about a few packages.
BASE_PACKAGES = textwrap.dedent(
    """\
    Package: python3
    Version: 3.11.2-1+b1
    Architecture: amd64
    Provides: python3-supported-min (= 3.11), python3-supported-max (= 3.11)

    Package: python3-oslo.config
    Version: 1:9.0.0-2
    Architecture: all
    Depends: python3, python3-yaml

    Package: python3-yaml
    Version: 6.0-3+b2
    Architecture: amd64
    Depends: python3

    Package: libc6
    Version: 2.36-9+deb12u3
    Architecture: amd64
    """
)


def deb(workdir: Path, name: str, version: str = "1.0-1", depends: str = "") -> Path:
    """A tiny architecture-independent .deb with a Depends field."""
    root = workdir / f"root-{name}-{version}"
    (root / "DEBIAN").mkdir(parents=True)  # one directory per package and repository
    (root / "usr" / "share" / name).mkdir(parents=True)
    (root / "usr" / "share" / name / "VERSION").write_text(version)
    control = f"Package: {name}\nVersion: {version}\nArchitecture: all\nMaintainer: t <t@localhost>\n"
    control += (f"Depends: {depends}\n" if depends else "") + f"Description: test package {name}\n"
    (root / "DEBIAN" / "control").write_text(control)
    target = workdir / f"{name}_{version}_all.deb"
    subprocess.run(
        ["dpkg-deb", "--root-owner-group", "--build", str(root), str(target)], check=True, capture_output=True
    )
    return target


def rpm(workdir: Path, name: str, version: str = "1.0", requires: tuple[str, ...] = ()) -> Path:
    """A tiny noarch RPM with Requires."""
    top = workdir / f"rpmbuild-{name}-{version}"
    (top / "SPECS").mkdir(parents=True)
    lines = [f"Name: {name}", f"Version: {version}", "Release: 1", "Summary: t", "License: MIT", "BuildArch: noarch"]
    lines += [f"Requires: {item}" for item in requires] + ["%description", "t", "%files"]
    spec = top / "SPECS" / f"{name}.spec"
    spec.write_text("\n".join(lines) + "\n")
    subprocess.run(
        ["rpmbuild", "-bb", "--define", f"_topdir {top}", "--define", f"_rpmdir {workdir / 'out'}", str(spec)],
        check=True,
        capture_output=True,
    )
    return next((workdir / "out" / "noarch").glob(f"{name}-{version}-1.noarch.rpm"))


def srpm(workdir: Path, name: str, build_requires: str) -> Path:
    """A source RPM whose BuildRequires nothing in a runtime repository provides (as published repos hold)."""
    top = workdir / f"rpmbuild-{name}-src"
    (top / "SPECS").mkdir(parents=True)
    spec = top / "SPECS" / f"{name}.spec"
    spec.write_text(
        f"Name: {name}\nVersion: 1.0\nRelease: 1\nSummary: t\nLicense: MIT\nBuildArch: noarch\n"
        f"BuildRequires: {build_requires}\n%description\nt\n%files\n"
    )
    subprocess.run(["rpmbuild", "-bs", "--define", f"_topdir {top}", str(spec)], check=True, capture_output=True)
    return next((top / "SRPMS").glob("*.src.rpm"))


def deb_repo(tmp_path: Path, name: str, packages: list[tuple]) -> Path:
    repo = tmp_path / name
    repo.mkdir()
    for args in packages:
        deb(tmp_path / "work" / name, *args).rename(repo / f"{args[0]}_{args[1]}_all.deb")
    debrepo.write_deb_metadata(repo, origin="distroforge", label="distroforge", suite="zed")
    return repo


def rpm_repo(tmp_path: Path, name: str, packages: list[tuple]) -> Path:
    repo = tmp_path / name
    repo.mkdir()
    # repo_publish indexes the source RPMs too: their BuildRequires are not the repository's to satisfy.
    srpm(tmp_path / "work" / name, "python-keystone", "python3-devel, python3-sphinx >= 99").rename(
        repo / "python-keystone-1.0-1.src.rpm"
    )
    for args in packages:
        built = rpm(tmp_path / "work" / name, *args)
        built.rename(repo / built.name)
    rpmrepo.write_rpm_metadata(repo, cache_dir=None)
    return repo


@pytest.fixture(scope="module")
def repos(tmp_path_factory):
    """Every repository the tests check, built once."""
    top = tmp_path_factory.mktemp("closure")
    (top / "work").mkdir()
    base = top / "base-Packages"
    base.write_text(BASE_PACKAGES)
    found = {"base": base}
    found["deb-closed"] = deb_repo(
        top,
        "deb-closed",
        [
            ("python3-keystone", "2:22.0.2-1", "python3-keystonemiddleware (>= 10), python3-oslo.config, python3"),
            ("python3-keystonemiddleware", "10.1.0-1", "python3-oslo.config (>= 1:9.0.0), libc6 | libc6.1"),
            ("keystone", "2:22.0.2-1", "python3-keystone (= 2:22.0.2-1), vhost-provider"),
        ],
    )
    found["deb-missing"] = deb_repo(
        top,
        "deb-missing",
        [
            ("python3-keystone", "2:22.0.2-1", "python3-oslo.db, python3"),
            ("keystone", "2:22.0.2-1", "python3-keystone"),
            ("python3-glance", "25.0.0-1", "python3-glance-store"),
        ],
    )
    found["deb-versioned"] = deb_repo(
        top,
        "deb-versioned",
        [
            ("python3-keystone", "2:22.0.2-1", "python3-keystonemiddleware (>= 10.2), python3"),
            ("python3-keystonemiddleware", "10.1.0-1", "python3"),
            # the base has 1:9.0.0-2: the epoch counts
            ("python3-nova", "26.0.0-1", "python3-oslo.config (>= 1:9.1)"),
        ],
    )
    found["rpm-closed"] = rpm_repo(
        top,
        "rpm-closed",
        [
            ("python3-keystone", "22.0.2", ("python3-keystonemiddleware >= 10", "python3", "/bin/sh")),
            ("python3-keystonemiddleware", "10.1.0", ("python(abi) = 3.9",)),
        ],
    )
    found["rpm-missing"] = rpm_repo(
        top,
        "rpm-missing",
        [
            ("python3-keystone", "22.0.2", ("python3-oslo-db", "python3")),
            ("openstack-keystone", "22.0.2", ("python3-keystone = 22.0.2",)),
        ],
    )
    found["rpm-versioned"] = rpm_repo(
        top, "rpm-versioned", [("python3-keystone", "22.0.2", ("python3-keystonemiddleware >= 10.2",)),
                               ("python3-keystonemiddleware", "10.1.0", ())],
    )  # fmt: skip
    return found


RPM_BASE = ["python3", "/bin/sh", "python(abi) = 3.9"]


def test_a_closed_deb_repo_passes(repos):
    report = closure.check(repos["deb-closed"], base_indexes=[repos["base"]], provides=["vhost-provider"])
    assert report.ok and report.fmt == "deb" and report.checked == 3, report


def test_a_deb_dependency_found_nowhere_is_named(repos):
    report = closure.check(repos["deb-missing"], base_indexes=[repos["base"]])
    assert {(item.package, item.missing, item.needed_by) for item in report.broken} == {
        ("python3-keystone", "python3-oslo.db", "python3-keystone"),
        # keystone is broken through the package it needs
        ("keystone", "python3-oslo.db", "python3-keystone"),
        ("python3-glance", "python3-glance-store", "python3-glance"),
    }
    message = str(report.error())
    assert "\n" not in message and str(repos["deb-missing"]) in message
    assert "needs python3-oslo.db" in message and "add the missing package" in message


def test_an_unsatisfied_deb_version_is_named(repos):
    report = closure.check(repos["deb-versioned"], base_indexes=[repos["base"]])
    assert {(item.package, item.missing) for item in report.broken} == {
        ("python3-keystone", "python3-keystonemiddleware (>= 10.2)"),
        ("python3-nova", "python3-oslo.config (>= 1:9.1)"),
    }
    assert report.checked == 3


def test_without_the_base_the_deb_repo_is_not_closed(repos):
    """The base index is what resolves python3 and python3-oslo.config: leaving it out is noticed."""
    report = closure.check(repos["deb-closed"], provides=["vhost-provider"])
    assert {item.package for item in report.broken} == {"python3-keystone", "python3-keystonemiddleware", "keystone"}
    assert {item.missing.split(" ")[0] for item in report.broken} <= {"python3", "python3-oslo.config"}


def test_a_closed_rpm_repo_passes(repos):
    report = closure.check(repos["rpm-closed"], provides=RPM_BASE)
    assert report.ok and report.fmt == "rpm" and report.checked == 2, report


def test_an_rpm_dependency_found_nowhere_is_named(repos):
    report = closure.check(repos["rpm-missing"], provides=RPM_BASE)
    assert [(item.package, item.version, item.missing) for item in report.broken] == [
        ("python3-keystone", "22.0.2-1", "python3-oslo-db")
    ]
    assert "python3-keystone 22.0.2-1 needs python3-oslo-db" in str(report.error())


def test_an_unsatisfied_rpm_version_is_named(repos):
    report = closure.check(repos["rpm-versioned"], provides=RPM_BASE)
    assert [(item.package, item.missing) for item in report.broken] == [
        ("python3-keystone", "python3-keystonemiddleware >= 10.2")
    ]


def test_without_provides_the_rpm_base_is_nothing(repos):
    report = closure.check(repos["rpm-closed"])
    assert {item.missing for item in report.broken} == {"python3", "/bin/sh", "python(abi) = 3.9"}


@pytest.mark.parametrize(
    ("repo", "kwargs", "expected"),
    [
        ("deb-closed", {"provides": ["bad name!"]}, r"^provides: 'bad name!' is not a Debian Provides entry"),
        ("rpm-closed", {"provides": ["x\n%post"]}, r"^provides: .* is not an RPM capability"),
        ("rpm-closed", {"provides": ["%{lua: os.exit(1)}"]}, r"^provides: .* is not an RPM capability"),
        ("deb-closed", {"base_indexes": [Path("/nonexistent/Packages")]}, r"^base_indexes: /nonexistent/Packages"),
        ("rpm-closed", {"base_indexes": [Path("/x")]}, r"^base_indexes: RPM repositories resolve against"),
        ("work", {}, r"^path: .* holds neither Packages \(DEB\) nor repodata"),
        ("deb-closed", {"fmt": "rpm"}, r"^path: .* has no repodata/repomd.xml"),
    ],
)
def test_bad_input_is_one_line_naming_the_field(repos, repo, kwargs, expected):
    path = repos["deb-closed"].parent / repo
    with pytest.raises(InputError, match=expected) as caught:
        closure.check(path, **kwargs)
    assert "\n" not in str(caught.value)


def test_the_module_refuses_a_broken_repo_in_one_line_and_lists_every_problem(repos, tmp_path):
    """Through Ansible: a closed one passes, broken ones fail naming package and dependency.

    Check mode: test_check_mode.py.
    """
    calls = {
        "deb-closed": {"path": str(repos["deb-closed"]), "base_indexes": [str(repos["base"])],
                       "provides": ["vhost-provider"]},
        "deb-missing": {"path": str(repos["deb-missing"]), "base_indexes": [str(repos["base"])]},
        "rpm-versioned": {"path": str(repos["rpm-versioned"]), "provides": RPM_BASE},
    }  # fmt: skip
    playbook = tmp_path / "closure.yml"
    tasks = [
        {
            "name": f"Check {key}",
            "distroforge.openstack.repo_closure": f"{{{{ calls[{key!r}] }}}}",
            "register": f"out_{index}",
            "ignore_errors": True,
        }
        for index, key in enumerate(calls)
    ]
    collect = "{{ {" + ", ".join(f"{key!r}: out_{index}" for index, key in enumerate(calls)) + "} | to_json }}"
    tasks.append(
        {"name": "Save", "ansible.builtin.copy": {"content": collect, "dest": str(tmp_path / "out.json")},
         "check_mode": False}
    )  # fmt: skip
    playbook.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]))
    run_playbook(playbook, {"calls": calls})
    out = json.loads((tmp_path / "out.json").read_text())
    assert not out["deb-closed"].get("failed") and out["deb-closed"]["checked"] == 3, out["deb-closed"]
    assert out["deb-closed"]["broken"] == [] and out["deb-closed"]["format"] == "deb"
    assert out["deb-missing"]["failed"] and "\n" not in out["deb-missing"]["msg"]
    assert re.search(r"^\S+: not installable: \S+ \S+ needs python3-(oslo.db|glance-store)", out["deb-missing"]["msg"])
    assert "and 2 more problem(s) in keystone, python3-glance, python3-keystone" in out["deb-missing"]["msg"]
    assert {(item["package"], item["missing"]) for item in out["deb-missing"]["broken"]} == {
        ("python3-keystone", "python3-oslo.db"),
        ("keystone", "python3-oslo.db"),
        ("python3-glance", "python3-glance-store"),
    }
    assert out["rpm-versioned"]["msg"].startswith(f"{repos['rpm-versioned']}: not installable: python3-keystone")
    assert "needs python3-keystonemiddleware >= 10.2" in out["rpm-versioned"]["msg"]
