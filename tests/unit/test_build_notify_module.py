"""build_notify through Ansible itself: check mode, a real mail, no duplicate, a dead webhook as a warning; build.yml
and promote.yml with notifications on."""

from __future__ import annotations

import json
import shutil
import time

import pytest

from ansible_collections.distroforge.openstack.plugins.module_utils._statedb.db import NewCommit, StateDB

from .ansible_run import TOP, run_playbook
from .buildfixtures import T0, hellodf_pkgdb, make_distgit, make_upstream
from .gitrepos import commit
from .notify_servers import free_port, mail_server

PASSWORD = "module-smtp-pass-5309"
PLAYBOOK = """\
- name: Notify with build_notify
  hosts: localhost
  gather_facts: false
  vars:
    common: &common
      db: "{{ state_db }}"
      packages:
        - {project: nova, name: openstack-nova, maintainers: [alice@example.org]}
      log_baseurl: https://trunk.example.org/master/repos
      secret_patterns:
        - {name: password line, regex: '(?P<head>password = )\\S+', replace: '\\g<head>***'}
      smtp:
        host: 127.0.0.1
        port: "{{ smtp_port }}"
        security: none
        sender: ci@example.org
        timeout: 5
  tasks:
    - name: Say what would be sent, in check mode
      distroforge.openstack.build_notify: *common
      check_mode: true
      register: check

    - name: Send it
      distroforge.openstack.build_notify: *common
      register: first

    - name: Send again (nothing new)
      distroforge.openstack.build_notify: *common
      register: second

    - name: Post to a webhook nobody listens on; the play goes on
      distroforge.openstack.build_notify:
        db: "{{ state_db }}"
        webhook: {url: "http://127.0.0.1:{{ dead_port }}/hook", timeout: 2, token: "{{ token }}"}
      register: dead

    - name: The same, asked to fail
      distroforge.openstack.build_notify:
        db: "{{ state_db }}"
        webhook: {url: "http://127.0.0.1:{{ dead_port }}/hook", timeout: 2, token: "{{ token }}"}
        fail_on_error: true
      register: dead_fails
      ignore_errors: true

    - name: Save the results for the test
      ansible.builtin.copy:
        content: "{{ {'check': check, 'first': first, 'second': second, 'dead': dead, 'dead_fails': dead_fails}
                     | to_json }}"
        dest: "{{ results }}"
        mode: "0644"
      check_mode: false
"""


def test_build_notify_through_ansible(tmp_path):
    state_db = tmp_path / "state.db"
    now = int(time.time())
    with StateDB(state_db) as db:
        (good, bad) = db.queue(
            [
                NewCommit("nova", "master", "a" * 40, "d" * 40, 100, subject="good"),
                NewCommit("nova", "master", "b" * 40, "d" * 40, 200, subject="bad"),
            ]
        )
        db.claim(good.id, "builder-1")
        db.finish(good.id, "SUCCESS", dt_build=now - 600)
        db.claim(bad.id, "builder-1")
        db.finish(bad.id, "FAILED", notes="error: install failed, password = hunter2-xyz", dt_build=now - 300)
    playbook = tmp_path / "notify.yml"
    playbook.write_text(PLAYBOOK)
    results = tmp_path / "results.json"
    token = "module-webhook-token-8675"
    with mail_server() as server:
        proc = run_playbook(
            playbook,
            {
                "state_db": str(state_db),
                "results": str(results),
                "smtp_port": server.port,
                "dead_port": free_port(),
                "token": token,
            },
            "-v",
        )
    out = json.loads(results.read_text())
    check, first, second, dead, dead_fails = (out[k] for k in ("check", "first", "second", "dead", "dead_fails"))
    assert check["changed"] is True and [m["outcome"] for m in check["messages"]] == ["would_send"]
    assert first["changed"] is True and [m["outcome"] for m in first["messages"]] == ["sent"]
    assert second["changed"] is False and [m["outcome"] for m in second["messages"]] == ["already_sent"]
    (mail,) = server.inbox  # check mode sent nothing, the second run nothing either
    assert mail.rcpt_tos == ["alice@example.org"]
    assert "nova" in mail.message["Subject"] and "error: install failed, password = ***" in mail.body
    assert "hunter2-xyz" not in mail.raw.decode()

    assert dead["failed"] is False and dead["counts"]["failed"] == 1
    (warning,) = dead["warnings"]
    assert warning.startswith("webhook http://127.0.0.1:") and "Connection refused" in warning
    assert dead_fails["failed"] is True and "\n" not in dead_fails["msg"]
    assert dead_fails["msg"].startswith("1 message(s) not sent: webhook http://127.0.0.1:")
    assert token not in proc.stdout + proc.stderr + json.dumps(out)
    assert PASSWORD not in proc.stdout


