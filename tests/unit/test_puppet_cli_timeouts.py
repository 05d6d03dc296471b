"""deploy_puppet on a slow node: puppet-openstacklib's CLI timeouts follow the node, not its hard-coded 40 s.

On a TCG VM under load one ``openstack`` call takes minutes; with the module's 40 s each call is retried while
the first still runs, the calls pile up and Keystone's resources fail after the 170 s request timeout.
"""

from __future__ import annotations

import re

import pytest

from .ansible_run import play

# The lines of puppet-openstacklib 21's lib/puppet/provider/openstack.rb the role sets (Debian bookworm).
PROVIDER = """\
class Puppet::Provider::Openstack < Puppet::Provider

  initvars # so commands will work

  commands :openstack_command => 'openstack'

  # Timeout for each CLI command (seconds)
  @@command_timeout  = 40

  # Timeout for the overall request (seconds), including retries
  @@request_timeout  = 170

  # Sleep time between retries (seconds)
  @@retry_sleep = 3
end
"""


def _run(tmp_path, **role_vars):
    provider = tmp_path / "openstack.rb"
    if not provider.exists():
        provider.write_text(PROVIDER)
    playbook = tmp_path / "timeouts.yml"
    playbook.write_text(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
        "    - ansible.builtin.include_role:\n        name: distroforge.openstack.deploy_puppet\n"
        "        tasks_from: openstack_timeouts.yml\n"
    )
    proc = play(playbook, {"__deploy_puppet_openstacklib_provider": str(provider), **role_vars})
    assert proc.returncode == 0, proc.stdout[-3000:]
    changed = int(re.search(r"^localhost\s+:.*\bchanged=(\d+)", proc.stdout, re.MULTILINE).group(1))
    return provider.read_text(), changed


def _timeouts(text):
    return [line.split("=")[1].strip() for line in text.splitlines() if line.strip().startswith("@@")]


def test_a_tcg_vm_node_gets_minutes_per_call_once(tmp_path):
    text, changed = _run(tmp_path, node_provision_vm_accel="tcg")
    assert _timeouts(text) == ["600", "2400", "3"] and changed == 1
    assert _run(tmp_path, node_provision_vm_accel="tcg") == (text, 0)  # a second deploy changes nothing


@pytest.mark.parametrize("accel", ["kvm", None])
def test_other_nodes_keep_the_modules_values(tmp_path, accel):
    text, changed = _run(tmp_path, **({"node_provision_vm_accel": accel} if accel else {}))
    assert text == PROVIDER and changed == 0


def test_a_given_timeout_wins(tmp_path):
    text, _changed = _run(tmp_path, node_provision_vm_accel="tcg", deploy_puppet_openstack_command_timeout=90)
    assert _timeouts(text) == ["90", "360", "3"]
