"""reqcheck's parts: the requirement → package map (held to pymod2pkg), requirement lines, specs, control files.

The map is ours (data); pymod2pkg (OpenStack's, which rdopkg uses) is the
peer: every RPM name agrees with it, and every Debian name agrees with its
"ubuntu" map except the entries the map itself lists with a reason.  The
spec reader is held to ``rpmspec -q`` on the example distro's specs.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pymod2pkg
import pytest
import yaml

from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import InputError
from ansible_collections.distroforge.openstack.plugins.module_utils._release import (
    pkgfiles,
    pymod,
    pymod_data,
    reqcheck,
)
from ansible_collections.distroforge.openstack.plugins.module_utils._release.pkgfiles import Dependencies, Dependency

TOP = Path(__file__).resolve().parents[2]
PACKAGING = TOP / "examples" / "distro" / "packaging"
SPECS = sorted(PACKAGING.glob("*/*.spec"))
MAP = pymod.load()
DATA = yaml.safe_load(pymod.DATA.read_text())

# The requirement names of the example's upstreams (requirements.txt and
# test-requirements.txt of keystone 22.0.x, python-keystoneclient 5.0.x and
# keystonemiddleware 10.x, which are equal across their tags) ...
EXAMPLE_NAMES = [
    "pbr",
    "WebOb",
    "Flask",
    "Flask-RESTful",
    "cryptography",
    "SQLAlchemy",
    "sqlalchemy-migrate",
    "stevedore",
    "passlib",
    "python-keystoneclient",
    "keystonemiddleware",
    "bcrypt",
    "scrypt",
    "oslo.cache",
    "oslo.config",
    "oslo.context",
    "oslo.messaging",
    "oslo.db",
    "oslo.i18n",
    "oslo.log",
    "oslo.middleware",
    "oslo.policy",
    "oslo.serialization",
    "oslo.upgradecheck",
    "oslo.utils",
    "oauthlib",
    "pysaml2",
    "PyJWT",
    "dogpile.cache",
    "jsonschema",
    "pycadf",
    "msgpack",
    "osprofiler",
    "pytz",
    "hacking",
    "pep257",
    "flake8-docstrings",
    "bashate",
    "stestr",
    "freezegun",
    "coverage",
    "fixtures",
    "lxml",
    "oslotest",
    "WebTest",
    "testtools",
    "tempest",
    "requests",
    "debtcollector",
    "keystoneauth1",
    "six",
    "importlib_metadata",
    "packaging",
    "keyring",
    "os-client-config",
    "requests-mock",
    "testresources",
    "testscenarios",
    "bandit",
    "python-memcached",
]
# ... and the PyPI spelling of every exception of the map.
EXCEPTION_NAMES = [
    "keystone",
    "tempest",
    "nova",
    "glance",
    "neutron",
    "cinder",
    "swift",
    "horizon",
    "openstack-placement",
    "Babel",
    "dnspython",
    "GitPython",
    "bandit",
    "libvirt-python",
    "PyMySQL",
    "PyJWT",
    "pyOpenSSL",
    "PyYAML",
    "pytz",
    "PasteDeploy",
    "sqlalchemy-migrate",
    "suds-jurko",
    "suds-community",
    "pycrypto",
    "pyzmq",
    "prometheus-client",
    "posix_ipc",
    "sysv_ipc",
    "psycopg2-binary",
    "pyinotify",
    "semantic_version",
    "Sphinx",
    "sphinx_rtd_theme",
    "systemd-python",
    "wsgi_intercept",
    "glance_store",
    "python-memcached",
    "python-dateutil",
    "python-ldap",
]


def test_the_map_modules_read_is_the_yaml_file():
    """Modules read the copy in pymod_data.py (Ansible ships module_utils as Python only)."""
    embed = TOP / "tools" / "embed_pymod_map.py"
    assert pymod.DATA.read_text() == pymod_data.TEXT, f"pymod_data.py is stale: run python3 {embed.relative_to(TOP)}"
    assert pymod.load() == pymod.load(pymod.DATA)


def test_every_exception_of_the_map_is_tried():
    assert {pymod.canonical(n) for n in EXCEPTION_NAMES} >= set(DATA["exceptions"])


@pytest.mark.parametrize("name", sorted(set(EXAMPLE_NAMES + EXCEPTION_NAMES)))
def test_rpm_names_agree_with_pymod2pkg(name):
    assert MAP.package(name, "rpm") == pymod2pkg.module2package(name, "centos", py_vers=["py3"])


@pytest.mark.parametrize("name", sorted(set(EXAMPLE_NAMES + EXCEPTION_NAMES)))
def test_deb_names_agree_with_pymod2pkg_ubuntu_or_say_why(name):
    theirs = pymod2pkg.module2package(name, "ubuntu", py_vers=["py3"])
    ours = MAP.package(name, "deb")
    if pymod.canonical(name) in DATA["deb_differs_from_pymod2pkg"]:
        assert ours != theirs, f"{name}: listed as differing from pymod2pkg but agrees; drop it from the list"
    elif "_" in name:
        # Debian's Python policy: python3-<import name> with "_" as "-"; pymod2pkg keeps the "_".
        assert ours == theirs.replace("_", "-")
    else:
        assert ours == theirs


def test_every_listed_deb_difference_is_a_real_exception_or_default():
    assert set(DATA["deb_differs_from_pymod2pkg"]) <= {pymod.canonical(n) for n in EXAMPLE_NAMES + EXCEPTION_NAMES}


def test_the_example_debian_packaging_uses_the_maps_names():
    """Every python3-* Depends of the example's debian/control is a name the map gives some requirement."""
    names = {MAP.package(n, "deb") for n in EXAMPLE_NAMES} | {
        "python3-dateutil",
        "python3-ldappool",
        "python3-memcache",
    }
    names |= {"python3-pymysql", "python3-openstackclient", "python3-tz"} | MAP.build_tools["deb"]
    for control in PACKAGING.glob("*/debian/control"):
        deps = pkgfiles.control_dependencies(control.read_text(), str(control))
        python = {d.name for d in deps.runtime + deps.build if d.name.startswith("python3-")} - deps.provides
        assert python <= names, f"{control}: {sorted(python - names)}"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("default: {}", "default.rpm"),
        ("default: {rpm: {prefix: p}, deb: {prefix: p}}\nexceptions: {six: 7}", "exceptions.six"),
        ("default: {rpm: {prefix: p}, deb: {prefix: p, replace: [a]}}", "default.deb.replace"),
        ("[", "cannot read"),
        ("- a", "the top"),
    ],
)
def test_a_broken_map_is_one_line(tmp_path, text, why):
    path = tmp_path / "map.yml"
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        pymod.load(path)
    assert why in str(caught.value) and "\n" not in str(caught.value) and str(path) in str(caught.value)


