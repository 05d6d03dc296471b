#!/usr/bin/python
# Copyright: distroforge developers
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: repo_promote
short_description: Move a label (DLRN promotion) to a build or aggregate, by criteria or by hash
version_added: 0.1.0
description:
  - Moves the label O(label) as DLRN's promotions do - a relative symlink in
    DLRN's layout plus a promotion row in the state DB, written together and
    crash-safe - and keeps where it pointed before as C(previous-<label>).
  - With O(criteria) (the shape of RDO's promoter configuration) and no hash,
    promotes the newest candidate hash newer than the label's current one on
    which every required job (or one of its alternatives) voted success;
    nothing moves when none does, and the result says why for each candidate.
  - With O(commit_hash) and O(distro_hash), or O(aggregate_hash) (with
    components), promotes that hash; with O(criteria) too, only if its votes
    meet them (else fails naming the missing or failed jobs).
  - With O(batch), moves several labels (DLRN's C(promote-batch)) all or
    nothing; with components every label touched gets its aggregate
    C(.repo) recomputed as DLRN does.
  - Refuses C(current), C(consistent), C(previous-*), paths, unknown or purged
    hashes, and a label that moved meanwhile (O(expect)) or was moved by hand
    (unless O(force)). Takes the publish lock, so no publisher or purge runs beside it.
author:
  - distroforge developers (@distroforge)
options:
  repos_dir:
    description: The C(repos/) directory the builds were published to.
    type: path
    required: true
  label:
    description: The label to move (DLRN's C(promote_name)); the default label of O(batch) items.
    type: str
  criteria:
    description:
      - One target's promotion criteria, as under C(promotions.<label>) in a
        criteria file - C(candidate_label) (a label, or C(consistent)),
        C(criteria) (job ids), optional C(alternative_criteria) (job -> jobs
        that may stand in for it), C(component), C(latest_hashes_count).
    type: dict
  criteria_from:
    description: Where O(criteria) came from, named in error messages (for example C(promotion.yml)).
    type: str
    default: criteria
  commit_hash:
    description: Upstream commit hash of the build to promote (with O(distro_hash)).
    type: str
  distro_hash:
    description: Distgit commit hash of the build, in full or its first 8 or more characters.
    type: str
  extended_hash:
    description: DLRN's extended hash; builds from the package database have none.
    type: str
  aggregate_hash:
    description: With components, an aggregate hash whose component builds to promote (as one batch).
    type: str
  batch:
    description: Several promotions done as one (DLRN's promote-batch).
    type: list
    elements: dict
    suboptions:
      commit_hash:
        description: Upstream commit hash.
        type: str
        required: true
      distro_hash:
        description: Distgit commit hash.
        type: str
        required: true
      extended_hash:
        description: DLRN's extended hash (none for our builds).
        type: str
      label:
        description: The label; defaults to O(label).
        type: str
      expect:
        description: Compare-and-swap for this item, as O(expect).
        type: str
  expect:
    description:
      - Compare-and-swap - the build (C(<commit>_<distgit8>) or commit hash)
        the label must point at now, or an empty string when it must not exist;
        the promotion fails if the label moved meanwhile.
    type: str
  keep_previous:
    description: Keep the label's former target as C(previous-<label>).
    type: bool
    default: true
  force:
    description: Move the label even though its link disagrees with its last promotion (someone moved it by hand).
    type: bool
    default: false
  user:
    description: Who promotes (recorded with the promotion); defaults to the user running the module.
    type: str
  lock_timeout:
    description: Seconds to wait for a publisher, purge or other promotion (and for the state DB's writer lock).
    default: 600.0
extends_documentation_fragment:
  - distroforge.openstack.repos
  - distroforge.openstack.state_db
attributes:
  check_mode:
    support: full
    description: Opens the state DB read-only, takes no lock, and says what would move.
  diff_mode:
    support: none
    description: The result lists each link's old and new target.
seealso:
  - module: distroforge.openstack.ci_vote
  - module: distroforge.openstack.repo_purge
"""

EXAMPLES = r"""
- name: Promote puppet-passed-ci when the scenario job passed on a newer consistent hash
  distroforge.openstack.repo_promote:
    db: /var/lib/distroforge/state.db
    repos_dir: /var/lib/distroforge/data/repos
    label: puppet-passed-ci
    criteria:
      candidate_label: consistent
      criteria: [distroforge-pipeline-scenario001]

- name: Promote one build by hand, only if it moved nobody else's label meanwhile
  distroforge.openstack.repo_promote:
    db: /var/lib/distroforge/state.db
    repos_dir: /var/lib/distroforge/data/repos
    label: current-passed-ci
    commit_hash: 3db1d55d0c4f6f1b8c2f7a64a7a4e1b2c3d4e5f6
    distro_hash: 1f2e3d4c
    expect: 2197fcaf6499913b47365f1a488b0d70bdc075f0_e78ff82c
"""

RETURN = r"""
label:
  description: The label asked for.
  returned: always
  type: str
promoted_hash:
  description: Where O(label) points after the task (build or aggregate hash); null when it is unset.
  returned: always
  type: str
previous_hash:
  description: Where O(label) pointed before the task.
  returned: always
  type: str
summary:
  description: One line saying what moved, or why nothing did.
  returned: always
  type: str
  sample: "puppet-passed-ci: unset -> 3db1d55d0c4f6f1b8c2f7a64a7a4e1b2c3d4e5f6_1f2e3d4c"
moves:
  description: Each label link moved (or that would move), with its build, old and new target and aggregate hash.
  returned: always
  type: list
  elements: dict
aggregate_hashes:
  description: With components, each label's new aggregate hash.
  returned: always
  type: dict
decision:
  description: With O(criteria) and no hash, the candidates examined (newest first), each with its status and reason.
  returned: when criteria decide
  type: dict
dlrn:
  description: DLRN's answer to promote (the last promotion), when something was promoted.
  returned: when a promotion was made or would be
  type: dict
recovered:
  description: What was done to finish or undo a promotion interrupted by a crash, if one was found.
  returned: always
  type: str
notes:
  description: Things worth knowing (a previous label that could not be kept).
  returned: always
  type: list
  elements: str
"""

from typing import Any, Dict, List, Optional

from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import InputError
from ansible_collections.distroforge.openstack.plugins.module_utils._common.module import DistroforgeModule
from ansible_collections.distroforge.openstack.plugins.module_utils._promote.criteria import (
    Criteria,
    Decision,
    aggregate_items,
    current_aggregate,
    parse_target,
    promote_by_criteria,
    require_criteria,
)
from ansible_collections.distroforge.openstack.plugins.module_utils._promote.hashes import find_build
from ansible_collections.distroforge.openstack.plugins.module_utils._promote.labels import LabelLink, repo_hash_of
from ansible_collections.distroforge.openstack.plugins.module_utils._promote.promote import (
    PromoteItem,
    PromotionResult,
    promote_batch,
)
from ansible_collections.distroforge.openstack.plugins.module_utils._promote.votes import default_user
from ansible_collections.distroforge.openstack.plugins.module_utils._publish.layout import Layout
from ansible_collections.distroforge.openstack.plugins.module_utils._publish.options import REPO_OPTIONS, repo_layout
from ansible_collections.distroforge.openstack.plugins.module_utils._statedb.db import StateDB


def _items(module: DistroforgeModule, db: StateDB, layout: Layout, criteria: Optional[Criteria]) -> List[PromoteItem]:
    """The promotions asked for by hash (O(batch), O(commit_hash) or O(aggregate_hash))."""
    p = module.params
    if p["batch"]:
        items = []
        for index, entry in enumerate(p["batch"]):
            label = entry["label"] or p["label"]
            if not label:
                raise InputError(f"batch[{index}]: no label: give the item a label or set the module's label")
            items.append(
                PromoteItem(label, entry["commit_hash"], entry["distro_hash"], entry["extended_hash"], entry["expect"])
            )
        return items
    if p["aggregate_hash"]:
        if p["expect"] is not None:
            raise InputError("expect names one build: leave it out with aggregate_hash (each component is checked)")
        if criteria is not None:
            require_criteria(db, criteria, p["aggregate_hash"], aggregate=True)
        return aggregate_items(db, layout, p["aggregate_hash"], p["label"])
    if criteria is not None:
        record = find_build(db, p["commit_hash"], p["distro_hash"], p["extended_hash"], layout=layout)
        require_criteria(db, criteria, record.repo_hash)
    return [PromoteItem(p["label"], p["commit_hash"], p["distro_hash"], p["extended_hash"], p["expect"])]


def _where(layout: Layout, label: Optional[str], aggregate: bool, component: Optional[str]) -> Optional[str]:
    """Where ``label`` points now: its aggregate hash (components) or its build."""
    if not label:
        return None
    if aggregate:
        return current_aggregate(layout, label)
    return repo_hash_of(LabelLink(layout, label, component).read())


def _work(module: DistroforgeModule) -> Dict[str, Any]:
    p = module.params
    layout = repo_layout(p)
    label = p["label"]
    criteria = None
    if p["criteria"]:
        criteria = parse_target(label, p["criteria"], f"{p['criteria_from']}: promotions.{label}")
    options = {
        "user": p["user"] or default_user(),
        "keep_previous": p["keep_previous"],
        "force": p["force"],
        "check_mode": module.check_mode,
        "lock_timeout": float(p["lock_timeout"]),
    }
    decision: Optional[Decision] = None
    # With components a label is one link per component; what users follow is its aggregate.
    aggregate = layout.use_components and not (criteria and criteria.component)
    before = None if p["batch"] else _where(layout, label, aggregate, criteria.component if criteria else None)
    # Check mode must not even open the DB for writing (no creation, no migration, no lock file).
    with module.state_db(readonly=module.check_mode) as db:
        if p["batch"] or p["commit_hash"] or p["aggregate_hash"]:
            items = _items(module, db, layout, criteria)
            result: Optional[PromotionResult] = promote_batch(db, layout, items, **options)
        else:
            decision, result = promote_by_criteria(db, layout, criteria, **options)
            before = decision.current
    moves = result.moves if result is not None else []
    changed = bool(result and result.changed)
    if aggregate and result is not None:
        after = result.aggregate_hashes.get(label, before)
    else:
        after = next((move.repo_hash for move in reversed(moves) if move.label == label), before)
    if decision is not None and result is None:
        summary = decision.reason
    elif p["batch"]:
        summary = "; ".join(f"{m.link}: {m.previous or 'unset'} -> {m.repo_hash}" for m in moves if m.changed)
        summary = summary or "every label already pointed where asked"
    elif changed:
        summary = f"{label}: {before or 'unset'} -> {after}"
    else:
        summary = f"{label}: already at {after}"
    out: Dict[str, Any] = {
        "changed": changed,
        "label": label,
        "promoted_hash": after,
        "previous_hash": before,
        "summary": summary,
        "moves": [move.as_dict() for move in moves],
        "aggregate_hashes": result.aggregate_hashes if result else {},
        "recovered": result.recovered if result else None,
        "notes": result.notes if result else [],
    }
    if decision is not None:
        out["decision"] = decision.as_dict()
    if moves:
        out["dlrn"] = result.dlrn()
    return out


def main() -> None:
    module = DistroforgeModule(
        argument_spec={
            **REPO_OPTIONS,
            "repos_dir": {"type": "path", "required": True},
            "label": {"type": "str"},
            "criteria": {"type": "dict"},
            "criteria_from": {"type": "str", "default": "criteria"},
            "commit_hash": {"type": "str"},
            "distro_hash": {"type": "str"},
            "extended_hash": {"type": "str"},
            "aggregate_hash": {"type": "str"},
            "batch": {
                "type": "list",
                "elements": "dict",
                "options": {
                    "commit_hash": {"type": "str", "required": True},
                    "distro_hash": {"type": "str", "required": True},
                    "extended_hash": {"type": "str"},
                    "label": {"type": "str"},
                    "expect": {"type": "str"},
                },
            },
            "expect": {"type": "str"},
            "keep_previous": {"type": "bool", "default": True},
            "force": {"type": "bool", "default": False},
            "user": {"type": "str"},
            "lock_timeout": {"default": 600.0},  # the rest from STATE_DB_OPTIONS
        },
        mutually_exclusive=[("batch", "commit_hash", "aggregate_hash"), ("batch", "criteria")],
        required_together=[("commit_hash", "distro_hash")],
        required_one_of=[("criteria", "commit_hash", "aggregate_hash", "batch")],
        required_by={"criteria": "label", "commit_hash": "label", "aggregate_hash": "label"},
        state_db=True,
        supports_check_mode=True,
    )
    module.run(_work)


if __name__ == "__main__":
    main()
