"""Packstack answer files against Packstack's real keys.

The keys come from the data file ``tools/packstack_keys.py`` extracted from
the packstack 21.0.1 (Zed) sdist on PyPI and that is committed in the role;
one test re-extracts it from the sdist when PyPI answers.  The module runs
through ansible-playbook once, for check mode, idempotency, the 0600 mode,
masking and keys read from an installed Packstack (a stand-in executable).
"""

from __future__ import annotations

import configparser
import importlib.util
import json
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import InputError
from ansible_collections.distroforge.openstack.plugins.module_utils._packstack import answers as engine

from .ansible_run import run_playbook

TOP = Path(__file__).resolve().parents[2]
ZED_VERSION = "21.0.1"
KEYS_FILE = TOP / "roles" / "deploy_packstack" / "files" / f"packstack-keys-{ZED_VERSION}.yml"


@pytest.fixture(scope="module")
def keys() -> engine.KeySet:
    return engine.load_keys(str(KEYS_FILE))


def _parse(text: str) -> dict[str, str]:
    """Read an answer file the way Packstack does (RawConfigParser, one [general] section)."""
    parser = configparser.RawConfigParser()
    parser.optionxform = str  # keep the case, to compare names exactly
    parser.read_string(text)
    assert parser.sections() == ["general"]
    return dict(parser["general"])


def test_data_file_is_packstack_zed(keys):
    data = yaml.safe_load(KEYS_FILE.read_text())
    assert data["packstack_version"] == ZED_VERSION
    assert data["openstack_release"] == "zed"  # from the sdist's Puppetfile (stable/zed)
    assert len(keys.keys) == 299
    assert len({key.name for key in keys.keys}) == len(keys.keys)
    # Spot checks straight from packstack/plugins/*.py of 21.0.1.
    agent = keys.by_name["CONFIG_NEUTRON_L2_AGENT"]
    assert (agent.default, agent.options, agent.group) == (
        "ovn",
        ("linuxbridge", "openvswitch", "ovn"),
        "NEUTRON_ML2_PLUGIN",
    )
    assert keys.by_name["CONFIG_KEYSTONE_ADMIN_PW"].password is True
    assert keys.by_name["CONFIG_KEYSTONE_ADMIN_PW"].default == "PW_PLACEHOLDER"
    assert keys.by_name["CONFIG_CONTROLLER_HOST"].computed_default == "utils.get_localhost_ip()"
    assert keys.keys[0].name == "CONFIG_SSH_KEY" and keys.keys[-1].name.startswith("CONFIG_")


def test_defaults_render_packstacks_key_set_in_its_order(keys):
    rendered = engine.render({}, keys)
    written = _parse(rendered.text)
    assert set(written) | set(rendered.left_to_packstack) == {key.name for key in keys.keys}
    assert not set(written) & set(rendered.left_to_packstack)
    # Only defaults Packstack computes on the node are left out.
    assert all(keys.by_name[name].computed_default for name in rendered.left_to_packstack)
    assert list(written) == [key.name for key in keys.keys if key.name in written]
    assert written["CONFIG_NEUTRON_L2_AGENT"] == "ovn"
    assert written["CONFIG_KEYSTONE_ADMIN_PW"] == "PW_PLACEHOLDER"


def test_answering_every_computed_key_writes_exactly_packstacks_keys(keys):
    answers = {name: "x" for name in engine.render({}, keys).left_to_packstack}
    answers["CONFIG_CONTROLLER_HOST"] = "192.0.2.10"
    rendered = engine.render(answers, keys)
    assert list(_parse(rendered.text)) == [key.name for key in keys.keys]
    assert rendered.left_to_packstack == []


def test_typo_is_rejected_with_the_closest_key(keys):
    with pytest.raises(InputError) as error:
        engine.validate({"CONFIG_KEYSTONE_ADMN_PW": "secret"}, keys)
    assert str(error.value) == (
        "deploy_packstack_answers.CONFIG_KEYSTONE_ADMN_PW: unknown key for packstack 21.0.1;"
        " did you mean CONFIG_KEYSTONE_ADMIN_PW?"
    )
    with pytest.raises(InputError, match=r"config_debug_mode: .*did you mean CONFIG_DEBUG_MODE\?$"):
        engine.validate({"config_debug_mode": True}, keys)
    with pytest.raises(
        InputError, match=r"NOT_A_PACKSTACK_THING: unknown key for packstack 21.0.1; see .*packstack-keys"
    ):
        engine.validate({"NOT_A_PACKSTACK_THING": 1}, keys)