# -- requirement lines ------------------------------------------------------------------------------

REQUIREMENTS = """\
# comment
pbr!=2.1.0,>=2.0.0 # Apache-2.0
oslo.db[fixtures,mysql]>=6.0.0
importlib_metadata>=1.7.0;python_version<'3.8' # Apache-2.0
tomli>=1.1.0; python_version < "3.11"
pywin32>=300; sys_platform == "win32"
-r extra-requirements.txt
-c https://releases.openstack.org/constraints/upper/zed
pkg @ https://example.org/pkg.tar.gz

"""


def test_requirement_lines_with_extras_and_markers_for_each_target_python():
    el9 = reqcheck.parse_requirements(REQUIREMENTS, "requirements.txt", "3.9")
    bookworm = reqcheck.parse_requirements(REQUIREMENTS, "requirements.txt", "3.11")
    assert [r.name for r in el9] == ["pbr", "oslo.db", "tomli"]
    assert [r.name for r in bookworm] == ["pbr", "oslo.db"]
    assert el9[0].minimum == "2.0.0" and el9[1].minimum == "6.0.0" and el9[0].lineno == 2


@pytest.mark.parametrize(
    "line",
    ["oslo.config>=", "foo (>=1.0", "six>=1.0;; python_version", "pbr>=2.0.0 extra", "===", "bar>=1.0; nonsense == 1"],
)
def test_a_broken_requirement_line_is_one_line(line):
    text = f"pbr>=2.0.0\n{line}\n"
    with pytest.raises(InputError) as caught:
        reqcheck.parse_requirements(text, "python-keystoneclient 5.0.2: requirements.txt", "3.9")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("python-keystoneclient 5.0.2: requirements.txt line 2: ")


def _deps(*lines: str) -> list[Dependency]:
    out = []
    for line in lines:
        name, *rest = line.split()
        out.append(Dependency((name,), ((rest[0], rest[1]),) if rest else ()))
    return out


def test_classes_met_any_mismatch_missing_excess_removed():
    new = reqcheck.parse_requirements(
        "oslo.config>=9.0.0\nsix>=1.10.0\nrequests>=2.14.2\ntenacity>=6.0\nstevedore\n", "r", "3.9"
    )
    old = reqcheck.parse_requirements("oslo.config>=5.2.0\nsix>=1.10.0\nrequests\ndebtcollector>=1.2.0\n", "r", "3.9")
    deps = _deps(
        "python3-oslo-config >= 2:5.2.0",
        "python3-six >= 1.12",
        "python3-requests",
        "python3-stevedore",
        "python3-debtcollector >= 1.2.0",
        "shadow-utils",
        "python3-mine = 1:2-3",
    )
    found = reqcheck.classify(
        new, deps, fmt="rpm", kind="runtime", pkgmap=MAP, overrides=reqcheck.Overrides(), provides={"python3-mine"}
    )
    found += reqcheck.removed(old, new, fmt="rpm", pkgmap=MAP, deps=deps)
    by = {(f.status, f.package) for f in found}
    assert by == {
        ("mismatch", "python3-oslo-config"),
        ("met", "python3-six"),
        ("any_version", "python3-requests"),
        ("missing", "python3-tenacity"),
        ("met", "python3-stevedore"),
        ("excess", "python3-debtcollector"),
        ("removed", "python3-debtcollector"),
    }
    removed = next(f for f in found if f.status == "removed")
    assert removed.note == "still packaged: drop it"