def test_promote_playbook_tells_about_a_stalled_label_only_when_asked(tmp_path):
    now = int(time.time())
    with StateDB(tmp_path / "state.db") as db:
        (built,) = db.queue([NewCommit("nova", "master", "a" * 40, "d" * 40, 100)])
        db.claim(built.id, "builder-1")
        done = db.finish(built.id, "SUCCESS", dt_build=now - 9 * 86400)
        db.record_promotion(done.repo_hash, "puppet-passed-ci", timestamp=now - 4 * 86400 - 60)
    (tmp_path / "repos").mkdir()
    criteria = tmp_path / "promotion.yml"
    criteria.write_text(
        "promotions:\n  puppet-passed-ci:\n    candidate_label: consistent\n    criteria: [a-job-that-never-voted]\n"
    )
    playbook = TOP / "playbooks" / "promote.yml"
    with mail_server() as server:
        extra = {
            "distroforge_workdir": str(tmp_path),
            "distroforge_promotion_criteria": str(criteria),
            "distroforge_notify_smtp": {
                "host": "127.0.0.1",
                "port": server.port,
                "security": "none",
                "sender": "ci@example.org",
            },
            "distroforge_notify_promotion_recipients": ["release@example.org"],
        }
        run_playbook(playbook, extra)  # distroforge_notify_enabled is off by default
        assert server.inbox == []
        run_playbook(playbook, {**extra, "distroforge_notify_enabled": True})
    (mail,) = server.inbox
    assert mail.rcpt_tos == ["release@example.org"]
    assert "puppet-passed-ci has not moved for 4 days" in mail.message["Subject"]


@pytest.mark.skipif(
    not shutil.which("bwrap") or not shutil.which("rpmbuild"), reason="needs bubblewrap and rpmbuild (run `make`)"
)
def test_build_playbook_tells_the_maintainer_once_about_a_package_that_fails_to_build(tmp_path):
    upstream = make_upstream(tmp_path)
    planted = commit(
        upstream,
        "Break the build",
        T0 + 5000,
        {"setup.py": "raise SystemExit('planted: this setup.py refuses to build')\n"},
    )
    distgit = make_distgit(tmp_path)
    pkgdb = tmp_path / "rdo.yml"
    pkgdb.write_text(hellodf_pkgdb(upstream, distgit, "hellodf-team@example.org"))
    work = tmp_path / "work"
    smtp = {"host": "127.0.0.1", "security": "none", "sender": "ci@example.org", "timeout": 5}
    extra = {
        "distroforge_pkgdb": str(pkgdb),
        "distroforge_release": "zed",
        "distroforge_workdir": str(work),
        "distroforge_release_tags": False,
        "distroforge_notify_enabled": True,
    }
    playbook = TOP / "playbooks" / "build.yml"

    # The mail server is down when the package first fails: the build run still passes, with one warning line.
    dead = free_port()
    down = run_playbook(playbook, {**extra, "distroforge_notify_smtp": {**smtp, "port": dead}}, timeout=600)
    with StateDB(work / "state.db") as db:
        assert [(item.project, item.first_failed.commit_hash) for item in db.ftbfs()] == [("hellodf", planted)]
    warnings = [line for line in (down.stdout + down.stderr).splitlines() if "[WARNING]" in line]
    (warning,) = [line for line in warnings if f"smtp 127.0.0.1:{dead}" in line]
    assert warning.endswith(
        f"smtp 127.0.0.1:{dead}: cannot send (Connection refused): check that the server is up and reachable;"
        " 1 message not sent, tried again next run"
    ), warnings

    with mail_server() as server:
        up = {**extra, "distroforge_notify_smtp": {**smtp, "port": server.port}}
        run_playbook(playbook, up, timeout=600)  # the next run sends it
        (mail,) = server.inbox
        run_playbook(playbook, up, timeout=600)  # and never again
        assert server.inbox == [mail]
    assert mail.rcpt_tos == ["hellodf-team@example.org"]
    assert mail.message["Subject"].endswith(f"FTBFS: hellodf (zed) fails to build at {planted[:7]}")
    body = " ".join(mail.body.split())
    assert f"{planted} (Break the build)" in body and "python3 setup.py sdist (no network) failed (rc 1)" in body
    assert f"/results/hellodf/{planted}_" in body  # the log
    assert "No earlier build of the package in this release succeeded." in mail.body