def test_bad_choice_is_rejected_listing_the_valid_ones(keys):
    with pytest.raises(InputError) as error:
        engine.validate({"CONFIG_NEUTRON_L2_AGENT": "foo"}, keys)
    assert (
        str(error.value)
        == "deploy_packstack_answers.CONFIG_NEUTRON_L2_AGENT: 'foo' is not one of linuxbridge, openvswitch, ovn"
    )
    with pytest.raises(InputError, match=r"'bogus' not in local, flat, vlan, gre, vxlan, geneve"):
        engine.validate({"CONFIG_NEUTRON_ML2_TYPE_DRIVERS": ["vxlan", "bogus"]}, keys)
    with pytest.raises(InputError, match=r"CONFIG_DEBUG_MODE: 'yes' is not one of y, n"):
        engine.validate({"CONFIG_DEBUG_MODE": "yes"}, keys)
    with pytest.raises(InputError, match=r"CONFIG_SWIFT_STORAGE_ZONES: 'two' is not an integer$"):
        engine.validate({"CONFIG_SWIFT_STORAGE_ZONES": "two"}, keys)
    with pytest.raises(InputError, match=r"CONFIG_NEUTRON_OVS_VXLAN_UDP_PORT: '70000' is not a port number"):
        engine.validate({"CONFIG_NEUTRON_OVS_VXLAN_UDP_PORT": 70000}, keys)
    with pytest.raises(InputError, match=r"CONFIG_KEYSTONE_REGION: Packstack refuses an empty value"):
        engine.validate({"CONFIG_KEYSTONE_REGION": ""}, keys)
    assert engine.validate({"CONFIG_SWIFT_STORAGE_ZONES": 2, "CONFIG_NEUTRON_L2_AGENT": "openvswitch"}, keys) == {
        "CONFIG_SWIFT_STORAGE_ZONES": "2",
        "CONFIG_NEUTRON_L2_AGENT": "openvswitch",
    }


def test_errors_are_one_line(keys):
    for answers in (
        {"CONFIG_KEYSTONE_ADMN_PW": "x"},
        {"CONFIG_NEUTRON_L2_AGENT": "foo"},
        {"CONFIG_NTP_SERVERS": {"a": 1}},
        {"CONFIG_NTP_SERVERS": "a\nb"},
        {"CONFIG_NTP_SERVERS": True},
    ):
        with pytest.raises(InputError) as error:
            engine.validate(answers, keys)
        assert "\n" not in str(error.value)
        assert str(error.value).startswith("deploy_packstack_answers.")


def test_booleans_render_as_y_n_and_lists_comma_joined(keys):
    rendered = engine.render(
        {
            "CONFIG_DEBUG_MODE": True,
            "CONFIG_SWIFT_INSTALL": False,
            "CONFIG_NTP_SERVERS": ["0.pool.ntp.org", "1.pool.ntp.org"],
        },
        keys,
    )
    written = _parse(rendered.text)
    assert written["CONFIG_DEBUG_MODE"] == "y"
    assert written["CONFIG_SWIFT_INSTALL"] == "n"
    assert written["CONFIG_NTP_SERVERS"] == "0.pool.ntp.org,1.pool.ntp.org"
    with pytest.raises(
        InputError, match=r"CONFIG_KEYSTONE_REGION: got a boolean but .* is not a y/n key; quote the value"
    ):
        engine.validate({"CONFIG_KEYSTONE_REGION": True}, keys)


def test_allinone_points_every_host_key_at_the_node(keys):
    rendered = engine.render({"CONFIG_COMPUTE_HOSTS": "192.0.2.11"}, keys, allinone_host="192.0.2.10")
    written = _parse(rendered.text)
    host_keys = [key.name for key in keys.keys if "_HOST" in key.name]
    assert "CONFIG_CONTROLLER_HOST" in host_keys and "CONFIG_AMQP_HOST" in host_keys
    assert written["CONFIG_CONTROLLER_HOST"] == "192.0.2.10"
    assert written["CONFIG_AMQP_HOST"] == "192.0.2.10"
    assert written["CONFIG_COMPUTE_HOSTS"] == "192.0.2.11"  # an answer wins


def test_passwords_are_masked(keys):
    rendered = engine.render(
        {"CONFIG_KEYSTONE_ADMIN_PW": "s3cr3t-admin", "CONFIG_DEFAULT_PASSWORD": "s3cr3t-default"}, keys
    )
    assert "s3cr3t-admin" in rendered.text
    masked = rendered.masked_text()
    assert "s3cr3t" not in masked
    assert "CONFIG_KEYSTONE_ADMIN_PW=********" in masked
    assert "CONFIG_KEYSTONE_DEMO_PW=PW_PLACEHOLDER" in masked  # a placeholder is no secret
    assert rendered.masked_values()["CONFIG_DEFAULT_PASSWORD"] == "********"
    assert "s3cr3t" not in json.dumps(rendered.masked_values())
    assert sorted(rendered.secrets()) == ["s3cr3t-admin", "s3cr3t-default"]
    assert engine.secret_answers({"CONFIG_KEYSTONE_ADMN_PW": "typo-secret", "CONFIG_DEBUG_MODE": "y"}) == [
        "typo-secret"
    ]


