"""Generate (or check) the zed-libs example's packaging with package_generate's engine.

Usage::

    python3 examples/zed-libs/generate_packaging.py [--check] [--only P1,P2] [--force]
    python3 examples/zed-libs/generate_packaging.py --refresh-epochs [--base PACKAGES ...]

For each project of ``upstreams.json``, from the sdist of its newest release
(the Zed version; downloaded into the sdist cache when missing): the kind
from ``projects.yml`` (``conf``: lib → python-library, client →
python-client, tempest-plugin), the RPM name from ``rdo.yml``, the
requirement map with ``overrides.yml``, and the Debian epochs of
``debian_epochs.yml``; it writes ``packaging/<project>/`` (a spec, ``debian/``
and the generator's manifest).  ``--check`` writes nothing and fails when
the committed packaging differs from what the generator makes now (the unit
test runs it): the packaging in git is the generator's output, nothing more.

``--refresh-epochs`` rewrites ``debian_epochs.yml`` from bookworm's
``Packages`` indexes (default: apt's lists on this machine): ``packages``,
the epoch each of our packages needs to sort above bookworm's at its Zed
version (the lowest, never below Debian's own), and ``base``, the epochs
bookworm gives the packages ours depend on (a requirement's minimum is
written under them, as Debian writes ``python3-webob (>= 1:1.7.1)``).
They are data, not computed at each run, so the packaging does not change
when bookworm's point releases move a revision.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
TOP = HERE.parents[1]
sys.path.insert(0, str(TOP / "examples" / "distro"))
sys.path.insert(0, str(TOP / ".venv" / "collections"))  # make bootstrap links this checkout there
import make_upstreams as base

from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import InputError
from ansible_collections.distroforge.openstack.plugins.module_utils._packaging import (
    debian_base,
    generate,
    metadata,
    templates,
)
from ansible_collections.distroforge.openstack.plugins.module_utils._release import pymod, reqcheck

PINS = HERE / "upstreams.json"
PROJECTS = HERE / "projects.yml"
PACKAGING = HERE / "packaging"
OVERRIDES = HERE / "overrides.yml"
EPOCHS = HERE / "debian_epochs.yml"
RDO = HERE / "rdo.yml"
KINDS = {"lib": "python-library", "client": "python-client", "tempest-plugin": "tempest-plugin"}
MAINTAINER = "distroforge example <example@distroforge.invalid>"
APT_LISTS = Path("/var/lib/apt/lists")


@functools.cache
def projects() -> dict[str, dict]:
    """projects.yml's entries by project."""
    return {entry["project"]: entry for entry in yaml.safe_load(PROJECTS.read_text())["projects"]}


def rpm_names() -> dict[str, str]:
    """The spec's Name of every project, as the example's database (rdoinfo's rules) names it."""
    data = yaml.safe_load(RDO.read_text())
    default = data["package-default"]["name"]
    confs = data["package-configs"]
    return {
        p["project"]: (p.get("name") or confs.get(p.get("conf"), {}).get("name") or default) % {"project": p["project"]}
        for p in data["packages"]
    }


@functools.cache
def overrides() -> reqcheck.Overrides:
    """The example's overrides of the requirement map (overrides.yml)."""
    return reqcheck.load_overrides(OVERRIDES)


@functools.cache
def pkgmap() -> pymod.PackageMap:
    """The collection's requirement map with the example's overrides."""
    return pymod.load().with_overrides(overrides().mapped)


def newest_sdist(upstream: base.Upstream, cache: Path) -> Path:
    """The sdist of the project's newest release (its Zed version), from the cache or PyPI."""
    return base.fetch_sdist(upstream.releases[-1], cache)


def options_for(upstream: base.Upstream, epochs: dict, names: dict[str, str]) -> generate.Options:
    """The packager's decisions for one project of the example."""
    entry = projects()[upstream.project]
    ours = epochs.get("packages") or {}
    deb_binary = generate.names(upstream.pypi, pkgmap()).deb_binary
    return generate.Options(
        kind=KINDS[entry["conf"]],
        project=upstream.project,
        repo=upstream.repo,
        rpm_name=names[upstream.project],
        deb_epoch=ours.get(deb_binary),
        epochs={"deb": {**(epochs.get("base") or {}), **ours}},
        maintainer=MAINTAINER,
    )


