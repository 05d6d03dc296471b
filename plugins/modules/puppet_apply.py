#!/usr/bin/python
# Copyright: distroforge developers
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: puppet_apply
short_description: Apply a Puppet manifest and report the run as a pipeline phase
version_added: 0.1.0
description:
  - Runs C(puppet apply --detailed-exitcodes) on the target with the given
    module path and hiera configuration, and judges the run the way
    puppet-openstack-integration does; the first run must succeed (exit 0
    or 2), a second run must change nothing (exit 0).
  - The counts come from the run's C(last_run_summary.yaml) and the changed
    resources and error lines from its log, both written to O(log_dir) per
    phase (C(<phase>.log), C(<phase>-last_run_summary.yaml),
    C(<phase>-last_run_report.yaml)) so that logs collection finds them.
  - A failed Puppet run does not fail the task; the returned RV(phase) says
    C(failed) and why, so that callers record every phase before they stop.
  - The task reports C(changed) only when Puppet changed a resource.
author:
  - distroforge developers (@distroforge)
options:
  manifest:
    description: Manifest to apply, on the target.
    type: path
    required: true
  phase:
    description: Name of the phase in the result (for example C(deploy) or C(idempotency)).
    type: str
    default: deploy
  expect_no_changes:
    description:
      - Fail the phase when Puppet changes anything (the idempotency rule).
      - Without it, exit codes 0 and 2 both pass.
    type: bool
    default: false
  modulepath:
    description: Directories of Puppet modules, searched in order.
    type: list
    elements: path
    default: []
  hiera_config:
    description: Hiera 5 configuration file giving the manifests their data.
    type: path
  log_dir:
    description: Where the run's log, summary and report are written.
    type: path
    default: /var/log/puppet/distroforge
  timeout:
    description: Seconds before the run is stopped and the phase fails.
    type: int
    default: 3600
  extra_args:
    description: More arguments for C(puppet apply).
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    support: full
    description:
      - Runs Puppet with C(--noop); the phase reports what would change.
      - Nothing is written on the target, O(log_dir) included. The C(--noop)
        run's log, summary and report go to a temporary directory that is
        removed afterwards, and the previous run's logs stay.
  diff_mode:
    support: none
    description: Puppet's own diffs are in the log.
notes:
  - C(HOME) is set to the home of the user running the module when it is
    missing from the environment (the C(podman) connection does not always
    set it); puppet-openstacklib's providers read C($HOME/openrc).
seealso:
  - name: puppet-openstack-integration
    description: The scenario tests whose apply-twice rule this follows.
    link: https://opendev.org/openstack/puppet-openstack-integration
"""

EXAMPLES = r"""
- name: Apply scenario001
  distroforge.openstack.puppet_apply:
    manifest: /etc/distroforge/puppet/fixtures/scenario001.pp
    modulepath: [/etc/distroforge/puppet/modules, /usr/share/puppet/modules]
    hiera_config: /etc/distroforge/puppet/hiera.yaml
    phase: deploy
  register: deploy

- name: Apply it again; it must change nothing
  distroforge.openstack.puppet_apply:
    manifest: /etc/distroforge/puppet/fixtures/scenario001.pp
    modulepath: [/etc/distroforge/puppet/modules, /usr/share/puppet/modules]
    hiera_config: /etc/distroforge/puppet/hiera.yaml
    phase: idempotency
    expect_no_changes: true
  register: second
"""

RETURN = r"""
phase:
  description: The run as a phase, the shape M(distroforge.openstack.tempest_results) reads in its C(phases) option.
  returned: always
  type: dict
  contains:
    name:
      description: The phase name given in O(phase).
      type: str
    status:
      description: C(passed) or C(failed).
      type: str
    duration:
      description: Wall time of the run in seconds.
      type: float
    changed_resources:
      description: How many resources Puppet changed.
      type: int
    message:
      description: One line saying what happened.
      type: str
    details:
      description: The changed resources (one per line) or, on failure, the error lines.
      type: str
  sample:
    name: idempotency
    status: passed
    duration: 27.4
    changed_resources: 0
    message: "puppet apply exited 0: 0 resources changed"
    details: ""
exit_code:
  description:
    - Exit code of C(puppet apply --detailed-exitcodes) (0 no change, 2 changes, 4 or 6 failures).
    - Not called C(rc), which Ansible would read as the task's own failure.
  returned: always
  type: int
changed_list:
  description: Changed resources, in the order Puppet changed them.
  returned: always
  type: list
  elements: str
summary:
  description: Content of the run's C(last_run_summary.yaml) (empty when Puppet stopped before applying).
  returned: always
  type: dict
