#!/usr/bin/python
# Copyright: distroforge developers
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: packstack_answers
short_description: Render a Packstack answer file validated against Packstack's own keys
version_added: 0.1.0
description:
  - Writes a Packstack answer file (one C([general]) section of C(CONFIG_*) keys)
    from O(answers) over Packstack's defaults, in the order
    C(packstack --gen-answer-file) writes it.
  - Every answer is checked against the keys Packstack itself defines, from a
    key data file generated from the Packstack release's source by
    C(tools/packstack_keys.py), or from the Packstack installed on the node.
    An unknown or misspelled key fails naming the closest valid key; a value
    outside Packstack's option list fails listing the valid ones.
  - Booleans are written as C(y)/C(n), lists comma-separated. Defaults that
    Packstack computes on the node (its address, random secrets, the
    hostname) are left out unless answered, so Packstack computes them as
    it would for its own generated file.
  - The file is written aside and renamed into place with mode C(0600) (it
    holds passwords), only when its content changes. Password values are
    masked in the result and the diff.
author:
  - distroforge developers (@distroforge)
options:
  answers:
    description:
      - Answer-file keys and their values, for example C(CONFIG_DEBUG_MODE=true).
      - Values may be strings, numbers, booleans (y/n keys only) or lists of plain values.
    type: dict
    default: {}
  answers_name:
    description:
      - Name of the variable O(answers) came from, used in error messages
        (the role passes C(deploy_packstack_answers)).
    type: str
    default: answers
  keys_file:
    description:
      - Key data file on the node, as written by C(tools/packstack_keys.py)
        (C(roles/deploy_packstack/files/packstack-keys-<version>.yml)).
      - With O(keys_from_node=true) it still supplies option lists, validators
        and which keys are passwords, and is the fallback when Packstack is not installed.
    type: path
  keys_from_node:
    description:
      - Read the keys from the Packstack installed on the node by running
        C(packstack --gen-answer-file) into a temporary file; the installed version
        decides which keys exist, their order and defaults.
      - That command checks that the hosts it defaults to answer on port 22 and
        creates C(~/.ssh/id_rsa) when missing, as Packstack itself would.
    type: bool
    default: false
  packstack_command:
    description: Packstack executable used with O(keys_from_node=true).
    type: str
    default: packstack
  dest:
    description: Path of the answer file on the node.
    type: path
    required: true
  allinone_host:
    description:
      - Do what C(packstack --allinone) does - every key whose name contains
        C(_HOST) points at this address unless O(answers) sets it.
    type: str
attributes:
  check_mode:
    support: full
    description: Computes and diffs the file without writing it.
  diff_mode:
    support: full
    description: Shows the answer file before and after, passwords masked.
requirements:
  - PyYAML to read O(keys_file) (Packstack depends on it); a JSON key file works without it.
"""

EXAMPLES = r"""
- name: Write the answer file for an all-in-one deployment
  distroforge.openstack.packstack_answers:
    answers:
      CONFIG_DEFAULT_PASSWORD: "{{ vault_packstack_password }}"
      CONFIG_NEUTRON_L2_AGENT: openvswitch
      CONFIG_PROVISION_DEMO: false
    keys_file: /var/lib/distroforge/packstack/packstack-keys-21.0.1.yml
    keys_from_node: true
    allinone_host: "{{ ansible_facts['default_ipv4']['address'] }}"
    dest: /var/lib/distroforge/packstack/answers.txt
  register: answers
"""

RETURN = r"""
dest:
  description: Path of the answer file.
  returned: always
  type: str
checksum:
  description: SHA-1 of the rendered answer file (as M(ansible.builtin.copy) reports it).
  returned: always
  type: str
packstack_version:
  description: Packstack version whose keys were used.
  returned: always
  type: str
  sample: 21.0.1
keys_origin:
  description: Where the keys came from - the key data file, or the Packstack installed on the node.
  returned: always
  type: str
values:
  description: Every key written and its value, passwords masked as C(********).
  returned: always
  type: dict
