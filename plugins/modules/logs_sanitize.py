#!/usr/bin/python
# Copyright: distroforge developers
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: logs_sanitize
short_description: Gather a node's logs, configs and command outputs into one sanitised archive
version_added: 0.1.0
description:
  - Runs on the node whose logs are wanted. Reads the given files, directories and globs and
    runs the given commands, masks every secret the O(patterns) find with C(***), and writes
    the result as one tar archive ready to be fetched. Nothing unsanitised is ever written
    outside the node's own files, nor returned.
  - Files are renamed to end in C(.txt) (C(keystone.conf) becomes C(keystone.conf.txt)) unless
    their name ends in one of O(keep_suffixes), so browsers show them; C(.gz) sources are read
    decompressed. A file keeps its path inside the archive (C(/etc/keystone/keystone.conf) is
    C(etc/keystone/keystone.conf.txt)); command outputs are C(commands/<name>.txt).
  - Each file is capped at O(max_file_size) (its head and tail are kept around a marker line
    saying how much was cut); the archive at O(max_total_size) of text. Files above
    O(gzip_above) are gzipped (C(.txt.gz)). Binary files are skipped.
  - The archive holds an C(index.html) listing every file with its sizes, what was masked and
    cut, and what was not collected.
author:
  - distroforge developers (@distroforge)
