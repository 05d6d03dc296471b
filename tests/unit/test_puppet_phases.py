"""Puppet runs judged as pipeline phases: summary parsing, log parsing, the apply-twice rule."""

from pathlib import Path

import pytest

from ansible_collections.distroforge.openstack.plugins.module_utils._deploy.puppet import (
    DETAILS_LIMIT,
    FAILED,
    PASSED,
    PuppetRun,
    make_phase,
    parse_last_run_summary,
    parse_log,
)

SUMMARY_CLEAN = """---
version:
  config: 1795678561
  puppet: 7.23.0
application:
  run_mode: user
  initial_environment: production
resources:
  changed: 0
  corrective_change: 0
  failed: 0
  failed_to_restart: 0
  out_of_sync: 0
  total: 419
time:
  catalog_application: 45.95337149600027
  total: 45.969536855
  last_run: 1795678609
changes:
  total: 0
events:
  failure: 0
  success: 0
  total: 0
"""

FIRST_LOG = (Path(__file__).parent / "fixtures" / "puppet" / "first_apply.log").read_text()


def _summary(changed=0, failed=0, failure_events=0):
    return parse_last_run_summary(
        SUMMARY_CLEAN.replace("  changed: 0", f"  changed: {changed}")
        .replace("  failed: 0", f"  failed: {failed}")
        .replace("  failure: 0", f"  failure: {failure_events}")
    )


def test_summary_sections_and_types():
    summary = parse_last_run_summary(SUMMARY_CLEAN)
    assert summary["resources"]["total"] == 419
    assert summary["resources"]["changed"] == 0
    assert summary["version"]["puppet"] == "7.23.0"
    assert summary["time"]["total"] == pytest.approx(45.97, abs=0.01)
    assert summary["events"] == {"failure": 0, "success": 0, "total": 0}


def test_summary_empty_or_odd_text_gives_no_sections():
    assert parse_last_run_summary("") == {}
    assert parse_last_run_summary("--- false\n") == {}
    assert parse_last_run_summary("resources: 3\n  changed: 1\n") == {}


def test_log_lists_changed_resources_once_in_order_and_skips_refreshes():
    changed, errors = parse_log(FIRST_LOG)
    assert changed == [
        "File[/etc/mysql]",
        "File[mysql-config-file]",
        "Keystone_config[DEFAULT/public_endpoint]",
        "File[/etc/openstack/puppet/admin-clouds.yaml]",
        "Keystone_user[admin]",
        "Keystone_user_role[demo@demo]",
    ]
    assert errors == []


def test_log_reads_console_output_and_errors():
    text = (
        "\x1b[mNotice: /Stage[main]/Keystone/Package[keystone]/ensure: created\x1b[0m\n"
        "Warning: Unknown variable: '::os_workers'\n"
        "\x1b[1;31mError: /Stage[main]/Apache::Service/Service[httpd]: Failed to call refresh\x1b[0m\n"
        "Error: Could not find class ::nope for node\n"
    )
    changed, errors = parse_log(text)
    assert changed == ["Package[keystone]"]
    assert errors == [
        "/Stage[main]/Apache::Service/Service[httpd]: Failed to call refresh",
        "Could not find class ::nope for node",
    ]


def test_log_file_error_lines():
    source = "/Stage[main]/Keystone/Exec[keystone-manage db_sync]/returns"
    text = f"2026-11-26 07:40:00 +0000 {source} (err): change from 'notrun' to ['0'] failed\n"
    assert parse_log(text)[1] == [f"{source}: change from 'notrun' to ['0'] failed"]


def test_first_run_with_changes_passes():
    phase = make_phase("deploy", PuppetRun(2, 205.04, _summary(changed=6), FIRST_LOG), expect_no_changes=False)
    assert phase.status == PASSED
    assert phase.changed_resources == 6
    assert phase.duration == 205.0
    assert "Keystone_user[admin]" in phase.details.splitlines()
    assert phase.message == "puppet apply exited 2: 6 resources changed"


def test_second_run_without_changes_passes():
    phase = make_phase("idempotency", PuppetRun(0, 27.3, _summary(), ""), expect_no_changes=True)
    assert (phase.status, phase.changed_resources, phase.details) == (PASSED, 0, "")


def test_second_run_with_changes_fails_and_names_them():
    log = (
        "2026-11-26 08:00:00 +0000 /Stage[main]/Keystone::Bootstrap/Keystone_user[admin]/password (notice): "
        "changed [redacted] to [redacted]\n"
    )
    phase = make_phase("idempotency", PuppetRun(2, 30.0, _summary(changed=1), log), expect_no_changes=True)
    assert phase.status == FAILED
    assert phase.details == "Keystone_user[admin]"
    assert "must change nothing" in phase.message


def test_rc_two_alone_fails_idempotency_even_when_counts_say_nothing():
    phase = make_phase("idempotency", PuppetRun(2, 30.0, _summary(), ""), expect_no_changes=True)
    assert phase.status == FAILED


@pytest.mark.parametrize("rc", [1, 4, 6, 124])
def test_failure_codes_fail_with_first_error(rc):
    log = "Error: Could not find class ::nope for node df-deploy-1\n"
    phase = make_phase("deploy", PuppetRun(rc, 3.0, {}, log), expect_no_changes=False)
    assert phase.status == FAILED
    assert f"exited {rc}" in phase.message
    assert "Could not find class ::nope" in phase.message
    assert "no last_run_summary.yaml" in phase.message


def test_failed_resources_fail_even_with_a_success_code():
    phase = make_phase("deploy", PuppetRun(2, 3.0, _summary(changed=2, failed=1), FIRST_LOG), expect_no_changes=False)
    assert phase.status == FAILED
    assert "1 failed resources" in phase.message


def test_details_are_bounded():
    log = "".join(
        f"2026-11-26 08:00:00 +0000 /Stage[main]/X/File[/tmp/f{n}]/ensure (notice): created\n"
        for n in range(DETAILS_LIMIT + 5)
    )
    phase = make_phase("deploy", PuppetRun(2, 1.0, _summary(changed=DETAILS_LIMIT + 5), log), expect_no_changes=False)
    lines = phase.details.splitlines()
    assert len(lines) == DETAILS_LIMIT + 1
    assert lines[-1] == "... and 5 more resources"
    assert phase.as_dict()["changed_resources"] == DETAILS_LIMIT + 5