log:
  description: Path of the run's log on the target; empty in check mode, whose log is not kept.
  returned: always
  type: str
"""

import os
import pwd
import subprocess
import tempfile
import time
from pathlib import Path

from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import CommandError
from ansible_collections.distroforge.openstack.plugins.module_utils._common.module import DistroforgeModule
from ansible_collections.distroforge.openstack.plugins.module_utils._deploy.puppet import (
    PuppetRun,
    make_phase,
    parse_last_run_summary,
    parse_log,
)


def _environment() -> dict:
    env = dict(os.environ)
    if not env.get("HOME"):
        env["HOME"] = pwd.getpwuid(os.getuid()).pw_dir
    return env


def _work(module: DistroforgeModule) -> dict:
    params = module.params
    manifest = Path(params["manifest"])
    if not manifest.is_file():
        raise CommandError(f"manifest: {manifest} does not exist on the target; copy the scenario there first")
    puppet = module.get_bin_path("puppet", required=True)
    if module.check_mode:
        # puppet apply --noop still writes its log, summary and report: they go to a scratch
        # directory, so log_dir and the previous run's logs stay exactly as they are.
        with tempfile.TemporaryDirectory(prefix="distroforge-puppet-noop-") as scratch:
            return {**_apply(module, puppet, manifest, Path(scratch)), "log": ""}
    log_dir = Path(params["log_dir"])
    log_dir.mkdir(parents=True, exist_ok=True)
    return _apply(module, puppet, manifest, log_dir)


def _apply(module: DistroforgeModule, puppet: str, manifest: Path, log_dir: Path) -> dict:
    """Run puppet apply with its log, summary and report in ``log_dir``; the module's result."""
    params = module.params
    name = params["phase"]
    log = log_dir / f"{name}.log"
    summary_file = log_dir / f"{name}-last_run_summary.yaml"
    report_file = log_dir / f"{name}-last_run_report.yaml"
    for stale in (log, summary_file, report_file):
        stale.unlink(missing_ok=True)
    argv = [
        puppet,
        "apply",
        "--detailed-exitcodes",
        "--color=false",
        f"--logdest={log}",
        f"--lastrunfile={summary_file}",
        f"--lastrunreport={report_file}",
    ]
    if params["modulepath"]:
        argv.append("--modulepath=" + ":".join(params["modulepath"]))
    if params["hiera_config"]:
        argv.append(f"--hiera_config={params['hiera_config']}")
    if module.check_mode:
        argv.append("--noop")
    argv += [*params["extra_args"], str(manifest)]
    started = time.monotonic()
    try:
        proc = subprocess.run(
            argv,
            env=_environment(),
            cwd=str(manifest.parent),
            capture_output=True,
            text=True,
            errors="replace",
            timeout=params["timeout"],
            check=False,
        )
        rc, output = proc.returncode, proc.stdout + proc.stderr
    except subprocess.TimeoutExpired:
        rc, output = 124, f"Error: puppet apply timed out after {params['timeout']} s"
    duration = time.monotonic() - started
    log_text = log.read_text(encoding="utf-8", errors="replace") if log.is_file() else ""
    # Errors from before the log is opened (bad options, compile errors) only reach stderr.
    if not parse_log(log_text)[1]:
        log_text += "\n" + output
    summary_text = summary_file.read_text(encoding="utf-8", errors="replace") if summary_file.is_file() else ""
    run = PuppetRun(rc=rc, duration=duration, summary=parse_last_run_summary(summary_text), log_text=log_text)
    phase = make_phase(name, run, expect_no_changes=params["expect_no_changes"])
    changed_list = parse_log(log_text)[0]
    return {
        "changed": phase.changed_resources > 0 and not module.check_mode,
        "exit_code": rc,
        "phase": phase.as_dict(),
        "changed_list": changed_list,
        "summary": run.summary,
        "log": str(log),
    }


def main() -> None:
    module = DistroforgeModule(
        argument_spec={
            "manifest": {"type": "path", "required": True},
            "phase": {"type": "str", "default": "deploy"},
            "expect_no_changes": {"type": "bool", "default": False},
            "modulepath": {"type": "list", "elements": "path", "default": []},
            "hiera_config": {"type": "path"},
            "log_dir": {"type": "path", "default": "/var/log/puppet/distroforge"},
            "timeout": {"type": "int", "default": 3600},
            "extra_args": {"type": "list", "elements": "str", "default": []},
        },
        supports_check_mode=True,
    )
    module.run(_work)


if __name__ == "__main__":
    main()