def test_rendering_is_deterministic(keys):
    answers = {"CONFIG_NTP_SERVERS": ["a", "b"], "CONFIG_DEBUG_MODE": True, "CONFIG_NEUTRON_L2_AGENT": "openvswitch"}
    reordered = dict(reversed(list(answers.items())))
    first = engine.render(answers, keys).text
    assert engine.render(reordered, keys).text == first
    assert engine.render(answers, engine.load_keys(str(KEYS_FILE))).text == first


def test_keys_from_an_installed_packstack_win(keys):
    generated = (
        "[general]\n\n# Path to a public key\nCONFIG_SSH_KEY=/root/.ssh/id_rsa.pub\n\n"
        "CONFIG_KEYSTONE_ADMIN_PW=4f1b7c0e9a8d2e31\n\nCONFIG_DEBUG_MODE=n\n\n"
        "# A key newer than the data file\nCONFIG_BRAND_NEW_THING=True\n\nCONFIG_BRAND_NEW_PW=deadbeef\n"
    )
    installed = engine.keys_from_answer_file(generated, "99.0.0", keys)
    assert [key.name for key in installed.keys] == [
        "CONFIG_SSH_KEY",
        "CONFIG_KEYSTONE_ADMIN_PW",
        "CONFIG_DEBUG_MODE",
        "CONFIG_BRAND_NEW_THING",
        "CONFIG_BRAND_NEW_PW",
    ]
    rendered = engine.render({"CONFIG_BRAND_NEW_THING": "n"}, installed)
    written = _parse(rendered.text)
    # Values Packstack generated for that one run are not taken as defaults.
    assert written["CONFIG_KEYSTONE_ADMIN_PW"] == "PW_PLACEHOLDER"
    assert written["CONFIG_BRAND_NEW_PW"] == "PW_PLACEHOLDER"
    assert "CONFIG_SSH_KEY" not in written  # computed on the node
    assert written["CONFIG_BRAND_NEW_THING"] == "n"
    with pytest.raises(InputError, match=r"CONFIG_NEUTRON_L2_AGENT: unknown key for packstack 99.0.0"):
        engine.validate({"CONFIG_NEUTRON_L2_AGENT": "ovn"}, installed)


def test_bad_keys_file_is_one_line(tmp_path):
    with pytest.raises(InputError, match=r"keys_file: .*missing.yml does not exist; .*tools/packstack_keys.py"):
        engine.load_keys(str(tmp_path / "missing.yml"))
    broken = tmp_path / "broken.yml"
    broken.write_text("keys: [\n")
    with pytest.raises(InputError, match=r"keys_file: .*broken.yml is not valid YAML at line \d+"):
        engine.load_keys(str(broken))


