#!/usr/bin/python
# Copyright: distroforge developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: repo_key
short_description: Install a repository's signing key only when its fingerprint is the expected one
version_added: 0.2.0
description:
  - Reads an OpenPGP public key file (armored or binary) from O(url), O(src) or
    O(content) and computes the fingerprints of its primary keys.
  - With O(fingerprints), the file must hold exactly those keys; anything else
    (another key, an extra key riding along, a damaged or truncated file, an
    error page) fails in one line and nothing is written. The fingerprint
    reaches the node through Ansible's own channel, so a key downloaded over
    plain HTTP from the server it is meant to verify is still trusted only
    when it is the right one.
  - With O(dest), the verified key is written there (aside, then renamed,
    mode C(0644) as apt and rpm expect), only when the content or the mode
    differs. O(dest) needs O(fingerprints).
  - Without O(dest) it only reports the fingerprints (for example on the repo
    server, to hand them to the test nodes).
author:
  - distroforge developers (@distroforge)
options:
  url:
    description: HTTP(S) URL of the key file.
    type: str
  src:
    description: Path of the key file on the host.
    type: path
  content:
    description: The key itself.
    type: str
  fingerprints:
    description:
      - Full fingerprints (40 or 64 hex digits; spaces, colons and case do not
        matter) of the primary keys the file must hold, no more, no fewer.
    type: list
    elements: str
  dest:
    description: Where to install the verified key (an apt C(signed-by) file or an RPM key file).
    type: path
  timeout:
    description: Seconds to wait for O(url).
    type: int
    default: 30
  validate_certs:
    description: Check the TLS certificate of an C(https) O(url).
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description: Fetches and checks the key, reports whether O(dest) would change, writes nothing.
  diff_mode:
    support: full
    description: Shows the fingerprints before and after.
notes:
  - Fingerprints are computed without GnuPG (test nodes have only gpgv); the
    collection's tests prove them equal to C(gpg --show-keys).
"""

EXAMPLES = r"""
- name: Learn the fingerprint of the published key on the repo server
  distroforge.openstack.repo_key:
    src: /var/lib/distroforge/data/repos/RPM-GPG-KEY-delorean
  register: published_key

- name: Install the key on a node only if it is that key
  distroforge.openstack.repo_key:
    url: http://10.89.42.1:8088/repos/RPM-GPG-KEY-delorean
    fingerprints: "{{ published_key.fingerprints }}"
    dest: /etc/apt/keyrings/distroforge.asc
"""

RETURN = r"""
fingerprints:
  description: Fingerprints of the primary keys in the file, upper-case hex, in file order.
  returned: always
  type: list
  elements: str
  sample: [6A1F0E8B0DAD5C2F2F0B4B8E4A3C7A26C6E1D3F1]
dest:
  description: Where the key was installed.
  returned: when O(dest) is set
  type: str
"""

from typing import Any, Dict

from ansible.module_utils.urls import fetch_url

from ansible_collections.distroforge.openstack.plugins.module_utils._common import openpgp
from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import InputError
from ansible_collections.distroforge.openstack.plugins.module_utils._common.module import DistroforgeModule

# Readable by apt's and rpm's unprivileged helpers, written by root only.
KEY_MODE = 0o644


def _read(module: DistroforgeModule) -> "tuple[bytes, str]":
    params = module.params
    if params["content"] is not None:
        return params["content"].encode("utf-8"), "content"
    if params["src"]:
        try:
            with open(params["src"], "rb") as handle:
                return handle.read(), params["src"]
        except OSError as exc:
            raise InputError(f"src: cannot read {params['src']} ({exc.strerror}); give the key file's path") from None
    url = params["url"]
    response, info = fetch_url(module, url, timeout=params["timeout"])
    if info.get("status") != 200 or response is None:
        raise InputError(f"url: {url} answered {info.get('status')} ({info.get('msg', '')}); check the repo server")
    return response.read(), url


def _fingerprints_of(data: "bytes | None", where: str) -> "list[str]":
    if not data:
        return []
    try:
        return openpgp.primary_fingerprints(data, where)
    except InputError:
        return ["(not a key)"]


def _work(module: DistroforgeModule) -> Dict[str, Any]:
    params = module.params
    if params["dest"] and not params["fingerprints"]:
        raise InputError("fingerprints: give the key's expected fingerprints; a key is never installed unchecked")
    data, where = _read(module)
    if params["fingerprints"]:
        found = openpgp.check(data, params["fingerprints"], where)
    else:
        found = openpgp.primary_fingerprints(data, where)
    result: Dict[str, Any] = {"changed": False, "fingerprints": found}
    dest = params["dest"]
    if not dest:
        return result
    result["dest"] = dest

    def shown(key: "bytes | None") -> str:
        return "" if key is None else "\n".join(_fingerprints_of(key, dest)) + "\n"

    result["changed"] = module.write_unless_check(dest, data, mode=KEY_MODE, option="dest", shown=shown)
    return result


def main() -> None:
    module = DistroforgeModule(
        argument_spec={
            "url": {"type": "str"},
            "src": {"type": "path"},
            "content": {"type": "str"},
            "fingerprints": {"type": "list", "elements": "str"},
            "dest": {"type": "path"},
            "timeout": {"type": "int", "default": 30},
            "validate_certs": {"type": "bool", "default": True},
        },
        required_one_of=[("url", "src", "content")],
        mutually_exclusive=[("url", "src", "content")],
        supports_check_mode=True,
    )
    module.run(_work)


if __name__ == "__main__":
    main()
