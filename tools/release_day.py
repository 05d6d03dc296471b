"""Play release day on the example distro, step by step, and say how long each step took.

Usage: ``python3 tools/release_day.py [--target DIR] [--packages keystone,...] [--pin PROJECT=TAG]
[--gate | --no-gate] [--port N]`` (``make release-day`` runs it with the defaults).

Setup: the example's repositories and database under ``<target>/example``
(examples/distro/make_upstreams.py), and zed released as ``tags/zed.yml``
pins it (keystone 22.0.1: a newer upstream tag, 22.0.2, exists; ``--pin``
releases a package at another tag first): its tags built
(playbooks/release.yml), moved candidate -> testing -> release by hand
("initial release") and published, and the release packages
``distroforge-release-zed`` (DEB and RPM) built into ``<workdir>/repos/release-packages/``,
configured for the release stage as the repository server serves it.
With the gate, a fresh node then installs only that DEB, fetched from the
repository server, deploys scenario001 and passes Tempest
(playbooks/release_install.yml), and stays deployed: a user of the
previous release.  Then release day:

1. **new tag**: the newest upstream tag above each pin (keystone 22.0.2);
2. **bump**: package_new_version proposes the packaging of the tag on a
   distgit branch, which is merged (fast-forward) as a review would, and the
   pin in ``tags/zed.yml`` moves to the tag;
3. **reqcheck**: package_reqcheck, the tag's requirements against the bumped
   packaging (reported, not failing);
4. **tagged build**: playbooks/release.yml, the new NVR into candidate;
5. **gate**: playbooks/release_gate.yml, a repository of what changed on top
   of release, deploy + Tempest on a podman node, then testing (``--no-gate``
   skips it, said in the summary);
6. **release**: playbooks/release_promote.yml, testing -> release, published signed;
7. **release package**: release_package, ``distroforge-release-zed`` (DEB
   and RPM) for the published release stage: the same bytes as set-up's (a
   point release needs no new release package), said so;
8. **upgrade test**: playbooks/release_upgrade.yml, the node set-up deployed
   from the release package upgrades from the repository that package
   configured (now the new release), Puppet applied again (idempotent),
   Tempest; behind the gate option (``--no-gate`` skips it, said in the summary).

The summary (each step's time and the time from the tag landing to the
release, set-up and the node tests excluded) is printed and written to
``<target>/summary.json``.  Nodes are named ``df-rel-*``; they, and the
repository server on ``--port``, are removed or stopped at the end.

Every stage move and publishing checks installability against the base
distribution's index (``--base-index``; default this host's apt list of
bookworm main).

Steps run through ansible-playbook and ansible (ad-hoc modules).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TOP = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TOP / "examples" / "distro"))

import make_upstreams  # pylint: disable=wrong-import-position

RELEASE = "zed"
REPO = "bookworm"
RPM_REPO = "el9s"
AUTHOR = "distroforge release day <release@distroforge.invalid>"
# Test nodes of release day; the node set-up deploys from the release package is upgraded at the end.
NODE = "df-rel-node"
GATE_NODE = "df-rel-gate"
# Neither make run's 8088 nor the test lanes' 8090-8092.
PORT = 8094
GATEWAY = "10.89.42.1"  # podman's node network (inventory/group_vars/all.yml)
# Seconds Puppet's OpenStack providers give one `openstack` CLI call (puppet-openstacklib's own: 40).
# Release day keeps two deployed nodes and builds on one machine: on 2 busy cores (load 12-14) the
# Keystone_user[admin] check's `openstack token issue` took over 40 s three times and failed the deploy.
OPENSTACK_CLI_TIMEOUT = 180


# Steps around the release that are not part of the time from the tag landing to it.
INSTALL_STEP = "install test: a fresh node, only the release package"
UPGRADE_STEP = "upgrade test"


class StepFailed(Exception):
    """A step failed; its output tail says why."""


def _run(argv: list[str], log: Path, env: dict[str, str] | None = None, *, check: bool = True) -> str:
    with log.open("a", encoding="utf-8") as out:
        out.write(f"\n$ {' '.join(argv)}\n")
        out.flush()
        proc = subprocess.run(
            argv,
            cwd=TOP,
            env={**os.environ, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if env is None else subprocess.PIPE,
            text=True,
            check=False,
        )
        out.write(proc.stdout + (proc.stderr or ""))
    if proc.returncode != 0 and check:
        tail = "\n".join(proc.stdout.strip().splitlines()[-15:])
        raise StepFailed(f"{argv[0]} {argv[1]} failed (rc {proc.returncode}); see {log}\n{tail}")
    return proc.stdout


def playbook(name: str, extra: dict, log: Path) -> str:
    """Run playbooks/<name> with ``extra`` as extra vars."""
    return _run(["ansible-playbook", str(TOP / "playbooks" / name), "-e", json.dumps(extra)], log)


def module(name: str, args: dict, log: Path) -> dict:
    """Run the module once on localhost; its result (read from Ansible's json output, whatever the colours)."""
    json_output = {"ANSIBLE_LOAD_CALLBACK_PLUGINS": "1", "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"}
    argv = ["ansible", "localhost", "-m", f"distroforge.openstack.{name}", "-a", json.dumps(args)]
    out = _run(argv, log, json_output, check=False)
    try:
        # the JSON document starts a line; profile_tasks (ansible.cfg) prints its timing lines around it
        start = re.search(r"(?m)^\{", out)
        [task] = json.JSONDecoder().raw_decode(out, start.start() if start else 0)[0]["plays"][0]["tasks"]
        result = task["hosts"]["localhost"]
    except (ValueError, KeyError, IndexError) as exc:
        raise StepFailed(f"{name}: its output is not Ansible's json ({exc}); see {log}") from None
    if result.get("failed"):
        raise StepFailed(f"{name} failed: {result.get('msg')}; see {log}")
    return result


def set_pin(tags_file: Path, project: str, ref: str) -> None:
    """Move ``project``'s zed-release source-branch to ``ref`` in the database copy."""
    text = tags_file.read_text(encoding="utf-8")
    pattern = re.compile(
        rf"(- project: {re.escape(project)}\n(?:  .*\n)*?    {RELEASE}-release:\n      source-branch: )\S+"
    )
    new, count = pattern.subn(rf"\g<1>{ref}", text)
    if count != 1:
        raise StepFailed(f"{tags_file}: no {RELEASE}-release source-branch for {project}; fix the example database")
    tags_file.write_text(new, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:  # noqa: PLR0915 - one story, told in order
    """Command line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--target", type=Path, default=TOP / "build" / "release-day")
    parser.add_argument("--packages", default="", help="comma-separated projects (default: all of zed)")
    parser.add_argument(
        "--pin",
        action="append",
        default=[],
        metavar="PROJECT=TAG",
        help="release PROJECT at TAG in set-up instead of the example's pin (release day moves it to the newest tag)",
    )
    parser.add_argument("--port", type=int, default=PORT, help=f"the repository server's port (default {PORT})")
    parser.add_argument("--gate", dest="gate", action="store_true", default=True)
    parser.add_argument("--no-gate", dest="gate", action="store_false", help="skip deploy + Tempest (said so)")
    parser.add_argument(
        "--base-index",
        action="append",
        type=Path,
        default=[],
        help="the base distribution's Packages index the stages must install against"
        " (default: this host's apt list of bookworm main)",
    )
    args = parser.parse_args(argv)
    pins = dict(_pin(text, parser) for text in args.pin)
    target = args.target.resolve()
    if target.exists():
        # a server left by an earlier run (and its nodes, which a run with the gate makes afresh)
        cleanup(target / "work", target / "cleanup.log", args.port, nodes=args.gate)
        shutil.rmtree(target)
    target.mkdir(parents=True)
    log = target / "release-day.log"
    example, workdir = target / "example", target / "work"
    pkgdb = example / "rdoinfo" / "rdo-full.yml"
    names = [n for n in args.packages.split(",") if n]
    base_indexes = [str(path.resolve()) for path in args.base_index] or base_index(target)
    served = f"http://{GATEWAY}:{args.port}/repos"
    common = {"distroforge_pkgdb": str(pkgdb), "distroforge_release": RELEASE, "distroforge_workdir": str(workdir),
              "distroforge_release_base_indexes": base_indexes, "distroforge_repo_port": args.port,
              "distroforge_repo_baseurl": served, "distroforge_gate_node": GATE_NODE,
              "deploy_puppet_openstack_command_timeout": OPENSTACK_CLI_TIMEOUT}  # fmt: skip
    packages_dir = workdir / "repos" / "release-packages"
    # release_stage's moves and publishing check installability against the base
    closure = {"base_indexes": base_indexes}
    if names:
        common["distroforge_release_packages"] = names
    steps: list[tuple[str, float, str]] = []

    def step(name: str, work) -> None:
        started = time.monotonic()
        try:
            note = work() or "done"
        except StepFailed as exc:
            steps.append((name, time.monotonic() - started, "FAILED"))
            summary(steps, target)
            print(f"release day: {name}: {exc}", file=sys.stderr)
            raise SystemExit(1) from None
        steps.append((name, time.monotonic() - started, note))
        print(f"release day: {name}: {note} ({steps[-1][1]:.1f} s)", flush=True)

    sys.path.insert(0, str(TOP / ".venv" / "collections"))
    from ansible_collections.distroforge.openstack.plugins.module_utils._release import tagged  # noqa: PLC0415

    def setup() -> str:
        make_upstreams.make_all(example, make_upstreams.DEFAULT_CACHE, echo=False)
        for project, tag in sorted(pins.items()):
            set_pin(example / "rdoinfo" / "tags" / f"{RELEASE}.yml", project, tag)
        playbook("release.yml", {**common, "distroforge_release_reason": "initial release of the example"}, log)
        for source, stage in (("candidate", "testing"), ("testing", "release")):
            module(
                "release_stage",
                {"pkgdb": str(pkgdb), "release": RELEASE, "workdir": str(workdir), "action": "move",
                 "from": source, "stage": stage, "reason": "initial release of the example (set-up, no gate)",
                 **closure},
                log,
            )  # fmt: skip
        module(
            "release_stage",
            {
                "pkgdb": str(pkgdb),
                "release": RELEASE,
                "workdir": str(workdir),
                "action": "publish",
                "stage": "release",
                "baseurl": served,
                **closure,
            },
            log,
        )
        released = _stage(pkgdb, workdir, "release")
        built = build_release_packages()
        return "released " + ", ".join(sorted(released.get(REPO, {}).values())) + "; " + built

    def build_release_packages() -> str:
        """distroforge-release-zed, DEB and RPM, for the release stage as the repository server serves it."""
        made = []
        packages_dir.mkdir(parents=True, exist_ok=True)
        for fmt, repo in (("deb", REPO), ("rpm", RPM_REPO)):
            result = module(
                "release_package",
                {"release": RELEASE, "baseurl": f"{served}/stages/{RELEASE}/{repo}/release", "format": fmt,
                 "key_src": str(workdir / "repos" / "RPM-GPG-KEY-distroforge"), "dest": str(packages_dir)},
                log,
            )  # fmt: skip
            made.append(f"{Path(result['path']).name} ({'new' if result.get('changed') else 'unchanged'})")
        return ", ".join(made)

    def install() -> str:
        if not args.gate:
            return "SKIPPED (--no-gate): no node installs the release package (deploy + Tempest)"
        keep = {"distroforge_install_node": NODE, "distroforge_keep_nodes": True}
        playbook("release_install.yml", {**common, **keep}, log)
        [record] = sorted((workdir / "runs").glob("install-*/install.json"))[-1:]
        found = json.loads(record.read_text(encoding="utf-8"))
        installed["record"] = str(record)
        tempest = found.get("tempest") or {}
        return (
            f"{found['verdict']}: {NODE} installed only {Path(found['install']['package']).name}, keystone"
            f" {found['deploy'].get('keystone_version')}, Tempest {tempest.get('passed', '?')} passed,"
            f" {tempest.get('failed', '?')} failed"
        )

    landed: dict[str, str] = {}
    installed: dict[str, str] = {}

    def new_tag() -> str:
        for pin in tagged.pins(str(pkgdb), RELEASE, names or None):
            repo = example / "upstream" / Path(pin.upstream).name
            newer = tagged.newer_tags(str(repo), pin.ref) if not pin.version_locked else []
            if newer:
                landed[pin.project] = newer[-1]
        if not landed:
            raise StepFailed("no package has an upstream tag above its pin; nothing to release")
        return ", ".join(f"{p} {t}" for p, t in sorted(landed.items()))

    def bump() -> str:
        done = []
        for project, tag in sorted(landed.items()):
            package = _package(pkgdb, project)
            result = module("package_new_version", {"package": package, "tag": tag, "author": AUTHOR}, log)
            if result.get("status") == "current":  # the packaging states this version already
                done.append(f"{project}: packaging already at {result.get('version', tag)}, no bump branch")
            else:
                distgit = Path(package["distgit"].removeprefix("file://"))
                # the review: the bump branch merged into the release's packaging branch (fast-forward only)
                _run(
                    ["git", "-C", str(distgit), "fetch", "-q", ".", f"{result['branch']}:{package['distgit_branch']}"],
                    log,
                )
                done.append(f"{project} {result.get('version', tag)} on {result['branch']}, merged")
            set_pin(example / "rdoinfo" / "tags" / f"{RELEASE}.yml", project, tag)
        return "; ".join(done) + f"; pins moved in tags/{RELEASE}.yml"

    def reqcheck() -> str:
        found = []
        for project, tag in sorted(landed.items()):
            package = _package(pkgdb, project)
            result = module("package_reqcheck", {"package": package, "tag": tag}, log)
            counts = result.get("counts") or {}
            found.append(f"{project}: {json.dumps(counts, sort_keys=True) if counts else 'checked'}")
        return "; ".join(found)

    def build() -> str:
        playbook("release.yml", {**common, "distroforge_release_packages": sorted(landed)}, log)
        candidate = _stage(pkgdb, workdir, "candidate").get(REPO, {})
        return "candidate: " + ", ".join(candidate[p] for p in sorted(landed))

    def gate() -> str:
        if not args.gate:
            module(
                "release_stage",
                {"pkgdb": str(pkgdb), "release": RELEASE, "workdir": str(workdir), "action": "move",
                 "from": "candidate", "stage": "testing", "reason": "release day without the gate (--no-gate)",
                 **closure},
                log,
            )  # fmt: skip
            return "SKIPPED (--no-gate): moved to testing without deploy + Tempest"
        playbook("release_gate.yml", common, log)
        return "deploy + Tempest passed; testing: " + ", ".join(
            _stage(pkgdb, workdir, "testing").get(REPO, {})[p] for p in sorted(landed)
        )

    def promote() -> str:
        reason = "release day: gate passed" if args.gate else "release day (no gate run)"
        playbook("release_promote.yml", {**common, "distroforge_release_reason": reason}, log)
        return "release: " + ", ".join(_stage(pkgdb, workdir, "release").get(REPO, {})[p] for p in sorted(landed))

    def release_package() -> str:
        return build_release_packages()

    def upgrade() -> str:
        if not args.gate:
            return "SKIPPED (--no-gate): no upgrade test (deploy + Tempest) run"
        upgrade_vars = {"distroforge_upgrade_node": NODE, "distroforge_upgrade_install_record": installed["record"]}
        playbook("release_upgrade.yml", {**common, **upgrade_vars}, log)
        [record] = sorted((workdir / "runs").glob("upgrade-*/upgrade.json"))[-1:]
        found = json.loads(record.read_text(encoding="utf-8"))
        versions = found["deploy"].get("upgrade", {}).get("versions", {})
        tempest = found.get("tempest") or {}
        return (
            f"{found['verdict']}: keystone {versions.get('before')} -> {versions.get('after')}, Puppet re-applied"
            f" (idempotent), Tempest {tempest.get('passed', '?')} passed, {tempest.get('failed', '?')} failed"
        )

    try:
        step("set-up (example, zed released at its pins, release packages)", setup)
        step(f"{INSTALL_STEP} (release_install.yml)", install)
        step("new upstream tag", new_tag)
        step("bump (package_new_version) + pin", bump)
        step("reqcheck (package_reqcheck)", reqcheck)
        step("tagged build (release.yml)", build)
        step("gate (release_gate.yml) -> testing", gate)
        step("testing -> release (release_promote.yml)", promote)
        step("release package (release_package)", release_package)
        step(f"{UPGRADE_STEP} (release_upgrade.yml)", upgrade)
    finally:
        cleanup(workdir, log, args.port, nodes=args.gate)
    summary(steps, target)
    return 0


def base_index(target: Path) -> list[str]:
    """This host's apt list of bookworm main (apt keeps it plain or lz4-compressed), as a plain Packages file.

    dose-debcheck reads plain, .gz and .xz indexes, not lz4: lz4cat (package lz4) writes it out.
    """
    lists = sorted(Path("/var/lib/apt/lists").glob("*_dists_bookworm_main_binary-amd64_Packages*"))
    if not lists:
        raise SystemExit(
            "release day: --base-index: no apt list of bookworm main on this host (run apt-get update)"
            " - give the base distribution's Packages file"
        )
    found = lists[0]
    if found.suffix != ".lz4":
        return [str(found)]
    plain = target / "base" / "Packages"
    plain.parent.mkdir(parents=True, exist_ok=True)
    with plain.open("wb") as out:
        subprocess.run(["lz4cat", str(found)], stdout=out, check=True)
    return [str(plain)]


def _pin(text: str, parser: argparse.ArgumentParser) -> tuple[str, str]:
    project, sep, tag = text.partition("=")
    if not sep or not project or not tag:
        parser.error(f"--pin {text!r}: give PROJECT=TAG, e.g. keystonemiddleware=10.1.0")
    return project, tag


def _package(pkgdb: Path, project: str) -> dict:
    from ansible_collections.distroforge.openstack.plugins.module_utils._pkgdb import loader  # noqa: PLC0415

    [package] = loader.read(str(pkgdb), release=RELEASE, names=[project]).packages
    return json.loads(json.dumps(package))


def _stage(pkgdb: Path, workdir: Path, stage: str) -> dict:
    from ansible_collections.distroforge.openstack.plugins.module_utils._release import stages  # noqa: PLC0415

    release = stages.Release.read(str(pkgdb), RELEASE)
    return stages.read_stage(release, stage).repos


def tag_to_release(steps: list[tuple[str, float, str]]) -> float:
    """Seconds from the tag landing to the release: every step but set-up and the node tests around the release."""
    return sum(seconds for name, seconds, _note in steps[1:] if not name.startswith((INSTALL_STEP, UPGRADE_STEP)))


def summary(steps: list[tuple[str, float, str]], target: Path) -> None:
    """Print how long each step took and the time from the tag landing to the release; write summary.json."""
    print("\nrelease day summary")
    width = max(len(step[0]) for step in steps)
    for name, seconds, note in steps:
        print(f"  {name:<{width}}  {seconds:7.1f} s  {note}")
    day = tag_to_release(steps)
    print(f"  {'tag landed -> released':<{width}}  {day:7.1f} s")
    record = {
        "steps": [{"name": name, "seconds": round(seconds, 1), "result": note} for name, seconds, note in steps],
        "tag_to_release_seconds": round(day, 1),
        "passed": bool(steps) and all(note != "FAILED" for _name, _seconds, note in steps),
    }
    (target / "summary.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def cleanup(workdir: Path, log: Path, port: int, *, nodes: bool) -> None:
    """Stop release day's repository server and, with ``nodes`` (a run with the gate), remove its nodes.

    A run without the gate makes no node and leaves the df-rel-* nodes alone: another run may use them.
    """
    play = [
        {
            "name": "Clean up after release day",
            "hosts": "localhost",
            "gather_facts": False,
            "tasks": [
                {
                    "name": "Remove the release day nodes",
                    "ansible.builtin.include_role": {"name": "distroforge.openstack.node_provision"},
                    "vars": {
                        "node_provision_state": "absent",
                        "node_provision_nodes": [{"name": NODE}, {"name": GATE_NODE}],
                    },
                    "when": nodes,
                },
                {
                    "name": "Stop the repository server",
                    "ansible.builtin.include_role": {"name": "distroforge.openstack.repo_serve"},
                    "vars": {
                        "repo_serve_state": "stopped",
                        "repo_serve_root": str(workdir),
                        "repo_serve_port": port,
                        "repo_serve_state_dir": str(workdir / "repo_serve"),
                    },
                    "when": (workdir / "repo_serve" / "nginx.pid").is_file(),
                },
            ],
        }
    ]
    if not log.parent.is_dir():
        return
    with tempfile.NamedTemporaryFile("w", suffix=".yml", dir=log.parent, delete=False) as handle:
        json.dump(play, handle)  # JSON is YAML
    try:
        _run(["ansible-playbook", handle.name], log)
    except StepFailed as exc:
        print(f"release day: clean-up: {exc}", file=sys.stderr)
    finally:
        os.unlink(handle.name)


if __name__ == "__main__":
    os.environ.setdefault("ANSIBLE_CONFIG", str(TOP / "ansible.cfg"))
    sys.exit(main())
