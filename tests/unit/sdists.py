"""Small sdists made here, laid out as pbr makes them (PKG-INFO, setup.cfg, setup.py), for package_generate."""

from __future__ import annotations

import io
import tarfile
import textwrap
from pathlib import Path

T0 = 1_700_000_000

SETUP_PY = "import setuptools\n\nsetuptools.setup(\n    setup_requires=['pbr>=2.0.0'],\n    pbr=True)\n"
LICENSE = "\n                                 Apache License\n                           Version 2.0, January 2004\n"


def setup_cfg(name: str, *, files: str = "", entry_points: str = "", extra: str = "") -> str:
    """A pbr project's setup.cfg."""
    text = textwrap.dedent(
        f"""\
        [metadata]
        name = {name}
        summary = A library to test package generation
        description_file = README.rst
        author = OpenStack
        author_email = openstack-discuss@lists.openstack.org
        home_page = https://docs.openstack.org/{name}/latest/
        python_requires = >=3.8
        classifier =
            Environment :: OpenStack
            License :: OSI Approved :: Apache Software License
            Programming Language :: Python :: 3
        """
    )
    if files:
        text += "\n[files]\n" + textwrap.dedent(files)
    if entry_points:
        text += "\n[entry_points]\n" + textwrap.dedent(entry_points)
    return text + extra + "\n[egg_info]\ntag_build = \ntag_date = 0\n\n"


README = textwrap.dedent(
    """\
    ========================
    Team and repository tags
    ========================

    .. image:: https://governance.openstack.org/tc/badges/x.svg
        :target: https://governance.openstack.org/tc/reference/tags/index.html

    Hello library
    =============

    The ``hello`` library says hello to `OpenStack <https://openstack.org>`_ services
    in a consistent way, for tests of the packaging generator.

    * Free software: Apache license
    """
)


def pkg_info(name: str, version: str, requires: list[str], *, legacy: bool = True) -> str:
    """PKG-INFO: metadata 1.2 with the Description header folded (pbr's older sdists) or 2.1 with a body."""
    head = [
        f"Metadata-Version: {'1.2' if legacy else '2.1'}",
        f"Name: {name}",
        f"Version: {version}",
        "Summary: A library to test package generation",
        f"Home-page: https://docs.openstack.org/{name}/latest/",
        "Author: OpenStack",
        "Author-email: openstack-discuss@lists.openstack.org",
        "License: UNKNOWN",
    ]
    head += [f"Requires-Dist: {req}" for req in requires]
    head += ["Classifier: License :: OSI Approved :: Apache Software License", "Requires-Python: >=3.8"]
    if legacy:
        folded = README.replace("\n", "\n        ")
        return "\n".join([*head, f"Description: {folded}", "Platform: UNKNOWN", ""]) + "\n"
    return "\n".join([*head, "Description-Content-Type: text/x-rst", "", README])


def make_sdist(
    where: Path,
    name: str = "hellogen",
    version: str = "1.2.0",
    *,
    requirements: str = "pbr>=2.0.0\noslo.config>=8.0.0 # Apache-2.0\nrequests>=2.14.2\n",
    files: str = "",
    entry_points: str = "",
    extra_files: dict[str, str] | None = None,
    legacy: bool = True,
    setup_py: str = SETUP_PY,
    mtime: int = T0,
) -> Path:
    """``where/<name>-<version>.tar.gz`` holding a small pbr project."""
    package = name.replace("-", "_").replace(".", "_")
    requires = [line.split("#")[0].strip() for line in requirements.splitlines() if line.strip()]
    members = {
        "PKG-INFO": pkg_info(name, version, requires, legacy=legacy),
        "setup.py": setup_py,
        "setup.cfg": setup_cfg(name, files=files or f"packages =\n    {package}\n", entry_points=entry_points),
        "requirements.txt": requirements,
        "README.rst": README,
        "LICENSE": LICENSE,
        "AUTHORS": "OpenStack\n",
        "ChangeLog": "CHANGES\n=======\n",
        f"{package}/__init__.py": "",
        f"{package}/tests/__init__.py": "",
        f"{name.replace('-', '_')}.egg-info/PKG-INFO": "",
        **(extra_files or {}),
    }
    where.mkdir(parents=True, exist_ok=True)
    path = where / f"{name}-{version}.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for member, text in sorted(members.items()):
            data = text.encode("utf-8")
            info = tarfile.TarInfo(f"{name}-{version}/{member}")
            info.size, info.mtime, info.mode = len(data), mtime, 0o644
            archive.addfile(info, io.BytesIO(data))
    return path