def _load_tool():
    spec = importlib.util.spec_from_file_location("packstack_keys", TOP / "tools" / "packstack_keys.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["packstack_keys"] = module
    spec.loader.exec_module(module)
    return module


def _pypi_reachable() -> bool:
    try:
        socket.create_connection(("pypi.org", 443), timeout=5).close()
    except OSError:
        return False
    return True


@pytest.mark.slow
@pytest.mark.skipif(
    not _pypi_reachable(), reason="pypi.org:443 is not reachable; the committed data file is tested above"
)
@pytest.mark.parametrize("version", [ZED_VERSION, "26.0.0"])
def test_tool_extracts_the_keys_from_the_sdist(tmp_path, version):
    out = tmp_path / f"packstack-keys-{version}.yml"
    tool = _load_tool()
    assert tool.main(["--version", version, "--out", str(out)]) == 0
    lint = subprocess.run(
        [str(TOP / ".venv" / "bin" / "yamllint"), "--strict", "-c", str(TOP / ".yamllint"), str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert lint.returncode == 0, lint.stdout
    extracted = engine.load_keys(str(out))
    if version == ZED_VERSION:
        # The committed file is exactly what the script writes from PyPI's sdist.
        assert out.read_text() == KEYS_FILE.read_text()
    else:
        assert extracted.packstack_version == version
        assert "CONFIG_NEUTRON_L2_AGENT" in extracted.by_name
        assert len(extracted.keys) > 250


PLAYBOOK = """\
- name: Render Packstack answer files with packstack_answers
  hosts: localhost
  gather_facts: false
  vars:
    answers:
      CONFIG_KEYSTONE_ADMIN_PW: "{{ admin_pw }}"
      CONFIG_DEBUG_MODE: true
  tasks:
    - name: Render in check mode
      distroforge.openstack.packstack_answers:
        answers: "{{ answers }}"
        keys_file: "{{ keys_file }}"
        dest: "{{ dest }}"
      check_mode: true
      diff: true
      register: checked

    - name: Render
      distroforge.openstack.packstack_answers:
        answers: "{{ answers }}"
        keys_file: "{{ keys_file }}"
        dest: "{{ dest }}"
      diff: true
      register: first

    - name: Render again
      distroforge.openstack.packstack_answers:
        answers: "{{ answers }}"
        keys_file: "{{ keys_file }}"
        dest: "{{ dest }}"
      register: second

    - name: Render with a typo
      distroforge.openstack.packstack_answers:
        answers:
          CONFIG_KEYSTONE_ADMN_PW: "{{ admin_pw }}"
        keys_file: "{{ keys_file }}"
        dest: "{{ dest }}"
      register: typo
      ignore_errors: true

    - name: Render with the keys of the installed packstack
      distroforge.openstack.packstack_answers:
        answers:
          CONFIG_BRAND_NEW_THING: n
        keys_file: "{{ keys_file }}"
        keys_from_node: true
        packstack_command: "{{ fake_packstack }}"
        dest: "{{ dest }}.node"
      register: node

    - name: Save the results for the test
      ansible.builtin.copy:
        content: "{{ {'checked': checked, 'first': first, 'second': second, 'typo': typo, 'node': node} | to_json }}"
        dest: "{{ results }}"
        mode: "0600"
"""

FAKE_PACKSTACK = """\
#!/bin/sh
# Stands in for an installed packstack: --version, and --gen-answer-file=<path>.
case "$1" in
  --version) echo "packstack 99.0.0" ;;
  --gen-answer-file=*)
    printf '[general]\\n\\nCONFIG_DEBUG_MODE=n\\n\\nCONFIG_BRAND_NEW_THING=True\\n' > "${1#--gen-answer-file=}" ;;
  *) exit 2 ;;
esac
"""


def test_module_through_ansible(tmp_path):
    dest = tmp_path / "answers.txt"
    results = tmp_path / "results.json"
    fake = tmp_path / "packstack"
    fake.write_text(FAKE_PACKSTACK)
    fake.chmod(0o755)
    playbook = tmp_path / "render.yml"
    playbook.write_text(PLAYBOOK)
    admin_pw = "Zq9-not-in-any-log"
    extra = {
        "keys_file": str(KEYS_FILE),
        "dest": str(dest),
        "results": str(results),
        "admin_pw": admin_pw,
        "fake_packstack": str(fake),
    }
    proc = run_playbook(playbook, extra, "-vvv", "--diff", timeout=180)
    # The password never shows, not even in -vvv invocation output or the failed typo task.
    assert admin_pw not in proc.stdout + proc.stderr
    out = json.loads(results.read_text())
    assert admin_pw not in json.dumps(out)

    checked, first, second = out["checked"], out["first"], out["second"]
    assert checked["changed"] is True
    assert "CONFIG_KEYSTONE_ADMIN_PW=********" in checked["diff"]["after"]
    assert first["changed"] is True and second["changed"] is False
    assert first["checksum"] == second["checksum"]
    assert first["packstack_version"] == ZED_VERSION
    assert first["values"]["CONFIG_KEYSTONE_ADMIN_PW"] == "********"
    assert first["values"]["CONFIG_DEBUG_MODE"] == "y"
    assert "CONFIG_CONTROLLER_HOST" in first["left_to_packstack"]
    # The file itself holds the real password, readable by its owner only.
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    assert f"CONFIG_KEYSTONE_ADMIN_PW={admin_pw}" in dest.read_text()

    typo = out["typo"]
    assert typo["failed"] is True
    assert typo["msg"] == (
        "answers.CONFIG_KEYSTONE_ADMN_PW: unknown key for packstack 21.0.1; did you mean CONFIG_KEYSTONE_ADMIN_PW?"
    )

    node = out["node"]
    assert node["packstack_version"] == "99.0.0"
    assert node["keys_origin"] == "packstack 99.0.0 on the node"
    assert node["values"] == {"CONFIG_DEBUG_MODE": "n", "CONFIG_BRAND_NEW_THING": "n"}
