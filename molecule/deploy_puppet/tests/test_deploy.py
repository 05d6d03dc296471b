"""What a deployed scenario001 node must give: Keystone from our repository, a token, no drift."""

import json
import os
from pathlib import Path

NODE = "df-deploy-mol"
testinfra_hosts = [f"podman://{NODE}"]
LOG_DIR = "/var/log/puppet/distroforge"


def _fixture():
    return json.loads((Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "fixture" / "fixture.json").read_text())


def _summary(host, phase):
    text = host.file(f"{LOG_DIR}/{phase}-last_run_summary.yaml").content_string
    sections, current = {}, None
    for line in text.splitlines():
        if line and not line[0].isspace() and line.endswith(":"):
            current = sections.setdefault(line[:-1], {})
        elif current is not None and ":" in line:
            key, value = line.strip().split(":", 1)
            current[key] = value.strip()
    return sections


def test_keystone_answers_on_5000(host):
    address = host.run("hostname -I").stdout.split()[0]
    script = f"import urllib.request; print(urllib.request.urlopen('http://{address}:5000/v3').read().decode())"
    reply = host.run(f'python3 -c "{script}"')
    assert reply.rc == 0, reply.stderr
    assert json.loads(reply.stdout)["version"]["id"].startswith("v3.")


def test_token_issue_works_with_the_admin_openrc(host):
    assert host.file("/root/openrc").mode == 0o600
    token = host.run(". /root/openrc && openstack token issue -c expires -f value")
    assert token.rc == 0, token.stderr
    assert token.stdout.strip()


def test_demo_project_and_user_exist(host):
    role = host.run(
        ". /root/openrc && openstack role assignment list --user demo --project demo --names -c Role -f value"
    )
    assert role.rc == 0, role.stderr
    assert "member" in role.stdout.split()


def test_second_apply_phase_passed_and_changed_nothing(host):
    summary = _summary(host, "idempotency")
    assert summary["resources"]["changed"] == "0"
    assert summary["resources"]["failed"] == "0"
    assert summary["events"]["failure"] == "0"
    assert host.file(f"{LOG_DIR}/idempotency.log").exists


def test_keystone_comes_from_our_repository(host):
    fixture = _fixture()
    installed = host.run("dpkg-query -W -f '${Version}' keystone python3-keystone")
    assert installed.stdout == fixture["version"] * 2, installed.stdout
    # Debian's version is higher: only the pin above 1000 makes ours win.
    assert host.run(f"dpkg --compare-versions {fixture['debian_version']} gt {fixture['version']}").rc == 0
    policy = host.run("apt-cache policy keystone").stdout
    assert f"*** {fixture['version']} 1001" in policy, policy


def test_repository_signature_is_verified(host):
    source = host.file("/etc/apt/sources.list.d/distroforge.list").content_string
    assert "signed-by=/etc/apt/keyrings/distroforge.asc" in source
    assert "trusted=yes" not in source
    assert "Pin-Priority: 1001" in host.file("/etc/apt/preferences.d/distroforge.pref").content_string
