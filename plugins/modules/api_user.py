#!/usr/bin/python
# Copyright: distroforge developers
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: api_user
short_description: Manage the users of the DLRN-compatible REST API
version_added: 0.1.0
description:
  - Creates, updates or removes a user of the REST API (DLRN's C(dlrn-user)
    C(create), C(update) and C(delete)) in the state DB's C(users) table.
    Writes (votes, promotions, imports) need HTTP basic credentials of such
    a user; reads are anonymous.
  - Passwords are stored as salted scrypt hashes (passlib's C($scrypt$)
    format), never in clear. A user whose password already matches is left
    alone, so a re-run changes nothing.
  - A changed password or a removed user takes effect on the API's next
    request, without a restart.
  - The role C(distroforge.openstack.api_serve) calls it for each of its
    C(api_serve_users).
author:
  - distroforge developers (@distroforge)
extends_documentation_fragment:
  - distroforge.openstack.state_db
options:
  username:
    description: The user's name (letters, digits, C(.), C(_), C(@), C(-); at most 255 characters).
    type: str
    required: true
    aliases: [name]
  password:
    description: The user's password. Required with O(state=present).
    type: str
  update_password:
    description:
      - C(always) gives an existing user O(password) when it differs;
        C(on_create) sets it only when the user is created.
    type: str
    choices: [always, on_create]
    default: always
  state:
    description: Whether the user exists.
    type: str
    choices: [present, absent]
    default: present
attributes:
  check_mode:
    support: full
    description: Opens the state DB read-only and says whether the user would be created, updated or removed.
  diff_mode:
    support: full
    description: Shows whether the user exists before and after (never the password or its hash).
"""

EXAMPLES = r"""
- name: Let the CI jobs report results and promote
  distroforge.openstack.api_user:
    db: /var/lib/distroforge/data/state.db
    username: ci
    password: "{{ vault_api_ci_password }}"
  no_log: true

- name: Remove a user
  distroforge.openstack.api_user:
    db: /var/lib/distroforge/data/state.db
    username: old-promoter
    state: absent
"""

RETURN = r"""
username:
  description: The user's name.
  returned: always
  type: str
  sample: ci
action:
  description: What was done (or would be, in check mode).
  returned: always
  type: str
  sample: created
  choices: [created, updated, unchanged, deleted, absent]
"""

from typing import Any, Dict

from ansible_collections.distroforge.openstack.plugins.module_utils._api import users
from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import InputError
from ansible_collections.distroforge.openstack.plugins.module_utils._common.module import DistroforgeModule


def _work(module: DistroforgeModule) -> Dict[str, Any]:
    params = module.params
    username = users.check_username(params["username"])
    present = params["state"] == "present"
    if present and not params["password"]:
        raise InputError(f"user {username}: password is required with state=present")
    with module.state_db() as db:
        if db is None:  # check mode before the first run created the DB
            change = users.UserChange(username, present, "created" if present else "absent")
        elif present:
            change = users.set_user(
                db,
                username,
                params["password"],
                update_password=params["update_password"] == "always",
                check_mode=module.check_mode,
            )
        else:
            change = users.delete_user(db, username, check_mode=module.check_mode)
    result: Dict[str, Any] = {"changed": change.changed, "username": username, "action": change.action}
    if module._diff:
        existed = change.action in ("updated", "unchanged", "deleted")
        after = present
        result["diff"] = {
            "before": {"username": username, "exists": existed},
            "after": {
                "username": username,
                "exists": after,
                **({"password": "(changed)"} if change.action == "updated" else {}),
            },
        }
    return result


def main() -> None:
    module = DistroforgeModule(
        argument_spec={
            "username": {"type": "str", "required": True, "aliases": ["name"]},
            "password": {"type": "str", "no_log": True},
            "update_password": {"type": "str", "choices": ["always", "on_create"], "default": "always"},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        },
        state_db=True,
        supports_check_mode=True,
    )
    module.run(_work)


if __name__ == "__main__":
    main()