def test_overrides_ignore_and_map(tmp_path):
    path = tmp_path / "overrides.yml"
    path.write_text(
        "ignore: [tenacity]\nignore_build: [hacking]\nmap: {oslo.config: python3-oslo-config-ng}\n"
        "packages:\n  python-other: {ignore: [six]}\n  python-keystoneclient: {map: {six: {rpm: python3-six-ng}}}\n"
    )
    overrides = reqcheck.load_overrides(path, "python-keystoneclient")
    report = reqcheck.check(
        package="python-keystoneclient",
        tag="5.0.2",
        requirements={
            "requirements.txt": "oslo.config>=5.2.0\nsix>=1.10\ntenacity\n",
            "test-requirements.txt": "hacking",
        },
        old_requirements=None,
        old_tag=None,
        packaging={
            "rpm": Dependencies(runtime=_deps("python3-oslo-config-ng >= 5.2.0", "python3-six-ng >= 1.10"), build=[])
        },
        pkgmap=MAP,
        overrides=overrides,
    )
    assert report.counts() == {"met": 2, "any_version": 0, "mismatch": 0, "missing": 0, "excess": 0, "removed": 0}
    assert report.failing(["missing", "mismatch"]) == []


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("ignore: six", "ignore must be a list"),
        ("unknown: []", "holds only"),
        ("map: {six: [a]}", "map.six"),
        ("packages: [a]", "'packages' must map"),
        (": :", "cannot read"),
    ],
)
def test_a_broken_overrides_file_is_one_line(tmp_path, text, why):
    path = tmp_path / "overrides.yml"
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        reqcheck.load_overrides(path, "python-keystoneclient")
    assert why in str(caught.value) and "\n" not in str(caught.value) and str(path) in str(caught.value)


# -- specs: rpm's reading, the minimal reader, rpmspec ---------------------------------------------

needs_rpmspec = pytest.mark.skipif(shutil.which("rpmspec") is None, reason="rpmspec is not installed")


def _rpmspec(spec: Path, what: str) -> set[str]:
    out = subprocess.run(["rpmspec", "-q", what, str(spec)], capture_output=True, text=True, check=True).stdout
    return {re.sub(r"\s+", " ", line.strip()) for line in out.splitlines() if line.strip()}


def _shown(deps: list[Dependency]) -> set[str]:
    return {dep.text() for dep in deps}


@needs_rpmspec
@pytest.mark.parametrize("spec", SPECS, ids=[s.parent.name for s in SPECS])
def test_spec_readers_agree_with_rpmspec(spec):
    text = spec.read_text()
    requires, build = _rpmspec(spec, "--requires"), _rpmspec(spec, "--buildrequires")
    minimal = pkgfiles.spec_dependencies_minimal(text)
    # rpm adds the interpreters of scriptlets (Requires(pre): /bin/sh); the minimal reader does not.
    interpreters = {name for name in requires if name.startswith("/")}
    assert (_shown(minimal.runtime), _shown(minimal.build)) == (requires - interpreters, build)
    by_rpm = pkgfiles.spec_dependencies(text, str(spec))
    assert (_shown(by_rpm.runtime), _shown(by_rpm.build)) == (requires, build)
    assert by_rpm.provides == minimal.provides


def test_a_spec_rpm_cannot_parse_is_one_line():
    with pytest.raises(InputError) as caught:
        pkgfiles.spec_dependencies("Name: x\n%if\n", "python-x distgit zed-rdo: python-x.spec")
    message = str(caught.value)
    assert message.startswith("python-x distgit zed-rdo: python-x.spec: ") and "\n" not in message


def test_spec_version_from_tags_or_changelog():
    text = (PACKAGING / "keystoneclient" / "python-keystoneclient.spec").read_text()
    assert pkgfiles.spec_version(text, "s").evr == "1:5.0.1-1"
    literal = text.replace("Version:    XXX", "Version:    5.0.2").replace("Release:    XXX", "Release:    3%{?dist}")
    assert pkgfiles.spec_version(literal, "s").evr == "1:5.0.2-3"
    with pytest.raises(InputError, match="states no version"):
        pkgfiles.spec_version(text.split("%changelog")[0], "s")


def test_control_relations_with_alternatives_versions_and_substvars():
    control = (
        "Source: x\nBuild-Depends: debhelper-compat (= 13), python3-all,\n\n"
        "Package: python3-x\nDepends: python3-a (>= 1.0) | python3-b, python3-c (<< 2),"
        " python3-x (= ${binary:Version}), ${misc:Depends},\n ${python3:Depends},\n"
    )
    deps = pkgfiles.control_dependencies(control, "debian/control")
    assert [d.text() for d in deps.runtime] == ["python3-a | python3-b >= 1.0", "python3-c < 2", "python3-x"]
    assert [d.text() for d in deps.build] == ["debhelper-compat = 13", "python3-all"]