left_to_packstack:
  description: Keys not written because Packstack computes their default on the node.
  returned: always
  type: list
  elements: str
masked_text:
  description: The answer file with the passwords masked, to keep with the logs.
  returned: always
  type: str
"""

import hashlib
import os
import shutil
import tempfile
from typing import Any, Dict, Optional

from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import CommandError, InputError
from ansible_collections.distroforge.openstack.plugins.module_utils._common.module import DistroforgeModule
from ansible_collections.distroforge.openstack.plugins.module_utils._packstack import answers as engine


def _installed_keys(module: DistroforgeModule, base: Optional[engine.KeySet]) -> Optional[engine.KeySet]:
    """Keys of the Packstack on the node, or None when it is not installed."""
    command = module.get_bin_path(module.params["packstack_command"])
    if command is None:
        return None
    rc, out, err = module.run_command([command, "--version"])
    version = out.split()[-1] if rc == 0 and out.split() else "installed"
    workdir = tempfile.mkdtemp(prefix="distroforge-packstack-")
    try:
        generated = os.path.join(workdir, "answers.txt")
        rc, out, err = module.run_command([command, f"--gen-answer-file={generated}"])
        if rc != 0 or not os.path.exists(generated):
            tail = (err or out).strip().splitlines()[-1:] or ["no output"]
            raise CommandError(
                f"keys_from_node: {command} --gen-answer-file failed (rc {rc}): {tail[0]}",
                rc=rc,
                stdout=out[-4000:],
                stderr=err[-4000:],
            )
        with open(generated, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return engine.keys_from_answer_file(text, version, base, origin=f"packstack {version} on the node")


def _keys(module: DistroforgeModule) -> engine.KeySet:
    params = module.params
    base = engine.load_keys(params["keys_file"]) if params["keys_file"] else None
    if params["keys_from_node"]:
        installed = _installed_keys(module, base)
        if installed is not None:
            return installed
        if base is None:
            raise InputError(
                "keys_from_node: packstack is not installed on the node and no keys_file was given; "
                "install openstack-packstack first or give keys_file"
            )
        return base
    if base is None:
        raise InputError("keys_file: give the key data file, or set keys_from_node: true")
    return base


def _work(module: DistroforgeModule) -> Dict[str, Any]:
    params = module.params
    # Hide passwords from the invocation and any failure before they are checked.
    module.no_log_values.update(engine.secret_answers(params["answers"]))
    keys = _keys(module)
    module.no_log_values.update(engine.secret_answers(params["answers"], keys))
    rendered = engine.render(
        params["answers"] or {}, keys, allinone_host=params["allinone_host"], variable=params["answers_name"]
    )
    module.no_log_values.update(rendered.secrets())
    dest = params["dest"]

    def shown(data: Optional[bytes]) -> str:
        return engine.mask_text(data.decode("utf-8", errors="replace"), keys) if data is not None else ""

    changed = module.write_unless_check(dest, rendered.text, mode=0o600, option="dest", shown=shown)
    masked = rendered.masked_text()
    result: Dict[str, Any] = {
        "changed": changed,
        "dest": dest,
        "checksum": hashlib.sha1(rendered.text.encode("utf-8")).hexdigest(),
        "packstack_version": keys.packstack_version,
        "keys_origin": keys.origin,
        "values": rendered.masked_values(),
        "left_to_packstack": rendered.left_to_packstack,
        "masked_text": masked,
    }
    return result


def main() -> None:
    module = DistroforgeModule(
        argument_spec={
            "answers": {"type": "dict", "default": {}},
            "answers_name": {"type": "str", "default": "answers"},
            "keys_file": {"type": "path"},
            "keys_from_node": {"type": "bool", "default": False},
            "packstack_command": {"type": "str", "default": "packstack"},
            "dest": {"type": "path", "required": True},
            "allinone_host": {"type": "str"},
        },
        supports_check_mode=True,
    )
    module.run(_work)


if __name__ == "__main__":
    main()