def render(upstream: base.Upstream, cache: Path, epochs: dict, names: dict[str, str]) -> tuple[dict[str, str], str]:
    """(the packaging's files, its kind) for one project."""
    meta = metadata.read(newest_sdist(upstream, cache))
    options = options_for(upstream, epochs, names)
    files = generate.render(meta, options, pkgmap(), overrides(), templates.TemplateSet.load())
    return files, options.kind


def load_epochs() -> dict:
    """debian_epochs.yml (empty before the first --refresh-epochs)."""
    return yaml.safe_load(EPOCHS.read_text()) if EPOCHS.is_file() else {}


def refresh_epochs(upstreams: list[base.Upstream], cache: Path, indexes: list[Path]) -> dict:
    """debian_epochs.yml's content from bookworm's indexes (see the module's docstring)."""
    versions = debian_base.read_indexes(indexes)
    mapping = pkgmap()
    ours: dict[str, int] = {}
    ours_names = set()
    wanted: set[str] = set()
    for upstream in upstreams:
        binary = generate.names(upstream.pypi, mapping).deb_binary
        ours_names.add(binary)
        epoch = debian_base.epoch_above(upstream.releases[-1].version, versions.get(binary))
        if epoch:
            ours[binary] = epoch
        meta = metadata.read(newest_sdist(upstream, cache))
        text = generate.requirements_of(meta)
        reqs = reqcheck.parse_requirements(text, meta.where, mapping.python_version["deb"])
        wanted |= {r.package for r in generate.mapped(reqs, "deb", pkgmap=mapping, overrides=overrides(), epochs={})}
    bases = debian_base.epochs_for(sorted(wanted - ours_names), versions)
    return {"packages": dict(sorted(ours.items())), "base": dict(sorted(bases.items()))}


def write_epochs(data: dict) -> None:
    header = (
        "# Debian epochs of the zed-libs example (generate_packaging.py --refresh-epochs, from bookworm's\n"
        "# Packages indexes). packages: ours, each the lowest that sorts the Zed version above bookworm's\n"
        "# package (never below Debian's own); base: the epochs bookworm gives the packages ours depend on.\n"
        "---\n"
    )
    EPOCHS.write_text(header + yaml.safe_dump(data, sort_keys=True, default_flow_style=False))


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--check", action="store_true", help="write nothing; fail when the packaging differs")
    parser.add_argument("--force", action="store_true", help="overwrite files edited by hand")
    parser.add_argument("--only", help="comma-separated projects")
    parser.add_argument("--cache", type=Path, default=base.DEFAULT_CACHE, help="sdist cache (default: %(default)s)")
    parser.add_argument("--refresh-epochs", action="store_true", help="rewrite debian_epochs.yml from --base")
    parser.add_argument("--base", type=Path, nargs="*", help="bookworm Packages indexes (default: apt's lists)")
    args = parser.parse_args(argv)
    upstreams = base.load_pins(PINS)
    if args.only:
        chosen = {p.strip() for p in args.only.split(",")}
        upstreams = [u for u in upstreams if u.project in chosen]
    try:
        if args.refresh_epochs:
            indexes = args.base or sorted(APT_LISTS.glob("*_dists_bookworm*_main_binary-amd64_Packages*"))
            if not indexes:
                print(
                    "generate_packaging: no bookworm Packages index; run apt-get update or give --base", file=sys.stderr
                )
                return 2
            write_epochs(refresh_epochs(upstreams, args.cache, indexes))
            print(f"wrote {EPOCHS.relative_to(TOP)}")
            return 0
        epochs = load_epochs()
        names = rpm_names()
        differs = []
        for upstream in upstreams:
            files, kind = render(upstream, args.cache, epochs, names)
            plan = generate.plan(PACKAGING / upstream.project, files, kind, force=args.force)
            if args.check:
                if plan.changed:
                    differs.append(upstream.project)
                continue
            generate.apply(plan)
            changed = [c.path for c in plan.files if c.action not in ("unchanged",)]
            print(f"{upstream.project}: {', '.join(changed) if plan.changed else 'unchanged'}", flush=True)
    except (InputError, base.ExampleError) as exc:
        print(f"generate_packaging: {exc}", file=sys.stderr)
        return 1
    if differs:
        print(
            f"generate_packaging: the packaging of {', '.join(differs)} is not what the generator makes; "
            "run python3 examples/zed-libs/generate_packaging.py and commit the result",
            file=sys.stderr,
        )
        return 1
    print(json.dumps({"projects": len(upstreams), "checked" if args.check else "generated": len(upstreams)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
