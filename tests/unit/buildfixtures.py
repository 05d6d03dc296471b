"""A tiny real pbr project with RDO-style and Debian packaging, in git repos."""

from __future__ import annotations

from pathlib import Path

from .gitrepos import commit, git, init

T0 = 1_700_000_000

SETUP_PY = "import setuptools\n\nsetuptools.setup(setup_requires=['pbr'], pbr=True)\n"
SETUP_CFG = """[metadata]
name = hellodf
summary = distroforge test package
description_file = README.rst
author = Test Bot
author_email = bot@example.org
license = Apache-2.0

[files]
packages =
    hellodf
"""

SPEC = """%{!?upstream_version: %global upstream_version %{version}%{?milestone}}
%global pypi_name hellodf

Name:           python-%{pypi_name}
Version:        XXX
Release:        XXX
Summary:        distroforge test package
License:        ASL 2.0
URL:            https://example.org/hellodf
Source0:        %{pypi_name}-%{upstream_version}.tar.gz
BuildArch:      noarch
BuildRequires:  python3-devel
BuildRequires:  python3-pbr

%description
Test package.

%package -n python3-%{pypi_name}
Summary:        distroforge test package

%description -n python3-%{pypi_name}
Test package.

%prep
%setup -q -n %{pypi_name}-%{upstream_version}

%build
export PBR_VERSION=%{version}
python3 setup.py build

%install
export PBR_VERSION=%{version}
python3 setup.py install --skip-build --root %{buildroot} --install-lib /usr/lib/python3/site-packages

%files -n python3-%{pypi_name}
/usr/lib/python3/site-packages/%{pypi_name}
/usr/lib/python3/site-packages/%{pypi_name}-*

%changelog
* Mon Jan 01 2024 Test Bot <bot@example.org> 0.1.0-1
- Initial package
"""

CONTROL = """Source: python-hellodf
Section: python
Priority: optional
Maintainer: Test Bot <bot@example.org>
Build-Depends: debhelper-compat (= 13), dh-python, python3-all, python3-setuptools, python3-pbr{extra}
Standards-Version: 4.6.2
Rules-Requires-Root: no

Package: python3-hellodf
Architecture: all
Depends: ${{python3:Depends}}, ${{misc:Depends}}
Description: distroforge test package
 Test package.
"""

RULES = """#!/usr/bin/make -f
include /usr/share/dpkg/pkg-info.mk
export PYBUILD_NAME=hellodf
# pbr's spelling of the changelog's upstream version (sbuild passes no PBR_VERSION in)
export PBR_VERSION := $(shell echo '$(DEB_VERSION_UPSTREAM)' | sed -e 's/~~git.*/.dev0/' -e 's/~git.*/.dev0/')

%:
\tdh $@ --with python3 --buildsystem=pybuild

override_dh_auto_test:
\t@echo tests run upstream
"""

CHANGELOG = """python-hellodf (1:0.1.0-1) unstable; urgency=medium

  * Initial release.

 -- Test Bot <bot@example.org>  Mon, 01 Jan 2024 00:00:00 +0000
"""


def make_upstream(root: Path, *, tagged: bool = True, module: str = "def hello():\n    return 'hello'\n") -> Path:
    up = init(root / "upstream" / "hellodf")
    commit(
        up,
        "Initial import",
        T0,
        {
            "setup.py": SETUP_PY,
            "setup.cfg": SETUP_CFG,
            "README.rst": "hellodf\n=======\n",
            "hellodf/__init__.py": module,
        },
    )
    if tagged:
        git(up, "tag", "-a", "-m", "0.1.0", "0.1.0", when=T0 + 10)
    commit(up, "Add a feature", T0 + 3600, {"hellodf/feature.py": "FEATURE = 1\n"})
    return up


def make_distgit(root: Path, *, spec: str = SPEC, build_depends: str = "", with_debian: bool = True) -> Path:
    dg = init(root / "distgit" / "hellodf-distgit", branch="rpm-master")
    files = {"python-hellodf.spec": spec} if spec else {"README": "no spec here\n"}
    if with_debian:
        files.update(
            {
                "debian/control": CONTROL.format(extra=build_depends),
                "debian/rules": RULES,
                "debian/changelog": CHANGELOG,
                "debian/source/format": "3.0 (quilt)\n",
                "debian/copyright": "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n",
            }
        )
    commit(dg, "Packaging", T0 + 7200, files)
    (dg / "debian" / "rules").chmod(0o755) if with_debian else None
    if with_debian:
        git(dg, "add", "-A")
        git(dg, "commit", "-q", "-m", "rules executable", when=T0 + 7300)
    return dg


def head(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD")


HELLODF_PKGDB = """releases:
- name: zed
  branch: rpm-master
  repos:
  - name: el9s
    buildsys: none
packages:
- project: hellodf
  name: python-hellodf
  upstream: file://{upstream}
  master-distgit: file://{distgit}
  maintainers:
  - {maintainer}
"""


def hellodf_pkgdb(upstream: Path, distgit: Path, maintainer: str = "bot@example.org") -> str:
    """A package database (rdoinfo) holding only python-hellodf from these repositories, for zed."""
    return HELLODF_PKGDB.format(upstream=upstream, distgit=distgit, maintainer=maintainer)
