"""reqcheck over the whole example distro, per package, with rdopkg reqcheck on the same input.

The example's repositories are made in a scratch directory from the cached
PyPI sdists (``examples/distro/make_upstreams.py``).  For each package, at its
newest tag, against its zed-rdo packaging (medians of interleaved runs):

- ours: ``reqcheck_package`` for RPM and DEB, runtime and build (git reads,
  rpm's parse of the spec in the build sandbox, python-debian, the map);
- ours, RPM runtime only: the same question rdopkg answers;
- the peer: ``rdopkg reqcheck`` (PyPI rdopkg, its library: the command
  would fetch rdoinfo from the network) in a clone of the distgit that holds
  the upstream tags, from a fresh interpreter (as a user runs it), and ours
  from a fresh interpreter too.

Then the real rdoinfo's Zed packages (``../shared/data/rdoinfo``, or
``DISTROFORGE_RDOINFO``): each package tagged for zed at the version its
``cloud9s-openstack-zed-release`` NVR ships, where that version's PyPI sdist
is in the sdist cache (``~/.cache/distroforge/sdists``: the example's, and
the few named in ``BENCH_REQCHECK_FETCH`` - default nova, glance, cinder,
neutron, oslo.config, oslo.db - which ``pip download`` fetches once; ``0``
fetches nothing).  RDO's specs are not reachable here, so the packaging
checked is Debian bookworm's Zed (its binaries' ``Depends`` in this host's
apt list): our reqcheck of ``requirements.txt`` against it, per package,
and the half rdopkg shares (parse ``requirements.txt`` and map the modules
to package names: ``parse_reqs_txt`` + pymod2pkg) beside ours, in-process.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import yaml
from _common import TOP, report, timed

sys.path.insert(0, str(TOP / ".venv" / "collections"))
from ansible_collections.distroforge.openstack.plugins.module_utils._pkgdb import loader
from ansible_collections.distroforge.openstack.plugins.module_utils._release import bump, pkgfiles, pymod
from ansible_collections.distroforge.openstack.plugins.module_utils._release import reqcheck as rc

EXAMPLE = TOP / "examples" / "distro"
RDOINFO = Path(os.environ.get("DISTROFORGE_RDOINFO", TOP.parent / "shared" / "data" / "rdoinfo"))
ZED_RELEASE_TAG = "cloud9s-openstack-zed-release"
FETCH = os.environ.get("BENCH_REQCHECK_FETCH", "nova,glance,cinder,neutron,oslo.config,oslo.db")
APT_LIST = Path("/var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages.lz4")
PACKAGES = {"keystone": ("keystone", "22.0.2"), "keystoneclient": ("python-keystoneclient", "5.0.1"),
            "keystonemiddleware": ("keystonemiddleware", "10.1.1")}  # fmt: skip
GIT_ENV = {**os.environ, "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1"}
RDOPKG = "import sys; from rdopkg.actionmods import reqs; reqs.reqcheck_spec('3.9', ref=sys.argv[1])"
OURS = (
    "import sys, json; sys.path.insert(0, sys.argv[3]);"
    "from ansible_collections.distroforge.openstack.plugins.module_utils._release import bump;"
    "bump.reqcheck_package(json.loads(sys.argv[1]), tag=sys.argv[2], kinds=('runtime',), formats=('rpm',))"
)


def _make_upstreams():
    spec = importlib.util.spec_from_file_location("make_upstreams_bench", EXAMPLE / "make_upstreams.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _run(argv: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(argv, cwd=cwd, check=True, capture_output=True, env=GIT_ENV)
    return time.perf_counter() - started


def main() -> None:
    make_upstreams = _make_upstreams()
    with tempfile.TemporaryDirectory(prefix="df-bench-reqcheck-") as scratch:
        target = Path(scratch) / "example"
        make_upstreams.make_all(target, make_upstreams.DEFAULT_CACHE, echo=False)
        db = loader.read(str(target / "rdoinfo" / "rdo-full.yml"), release="zed")
        by_project = {pkg["project"]: pkg for pkg in db.packages}
        total_ours = total_peer = 0.0
        for project, (upstream, tag) in PACKAGES.items():
            package = by_project[project]
            full = timed(lambda package=package, tag=tag: bump.reqcheck_package(package, tag=tag), repeat=3)
            print(f"reqcheck {package['name']} {tag} (rpm+deb, runtime+build, in-process): {full:.2f} s", flush=True)
            work = Path(scratch) / f"rdopkg-{project}"
            subprocess.run(
                ["git", "clone", "-q", "-b", "zed-rdo", str(target / "distgit" / f"{project}-distgit"), str(work)],
                check=True, env=GIT_ENV,
            )  # fmt: skip
            subprocess.run(
                ["git", "fetch", "-q", str(target / "upstream" / upstream), "refs/tags/*:refs/tags/*"],
                cwd=work, check=True, env=GIT_ENV,
            )  # fmt: skip
            ours_argv = [sys.executable, "-c", OURS, json.dumps(package), tag, str(TOP / ".venv" / "collections")]
            peer_argv = [sys.executable, "-c", RDOPKG, tag]
            ours_runs, peer_runs = [], []
            for _round in range(3):  # interleaved
                ours_runs.append(_run(ours_argv, TOP))
                peer_runs.append(_run(peer_argv, work))
            ours, peer = sorted(ours_runs)[1], sorted(peer_runs)[1]
            total_ours += ours
            total_peer += peer
            report(f"reqcheck {package['name']} {tag} (rpm runtime, fresh process)", ours, peer, "rdopkg reqcheck")
            shutil.rmtree(work)
        report("reqcheck whole example (rpm runtime, fresh processes)", total_ours, total_peer, "rdopkg reqcheck")
    rdoinfo_zed(make_upstreams.DEFAULT_CACHE)


# -- the real rdoinfo's Zed packages ---------------------------------------------------------------


def zed_versions() -> dict[str, tuple[str, str]]:
    """``{pypi name: (project, version)}`` of rdoinfo's zed packages, at the version the zed release ships."""
    db = loader.read(str(RDOINFO / "rdo-full.yml"), release="zed")
    shipped = {}
    for entry in yaml.safe_load((RDOINFO / "buildsys-tags" / f"{ZED_RELEASE_TAG}.yml").read_text())["packages"]:
        nvr = (entry.get("buildsys-tags") or {}).get(ZED_RELEASE_TAG)
        if nvr:
            shipped[entry["project"]] = nvr
    found = {}
    for package in db.packages:
        nvr = shipped.get(package["project"])
        if not nvr or not nvr.startswith(package["name"] + "-"):
            continue
        version = nvr[len(package["name"]) + 1 :].rsplit("-", 1)[0]
        pypi = str(package.get("upstream") or "").rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")
        if pypi and re.match(r"^\d+(\.\d+)*$", version):  # a release, not a git snapshot
            found[pypi] = (package["project"], version)
    return found