options:
  archive:
    description: Tar archive to write on the node (mode 0600); its directory must exist.
    type: path
    required: true
  paths:
    description: Absolute files, directories (collected recursively) and globs (C(**) recurses) to collect.
    type: list
    elements: str
    default: []
  exclude:
    description:
      - fnmatch patterns on absolute paths never to collect, even sanitised, such as key
        repositories (C(/etc/keystone/fernet-keys/*)); C(*) also matches C(/).
    type: list
    elements: str
    default: []
  commands:
    description:
      - Commands whose output (stdout, then stderr) is collected as C(commands/<name>.txt).
        A command that is not installed is reported in RV(not_collected), not run.
      - Each is a dict with C(name) and C(argv) (a list).
    type: list
    elements: dict
    default: []
  patterns:
    description:
      - Secret patterns, applied in order to every file and command output. Each is a dict with
        C(name) and either C(regex) and C(replace) (Python C(re); C(\g<name>) keeps the harmless
        part) or C(begin) and C(end) (a block masked whole, even when a cap cut it); optional
        C(flags) among C(IGNORECASE), C(MULTILINE), C(DOTALL).
      - The role M(distroforge.openstack.logs_collect) passes its C(vars/secret_patterns.yml).
    type: list
    elements: dict
    required: true
  max_file_size:
    description: Bytes of text kept per file (a quarter from its head, the rest from its tail); 0 for no cap.
    type: int
    default: 10485760
  max_total_size:
    description: Bytes of text kept in all; later files are cut or left out once it is reached; 0 for no cap.
    type: int
    default: 209715200
  gzip_above:
    description: Files with more bytes of text than this are gzipped; 0 never gzips.
    type: int
    default: 1048576
  keep_suffixes:
    description: Name endings that browsers already show, kept without an added C(.txt).
    type: list
    elements: str
    default: [.txt, .html]
  title:
    description: Title of the C(index.html) page.
    type: str
    default: Logs
attributes:
  check_mode:
    support: full
    description: Reads, sanitises and reports everything, without writing the archive.
  diff_mode:
    support: none
    description: The archive is a new snapshot each time; there is nothing to diff.
notes:
  - The module always reports C(changed) when it writes the archive (a new snapshot of the logs).
seealso:
  - name: logs_collect
    description: The role that runs this module on each node and fetches the archive.
    link: https://github.com/distroforge/openstack/blob/main/docs/logs.md
"""

EXAMPLES = r"""
- name: Gather Keystone's configuration and logs, sanitised
  distroforge.openstack.logs_sanitize:
    archive: /var/tmp/logs.tar
    paths: [/etc/keystone, /var/log/keystone, /var/log/apache2/*.log]
    exclude: [/etc/keystone/fernet-keys/*, /etc/keystone/credential-keys/*]
    commands:
      - {name: journal, argv: [journalctl, -b, --no-pager]}
    patterns:
      - name: secret key = value line
        regex: '^(?P<head>[ \t]*[\w.-]*(?:password|token)[ \t]*=[ \t]*)\S.*$'
        replace: '\g<head>***'
        flags: [MULTILINE]
    max_file_size: 5242880
  register: logs
"""

RETURN = r"""
files:
  description: The files in the archive, in the order they were collected.
  returned: always
  type: list
  elements: dict
  contains:
    src:
      description: Path on the node, or C($ command) for a command's output.
      type: str
    dest:
      description: Path inside the archive.
      type: str
    size:
      description: Bytes of sanitised text kept.
      type: int
    stored_size:
      description: Bytes stored (after gzip when gzipped).
      type: int
    original_size:
      description: Bytes of the source (decompressed for C(.gz)).
      type: int
    gzipped:
      description: Whether it was gzipped.
      type: bool
    redactions:
      description: How many secrets were masked.
      type: int
    cut_bytes:
      description: Bytes left out by the caps.
      type: int
    cut_reason:
      description: C(per-file cap), C(total cap) or both; empty when nothing was cut.
      type: str
    rc:
      description: Exit status of a command; null for files.
      type: int
  sample:
    - src: /etc/keystone/keystone.conf
      dest: etc/keystone/keystone.conf.txt
      size: 4301
      stored_size: 4301
      original_size: 4317
      gzipped: false
      redactions: 2
      cut_bytes: 0
      cut_reason: ""
      rc: null
cut:
  description: The files the caps cut, with C(src), C(dest), C(cut_bytes) and C(reason).
  returned: always
  type: list
  elements: dict
not_collected:
  description:
    - Sources not collected, with C(src) and C(reason)
      (C(not found), C(excluded), C(binary), C(total cap reached), ...).
  returned: always
  type: list
  elements: dict
redactions:
  description: Secrets masked in all.
  returned: always
  type: int
total_size:
  description: Bytes of text in the archive, before gzip.
  returned: always
  type: int
stored_size:
  description: Bytes stored in the archive (after gzip), without the index.
  returned: always
  type: int
"""

from ansible_collections.distroforge.openstack.plugins.module_utils._common.module import DistroforgeModule
from ansible_collections.distroforge.openstack.plugins.module_utils._logs.sanitize import compile_patterns
from ansible_collections.distroforge.openstack.plugins.module_utils._logs.stage import Limits, collect


def _work(module: DistroforgeModule) -> dict:
    params = module.params
    limits = Limits(
        max_file_size=params["max_file_size"],
        max_total_size=params["max_total_size"],
        gzip_above=params["gzip_above"],
        keep_suffixes=tuple(params["keep_suffixes"]),
    )

    def runner(argv):
        return module.run_command(list(argv), check_rc=False)

    stage = collect(
        None if module.check_mode else params["archive"],
        paths=params["paths"],
        exclude=params["exclude"],
        commands=params["commands"],
        patterns=compile_patterns(params["patterns"]),
        limits=limits,
        title=params["title"],
        runner=runner,
    )
    return {"changed": True, **stage.result()}


def main() -> None:
    module = DistroforgeModule(
        argument_spec={
            "archive": {"type": "path", "required": True},
            "paths": {"type": "list", "elements": "str", "default": []},
            "exclude": {"type": "list", "elements": "str", "default": []},
            "commands": {"type": "list", "elements": "dict", "default": []},
            "patterns": {"type": "list", "elements": "dict", "required": True},
            "max_file_size": {"type": "int", "default": 10485760},
            "max_total_size": {"type": "int", "default": 209715200},
            "gzip_above": {"type": "int", "default": 1048576},
            "keep_suffixes": {"type": "list", "elements": "str", "default": [".txt", ".html"]},
            "title": {"type": "str", "default": "Logs"},
        },
        supports_check_mode=True,
    )
    for option in ("max_file_size", "max_total_size", "gzip_above"):
        if module.params[option] < 0:
            module.fail_json(msg=f"{option} must be 0 or more, got {module.params[option]}")
    module.run(_work)


if __name__ == "__main__":
    main()
