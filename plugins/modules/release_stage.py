#!/usr/bin/python
# Copyright: distroforge developers
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: release_stage
short_description: Validate, diff, move and publish the candidate, testing and release stages of a release
version_added: 0.2.0
description:
  - The stages of a release are data, as rdoinfo's C(buildsys-tags/) are for CBS -
    one file per stage, C(<stages_dir>/<release>/<stage>.yml), mapping each
    repository of the release to the NVR of every package in that stage.
  - Every NVR must have been built from a tag (M(distroforge.openstack.release_build)
    records it under C(<workdir>/tagged/)), every package must be tagged for the
    release, and C(candidate) and C(testing) may not sort lower than C(release)
    (rpm's or dpkg's version order). A problem is one line naming the file, the
    repository and package, and what to do; nothing is written or published then.
  - O(action=put) sets NVRs in a stage (new tagged builds into C(candidate));
    O(action=move) moves the NVRs of O(from) that differ (or those of O(packages))
    forward into O(stage). Both need a O(reason), appended with the changes to
    C(history.jsonl) beside the stage files.
  - O(action=publish) makes the stage a signed repository per repository of the
    release, C(<repos_dir>/stages/<release>/<repo>/<stage>) - a link to a
    content-addressed snapshot assembled aside, signed and renamed into place
    before the link moves, so a published stage stays whole.
  - O(action=move) and O(action=publish) first check that the stage as it would be
    is installable - every C(Depends)/C(Requires) of its packages resolves within
    the stage plus the base distribution (M(distroforge.openstack.repo_closure)'s
    engine - C(dose-debcheck) against O(base_indexes) for DEB, C(dnf repoclosure)
    with O(rpm_provides) for RPM) - and refuse in one line naming the package and
    the missing dependency otherwise; nothing is written, no published stage moves.
    O(closure=false) skips the check.
  - O(action=overlay) publishes only the packages that differ between O(from) and
    O(stage) (the gate's repository, on top of the published O(stage)) under
    C(<repos_dir>/stages/<release>/<repo>/gate).
  - O(action=diff) and O(action=validate) only read.
author:
  - distroforge developers (@distroforge)
options:
  pkgdb:
    description: Entry file of the package database (rdoinfo format).
    type: path
    required: true
  release:
    description: The release.
    type: str
    required: true
  action:
    description: What to do (see the description).
    type: str
    choices: [validate, diff, put, move, publish, overlay]
    default: validate
  stage:
    description: The stage acted on (the target of O(action=put) and O(action=move)).
    type: str
    choices: [candidate, testing, release]
    default: candidate
  from:
    description:
      - The stage NVRs come from (O(action=move)), or the one compared with O(stage)
        (O(action=diff), O(action=overlay)).
    type: str
    choices: [candidate, testing, release]
  nvrs:
    description:
      - "C({repo: {project: nvr}}) to set (O(action=put)), as M(distroforge.openstack.release_build) returns it."
    type: dict
    default: {}
  packages:
    description: Move only these packages (projects); default every one that differs.
    type: list
    elements: str
    default: []
  reason:
    description: Why the NVRs move (a gate run, a promotion, a decision by hand); recorded.
    type: str
  user:
    description: Who moves them; recorded.
    type: str
    default: ""
  workdir:
    description: The work directory whose C(tagged/) store holds the release builds.
    type: path
    required: true
  stages_dir:
    description: Where the stage files are; default C(stages/) beside O(pkgdb).
    type: path
  repos_dir:
    description: Where repositories are published (O(action=publish), O(action=overlay)); default C(<workdir>/repos).
    type: path
  baseurl:
    description: URL of O(repos_dir) for the generated C(.list)/C(.repo) files; default C(file://<repos_dir>).
    type: str
  reponame:
    description: Name in the repository files and of the public key.
    type: str
    default: distroforge
  sign:
    description: Sign the repositories (C(InRelease)/C(Release.gpg), C(repomd.xml.asc) and the RPMs).
    type: bool
    default: true
  gpg_home:
    description: GnuPG home of the signing key; default C(gnupg/) beside O(repos_dir) (the publisher's).
    type: path
  closure:
    description: Check installability before O(action=move) and O(action=publish) (see the description).
    type: bool
    default: true
  base_indexes:
    description:
      - DEB - the base distribution's C(Packages) indexes (plain, C(.gz) or C(.xz)) on this host,
        which the stage's packages may depend on. Without any, a DEB stage must be closed by itself
        plus O(provides).
    type: list
    elements: path
    default: []
  provides:
    description: DEB - packages (C(name) or C(name (= version))) the base provides beyond O(base_indexes).
    type: list
    elements: str
    default: []
  rpm_provides:
    description: RPM - the capabilities the base provides (C(/bin/sh), C(python3), C(python(abi) = 3.9)...).
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    support: full
    description: Validates and says what would change; writes and publishes nothing.
  diff_mode:
    support: none
    description: RV(changes) lists what moves.
"""

EXAMPLES = r"""
- name: Put new tagged builds into candidate
  distroforge.openstack.release_stage:
    pkgdb: /var/lib/distroforge/example/rdoinfo/rdo-full.yml
    release: zed
    action: put
    stage: candidate
    nvrs: "{{ tagged.nvrs }}"
    reason: "release day: keystone 22.0.2"
    workdir: /var/lib/distroforge

- name: Move what passed the gate to testing
  distroforge.openstack.release_stage:
    pkgdb: /var/lib/distroforge/example/rdoinfo/rdo-full.yml
    release: zed
    action: move
    from: candidate
    stage: testing
    reason: "gate run 20261204-0312 passed"
    workdir: /var/lib/distroforge
"""

RETURN = r"""
stages:
  description: "Each stage's C({repo: {project: nvr}}) after the action."
  returned: always
  type: dict
changes:
  description: What moved (or would), or what differs (O(action=diff)), each with C(repo), C(project), C(old), C(new).
  returned: always
  type: list
  elements: dict
key_fingerprint:
  description: Fingerprint of the key the published repositories are signed with (for nodes to check).
  returned: when something was published signed
  type: str
broken:
  description:
    - When O(action=move) or O(action=publish) is refused as not installable, every reason, each with
      C(package), C(version), C(missing), C(needed_by) (as M(distroforge.openstack.repo_closure) returns them).
  returned: on failure, when the stage would not be installable
  type: list
  elements: dict
published:
  description:
    - The repositories published, each with C(repo), C(stage), C(path), C(url), C(snapshot),
      C(packages), C(changed).
  returned: always
  type: list
  elements: dict
"""

from pathlib import Path

from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import InputError
from ansible_collections.distroforge.openstack.plugins.module_utils._common.module import DistroforgeModule
from ansible_collections.distroforge.openstack.plugins.module_utils._release import stages


def _options(params: dict) -> stages.PublishOptions:
    return stages.PublishOptions(
        repos_dir=Path(params["repos_dir"] or Path(params["workdir"]) / "repos"),
        baseurl=params["baseurl"] or None,
        reponame=params["reponame"],
        sign=params["sign"],
        gpg_home=Path(params["gpg_home"]) if params["gpg_home"] else None,
    )


def _installability(params: dict) -> stages.Installability | None:
    if not params["closure"]:
        return None
    return stages.Installability(
        base_indexes=[Path(index) for index in params["base_indexes"]],
        provides=params["provides"],
        rpm_provides=params["rpm_provides"],
    )


def _overlay(release: stages.Release, params: dict, check: bool) -> tuple[list, list]:
    base = stages.load(release, params["stage"], params["workdir"])
    top = stages.load(release, params["from"], params["workdir"])
    changes = [c for c in stages.diff(base, top) if c.new is not None]
    options = _options(params)
    published = []
    for repo in release.repos:
        files = stages.overlay_files(release, changes, repo, params["workdir"])
        if not files:
            continue
        rel = f"stages/{release.name}/{repo}/gate"
        link, name, fmt, changed = stages.publish_files(files, rel, f"{release.name}-gate", options, check=check)
        published.append(
            {"repo": repo, "stage": "gate", "path": str(link), "url": options.url(rel), "snapshot": name,
             "package_format": fmt, "packages": sorted(p.name for p in files), "changed": changed}
        )  # fmt: skip
    return changes, published


def _work(module: DistroforgeModule) -> dict:
    params = module.params
    check = module.check_mode
    release = stages.Release.read(params["pkgdb"], params["release"], params["stages_dir"])
    action, stage, workdir = params["action"], params["stage"], params["workdir"]
    if action in ("diff", "overlay") and not params["from"]:
        raise InputError(f"from: action={action} compares two stages; name the other one (e.g. from: candidate)")
    changes: list = []
    published: list = []
    changed = False
    if action == "validate":
        for name in stages.STAGES:
            stages.load(release, name, workdir)
    elif action == "diff":
        changes = stages.diff(stages.load(release, stage, workdir), stages.load(release, params["from"], workdir))
    elif action == "put":
        result = stages.put(release, stage, params["nvrs"], workdir, reason=params["reason"], user=params["user"],
                            check=check)  # fmt: skip
        changes, changed = result.changes, result.changed
    elif action == "move":
        if not params["from"]:
            raise InputError("from: action=move needs the stage the NVRs come from (candidate or testing)")
        result = stages.move(release, params["from"], stage, workdir, reason=params["reason"],
                             projects=params["packages"] or None, user=params["user"], check=check,
                             installability=_installability(params))  # fmt: skip
        changes, changed = result.changes, result.changed
    elif action == "publish":
        done = stages.publish(release, stage, workdir, _options(params), check=check,
                              installability=_installability(params))  # fmt: skip
        published = [item.as_dict() for item in done]
        changed = any(item.changed for item in done)
    else:
        changes, published = _overlay(release, params, check)
        changed = any(item["changed"] for item in published)
    current = {name: stages.read_stage(release, name).repos for name in stages.STAGES}
    fingerprint = stages.key_fingerprint(_options(params)) if published and params["sign"] else None
    return {
        "changed": changed,
        "key_fingerprint": fingerprint,
        "changes": [c.as_dict() for c in changes],
        "published": published,
        "stages": current,
    }


def main() -> None:
    stage_choices = list(("candidate", "testing", "release"))
    module = DistroforgeModule(
        argument_spec={
            "pkgdb": {"type": "path", "required": True},
            "release": {"type": "str", "required": True},
            "action": {
                "type": "str",
                "choices": ["validate", "diff", "put", "move", "publish", "overlay"],
                "default": "validate",
            },
            "stage": {"type": "str", "choices": stage_choices, "default": "candidate"},
            "from": {"type": "str", "choices": stage_choices},
            "nvrs": {"type": "dict", "default": {}},
            "packages": {"type": "list", "elements": "str", "default": []},
            "reason": {"type": "str"},
            "user": {"type": "str", "default": ""},
            "workdir": {"type": "path", "required": True},
            "stages_dir": {"type": "path"},
            "repos_dir": {"type": "path"},
            "baseurl": {"type": "str"},
            "reponame": {"type": "str", "default": "distroforge"},
            "sign": {"type": "bool", "default": True},
            "gpg_home": {"type": "path"},
            "closure": {"type": "bool", "default": True},
            "base_indexes": {"type": "list", "elements": "path", "default": []},
            "provides": {"type": "list", "elements": "str", "default": []},
            "rpm_provides": {"type": "list", "elements": "str", "default": []},
        },
        supports_check_mode=True,
    )
    module.run(_work)


if __name__ == "__main__":
    main()