def cached_sdist(cache: Path, pypi: str, version: str) -> Path | None:
    """The sdist of ``pypi`` ``version`` in the cache (older uploads keep the name, newer ones normalise it)."""
    for name in dict.fromkeys((pypi, re.sub(r"[-_.]+", "_", pypi), re.sub(r"[-_.]+", "-", pypi))):
        path = cache / f"{name}-{version}.tar.gz"
        if path.is_file():
            return path
    return None


def fetch(cache: Path, wanted: dict[str, tuple[str, str]]) -> None:
    """pip download the sdists of the packages named in BENCH_REQCHECK_FETCH that are not cached yet."""
    for pypi in [name for name in FETCH.split(",") if name and name != "0"]:
        if pypi not in wanted or cached_sdist(cache, pypi, wanted[pypi][1]):
            continue
        pip = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
               "--no-build-isolation", "-d", str(cache), f"{pypi}=={wanted[pypi][1]}"]  # fmt: skip
        done = subprocess.run(pip, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(f"reqcheck rdoinfo zed: {pypi} {wanted[pypi][1]}: pip download failed, left out", flush=True)


def read_sdist(path: Path) -> dict[str, str | None]:
    """requirements.txt and test-requirements.txt at the top of an sdist (None when it has none)."""
    out: dict[str, str | None] = dict.fromkeys(rc.KINDS.values())
    with tarfile.open(path) as archive:
        for member in archive.getmembers():
            parts = member.name.split("/")
            if len(parts) == 2 and parts[1] in out and member.isfile():
                out[parts[1]] = archive.extractfile(member).read().decode("utf-8")
    return out


def debian_binaries() -> tuple[dict[str, str], dict[str, list[str]]]:
    """bookworm main: ``{binary: its source}`` and ``{source: [its binaries' stanzas]}`` from this host's apt list."""
    text = subprocess.run(["lz4cat", str(APT_LIST)], check=True, capture_output=True, text=True).stdout
    source_of, stanzas = {}, {}
    for stanza in text.split("\n\n"):
        fields = dict(re.findall(r"(?m)^(Package|Source): (\S+)", stanza))
        if "Package" in fields:
            source = fields.get("Source", fields["Package"])
            source_of[fields["Package"]] = source
            stanzas.setdefault(source, []).append(stanza)
    return source_of, stanzas


def rdoinfo_zed(cache: Path) -> None:
    """reqcheck of rdoinfo's zed packages whose sdists are cached, against Debian's Zed packaging; ours and rdopkg's."""
    if not (RDOINFO / "rdo-full.yml").is_file() or not APT_LIST.is_file():
        print(f"reqcheck rdoinfo zed: {RDOINFO}/rdo-full.yml or {APT_LIST} missing; left out", flush=True)
        return
    from rdopkg.actionmods import reqs as rdopkg_reqs  # noqa: PLC0415 - the peer, only for this part

    logging.disable(logging.WARNING)  # rdopkg warns on the root logger for every empty requirements.txt
    wanted = zed_versions()
    fetch(cache, wanted)
    started = time.perf_counter()
    source_of, stanzas = debian_binaries()
    print(f"reqcheck rdoinfo zed: bookworm's index read in {time.perf_counter() - started:.1f} s", flush=True)
    pkgmap = pymod.load()
    checked = skipped = 0
    total_ours = total_peer = 0.0
    for pypi, (project, version) in sorted(wanted.items()):
        sdist = cached_sdist(cache, pypi, version)
        binary = pkgmap.package(pypi, "deb")
        source = source_of.get(binary)
        if sdist is None or source is None:
            skipped += 1
            continue
        started = time.perf_counter()
        requirements = read_sdist(sdist)
        read = time.perf_counter() - started
        if requirements["requirements.txt"] is None:
            skipped += 1
            continue
        packaging = {"deb": pkgfiles.control_dependencies("\n\n".join(stanzas[source]), f"bookworm {source}")}

        # the defaults bind this iteration's values (read only)
        def ours_full(requirements=requirements, packaging=packaging, pypi=pypi, version=version):  # pylint: disable=dangerous-default-value
            return rc.check(package=pypi, tag=version, requirements=requirements, old_requirements=None,
                            old_tag=None, packaging=packaging, pkgmap=pkgmap, overrides=rc.Overrides(),
                            kinds=("runtime",))  # fmt: skip

        def ours_map(text=requirements["requirements.txt"], where=f"{pypi} {version}"):
            return [pkgmap.package(req.name, "deb") for req in rc.parse_requirements(text, where, "3.11")]

        def peer_map(text=requirements["requirements.txt"]):
            return rdopkg_reqs.map_reqs2pkgs(rdopkg_reqs.parse_reqs_txt(text, "3.11"), "ubuntu")

        counts = {k: v for k, v in ours_full().counts().items() if v}
        full = timed(ours_full, repeat=5)
        ours, peer = timed(ours_map, repeat=5), timed(peer_map, repeat=5)
        total_ours, total_peer = total_ours + ours, total_peer + peer
        checked += 1
        print(f"reqcheck rdoinfo zed {project} {version} against Debian's {source}: {full * 1000:.1f} ms"
              f" (sdist read {read * 1000:.0f} ms) {json.dumps(counts, sort_keys=True)}", flush=True)  # fmt: skip
        report(f"  parse + map {pypi} {version} requirements.txt", ours * 1000, peer * 1000, "rdopkg", unit="ms")
    print(f"reqcheck rdoinfo zed: {checked} packages checked, {skipped} of {len(wanted)} left out"
          " (sdist not cached, or no Debian package of it)", flush=True)  # fmt: skip
    if checked:
        report("parse + map, every checked package", total_ours * 1000, total_peer * 1000, "rdopkg", unit="ms")


if __name__ == "__main__":
    main()
