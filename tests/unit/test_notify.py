"""Notifications end to end against real servers on loopback: aiosmtpd for mail, http.server for the webhook.

Each test builds a state DB with a package's build history, runs the
notifier as the module does (collect, render, send, record) and reads what
the servers received: who got which mail, what it says, that no secret is
in it, that nothing is sent twice, that throttling and failures leave the
rest for the next run.
"""

from __future__ import annotations

import dataclasses
import ssl
from pathlib import Path

import pytest
import yaml

from ansible_collections.distroforge.openstack.plugins.module_utils._logs.sanitize import compile_patterns
from ansible_collections.distroforge.openstack.plugins.module_utils._notify.deliver import (
    SMTPChannel,
    SMTPSettings,
    WebhookChannel,
    WebhookSettings,
)
from ansible_collections.distroforge.openstack.plugins.module_utils._notify.message import Redactor
from ansible_collections.distroforge.openstack.plugins.module_utils._notify.run import Recipients, Throttle, notify
from ansible_collections.distroforge.openstack.plugins.module_utils._statedb.db import NewCommit, StateDB

from .ansible_run import TOP
from .notify_servers import free_port, mail_server, self_signed, webhook_server

DAY = 86400
NOW = 1_800_000_000
MAINTAINERS = {"nova": ["alice@example.org", "bob@example.org"], "glance": ["carol@example.org"]}
SMTP_PASSWORD = "pw-Xq7!smtp-secret"
WEBHOOK_TOKEN = "tok-9f8e7d6c5b4a-webhook"
# A telling log line that carries secrets, as a failed build's notes may.
LOG_LINE = (
    "error: cannot fetch https://ci:s3cr3t-in-url@mirror.example.org/pkg.tar.gz"
    " (ran: curl --password very-secret-password)"
)
SECRETS = [SMTP_PASSWORD, WEBHOOK_TOKEN, "s3cr3t-in-url", "very-secret-password"]
PATTERNS = compile_patterns(
    yaml.safe_load((TOP / "roles" / "logs_collect" / "vars" / "secret_patterns.yml").read_text())[
        "__logs_collect_secret_patterns"
    ]
)


def build(db: StateDB, project: str, seq: int, status: str, *, notes: str | None = None, when: int | None = None):
    """Queue, claim and finish commit ``seq`` of ``project`` in master, built ``when`` (default an hour ago)."""
    (record,) = db.queue(
        [
            NewCommit(
                project,
                "master",
                f"{project}-{seq:03d}".encode().hex().ljust(40, "0")[:40],
                "d" * 40,
                NOW - 30 * DAY + seq * 100,
                subject=f"change {seq} of {project}",
                author="Dev <dev@example.org>",
            )
        ]
    )
    db.claim(record.id, "builder-1")
    finished_at = when if when is not None else NOW - 3600 + seq
    return db.finish(
        record.id, status, notes=notes, log_url=f"/srv/results/{record.id}/build.log", dt_build=finished_at
    )


def run_once(db, *, smtp=None, webhook=None, now=NOW, **options):
    """One notifier run, as the module makes it."""
    redact = Redactor(PATTERNS, [SMTP_PASSWORD, WEBHOOK_TOKEN])
    channels = []
    if smtp is not None:
        channels.append(SMTPChannel(smtp, redact))
    if webhook is not None:
        channels.append(WebhookChannel(webhook, redact))
    recipients = Recipients(MAINTAINERS, options.pop("promotion_recipients", ("release@example.org",)))
    options.setdefault("log_baseurl", "https://trunk.example.org/master/repos")
    _messages, report = notify(db, channels, recipients, redact, now=now, **options)
    return report


def plain_smtp(port: int, **kwargs) -> SMTPSettings:
    return SMTPSettings(host="127.0.0.1", port=port, security="none", sender="ci@example.org", timeout=5, **kwargs)


def outcomes(report) -> list[tuple[str, str, str]]:
    return [(m["event_id"].split("/")[0], m["channel"], m["outcome"]) for m in report.messages]


@pytest.fixture
def db(tmp_path):
    with StateDB(tmp_path / "state.db") as opened:
        yield opened


def test_a_new_ftbfs_mails_the_maintainers_the_log_line_and_the_link_and_no_secret(db, tmp_path):
    build(db, "nova", 1, "SUCCESS")
    failed = build(db, "nova", 2, "FAILED", notes=LOG_LINE)
    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    with mail_server(tls_context=context, credentials=("ci", SMTP_PASSWORD)) as server:
        settings = SMTPSettings(
            host="127.0.0.1",
            port=server.port,
            security="starttls",
            sender="ci@example.org",
            username="ci",
            password=SMTP_PASSWORD,
            ca_file=str(cert),
            timeout=5,
        )
        report = run_once(db, smtp=settings)
    assert outcomes(report) == [("ftbfs", "email", "sent")], report.warnings
    (mail,) = server.inbox
    assert server.logins == [("ci", SMTP_PASSWORD)]  # it logged in, over STARTTLS (the server requires it)
    assert sorted(mail.rcpt_tos) == MAINTAINERS["nova"]
    assert mail.message["To"] == "alice@example.org, bob@example.org"
    assert "FTBFS" in mail.message["Subject"] and "nova" in mail.message["Subject"]
    body = mail.body
    assert "error: cannot fetch https://ci:***@mirror.example.org/pkg.tar.gz" in body
    assert f"https://trunk.example.org/master/repos/{failed.repo_path}/build.log" in body
    assert failed.commit_hash in body and "change 2 of nova" in body
    raw = mail.raw.decode()
    for secret in SECRETS:
        assert secret not in raw and secret not in body and secret not in mail.message["Subject"]
    assert mail.message["Message-ID"] and mail.message["X-Distroforge-Event"].strip() == report.messages[0]["event_id"]


def test_the_fix_is_mailed_once_after_the_failures_and_a_second_run_sends_nothing(db):
    build(db, "nova", 1, "SUCCESS")
    build(db, "nova", 2, "FAILED", notes="error: first")
    build(db, "nova", 3, "FAILED", notes="error: second")
    fixed = build(db, "nova", 4, "SUCCESS")
    build(db, "nova", 5, "SUCCESS")  # still good: no event
    with mail_server() as server:
        first = run_once(db, smtp=plain_smtp(server.port))
        second = run_once(db, smtp=plain_smtp(server.port))
    assert [(kind, outcome) for kind, _channel, outcome in outcomes(first)] == [("ftbfs", "sent"), ("fixed", "sent")]
    assert [outcome for *_rest, outcome in outcomes(second)] == ["already_sent", "already_sent"]
    assert not second.changed and first.changed
    assert len(server.inbox) == 2
    ftbfs, fix = server.inbox
    assert "error: first" in ftbfs.body  # the failure that started it, not the later one
    assert "Fixed" in fix.message["Subject"] and "nova" in fix.message["Subject"]
    assert fixed.commit_hash in fix.body and "2 failed builds" in fix.body


def test_throttling_sends_at_most_m_per_run_and_per_interval_and_the_rest_later(db):
    for project in ("p1", "p2", "p3", "p4", "p5"):
        build(db, project, 1, "FAILED", notes=f"error: {project}")
    maintainers = {f"p{i}": [f"m{i}@example.org"] for i in range(1, 6)}
    MAINTAINERS.update(maintainers)
    try:
        with mail_server() as server:
            smtp = plain_smtp(server.port)
            first = run_once(db, smtp=smtp, throttle=Throttle(max_per_run=2))
            assert [m["outcome"] for m in first.messages].count("sent") == 2
            assert [m["outcome"] for m in first.messages].count("deferred") == 3
            assert any("throttled (max_per_run 2): 3 events left for the next run" in w for w in first.warnings)
            # the interval counts what earlier runs sent: 2 already, so 1 more within the hour
            second = run_once(db, smtp=smtp, now=NOW + 60, throttle=Throttle(max_per_run=2, max_per_interval=3))
            assert [m["outcome"] for m in second.messages].count("sent") == 1
            # an hour later the window has room again
            third = run_once(db, smtp=smtp, now=NOW + 3700, throttle=Throttle(max_per_run=10, max_per_interval=3))
            assert [m["outcome"] for m in third.messages].count("sent") == 2
        assert sorted(to for mail in server.inbox for to in mail.rcpt_tos) == sorted(
            address for people in maintainers.values() for address in people
        )
    finally:
        for project in maintainers:
            MAINTAINERS.pop(project)


def test_an_unreachable_smtp_server_is_a_warning_and_the_mail_goes_out_next_run(db):
    build(db, "nova", 1, "FAILED", notes="error: boom")
    build(db, "glance", 1, "FAILED", notes="error: bang")
    port = free_port()
    down = run_once(db, smtp=plain_smtp(port))
    assert [m["outcome"] for m in down.messages] == ["failed", "failed"]
    (warning,) = down.warnings
    assert warning.startswith(f"smtp 127.0.0.1:{port}: cannot send (Connection refused)") and "\n" not in warning
    assert "2 messages not sent, tried again next run" in warning
    assert db.notifications([m["event_id"] for m in down.messages]) == []  # nothing recorded
    with mail_server(port=port) as server:
        up = run_once(db, smtp=plain_smtp(port))
    assert [m["outcome"] for m in up.messages] == ["sent", "sent"] and up.warnings == []
    assert sorted(mail.message["Subject"].split()[2] for mail in server.inbox) == ["glance", "nova"]


def test_a_webhook_that_fails_or_times_out_is_a_warning_and_is_posted_next_run(db):
    build(db, "nova", 1, "FAILED", notes=LOG_LINE)
    with webhook_server() as hook:
        settings = WebhookSettings(url=hook.url, timeout=10, token=WEBHOOK_TOKEN)
        hook.status = 500
        failing = run_once(db, webhook=settings)
        assert [m["outcome"] for m in failing.messages] == ["failed"]
        assert failing.warnings[0].startswith(f"webhook {hook.url}: answered 500")
        hook.status, hook.delay = 200, 1.5
        slow = run_once(db, webhook=dataclasses.replace(settings, timeout=0.5))
        assert [m["outcome"] for m in slow.messages] == ["failed"]
        assert "no answer within 0.5 s (webhook.timeout)" in slow.warnings[0]
        hook.delay = 0
        good = run_once(db, webhook=settings)
        assert [m["outcome"] for m in good.messages] == ["sent"]
        assert [m["outcome"] for m in run_once(db, webhook=settings).messages] == ["already_sent"]
    (post,) = hook.posts
    document = post.document
    assert document["kind"] == "ftbfs" and document["project"] == "nova" and document["release"] == "master"
    assert "cannot fetch https://ci:***@mirror.example.org" in document["log_line"]
    assert document["recipients"] == MAINTAINERS["nova"]
    assert post.headers["Authorization"] == f"Bearer {WEBHOOK_TOKEN}"
    assert post.headers["Idempotency-Key"] == document["event_id"]
    for secret in SECRETS:
        assert secret not in str(document)


def test_a_run_killed_between_sending_and_recording_does_not_send_again(db, monkeypatch):
    build(db, "nova", 1, "FAILED", notes="error: boom")

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # the run dies after the server took the mail

    with mail_server() as server:
        smtp = plain_smtp(server.port)
        with monkeypatch.context() as patch:
            patch.setattr(StateDB, "confirm_notification", killed)
            with pytest.raises(KeyboardInterrupt):
                run_once(db, smtp=smtp)
        assert len(server.inbox) == 1
        after = run_once(db, smtp=smtp)
        assert [m["outcome"] for m in after.messages] == ["uncertain"] and len(server.inbox) == 1
        assert "may have gone out; not sent again (resend_uncertain: true" in after.warnings[0]
        again = run_once(db, smtp=smtp, resend_uncertain=True)
        assert [m["outcome"] for m in again.messages] == ["sent"]
        assert [m["outcome"] for m in run_once(db, smtp=smtp, resend_uncertain=True).messages] == ["already_sent"]
    first, second = server.inbox
    assert first.message["Message-ID"] == second.message["Message-ID"]  # a receiver can drop the copy


def test_a_stalled_promotion_is_told_once_to_the_promotion_recipients(db):
    good = build(db, "nova", 1, "SUCCESS", when=NOW - 10 * DAY)
    db.record_promotion(good.repo_hash, "current-passed-ci", timestamp=NOW - 5 * DAY - 60)
    db.record_promotion(good.repo_hash, "fresh-label", timestamp=NOW - DAY)
    with mail_server() as server, webhook_server() as hook:
        args = {"smtp": plain_smtp(server.port), "webhook": WebhookSettings(url=hook.url, timeout=5)}
        first = run_once(db, stale_days=3, promotion_recipients=["release@example.org"], **args)
        second = run_once(db, stale_days=3, now=NOW + DAY, **args)
    assert outcomes(first) == [("stale_promotion", "email", "sent"), ("stale_promotion", "webhook", "sent")]
    assert [m["outcome"] for m in second.messages] == ["already_sent", "already_sent"]
    (mail,) = server.inbox
    assert mail.rcpt_tos == ["release@example.org"]
    subject = mail.message["Subject"].strip()
    assert subject == "[distroforge] Promotion stalled: current-passed-ci has not moved for 5 days"
    assert good.repo_hash in mail.body
    (post,) = hook.posts
    assert (post.document["label"], post.document["days"]) == ("current-passed-ci", 5)


def test_check_mode_says_what_would_be_sent_and_sends_and_records_nothing(db):
    build(db, "nova", 1, "FAILED", notes="error: boom")
    with mail_server() as server:
        report = run_once(db, smtp=plain_smtp(server.port), check_mode=True)
        assert [m["outcome"] for m in report.messages] == ["would_send"] and report.changed
        assert server.inbox == []
        assert db.notifications([report.messages[0]["event_id"]]) == []
        assert [m["outcome"] for m in run_once(db, smtp=plain_smtp(server.port)).messages] == ["sent"]


def test_old_failures_and_packages_without_maintainers(db):
    build(db, "nova", 1, "FAILED", notes="error: long ago", when=NOW - 30 * DAY)
    build(db, "orphan", 1, "FAILED", notes="error: nobody")
    with mail_server() as server:
        report = run_once(db, smtp=plain_smtp(server.port), max_age_days=7)
    # nova's failure is older than max_age_days: not news; orphan has nobody to mail
    assert outcomes(report) == [("ftbfs", "email", "no_recipients")]
    assert report.warnings == ["ftbfs/master/orphan/" + report.messages[0]["event_id"].split("/")[-1]
                               + ": no email recipient: give the maintainers of orphan"]  # fmt: skip
    assert server.inbox == []


def test_settings_are_checked_in_one_line():
    with pytest.raises(Exception, match=r"smtp.sender: 'nobody' is not an e-mail address"):
        SMTPSettings(host="127.0.0.1", sender="nobody")
    with pytest.raises(Exception, match=r"smtp.username, smtp.password: give both"):
        SMTPSettings(host="127.0.0.1", sender="a@b.c", username="ci")
    with pytest.raises(Exception, match=r"webhook.url: 'ftp://x' is not an http"):
        WebhookSettings(url="ftp://x")
    with pytest.raises(Exception, match=r"max_per_run must be 0 or more"):
        Throttle(max_per_run=-1)


def test_a_wrong_smtp_password_is_a_warning_without_the_password(db, tmp_path: Path):
    build(db, "nova", 1, "FAILED", notes="error: boom")
    with mail_server(credentials=("ci", "the-right-one")) as server:
        report = run_once(db, smtp=plain_smtp(server.port, username="ci", password=SMTP_PASSWORD))
    assert [m["outcome"] for m in report.messages] == ["failed"]
    assert "login refused (535): check smtp.username and smtp.password" in report.warnings[0]
    assert SMTP_PASSWORD not in " ".join(report.warnings) + str(report.messages)


def test_hostile_names_and_log_lines_stay_one_line_and_reach_only_the_maintainers(db):
    evil = "evil\r\nBcc: mallory@example.org"
    MAINTAINERS[evil] = ["alice@example.org"]
    try:
        build(db, evil, 1, "FAILED", notes="first line\r\n" + "x" * 200_000 + "\npassword = hunter-zz-secret\n")
        with mail_server() as server:
            report = run_once(db, smtp=plain_smtp(server.port))
    finally:
        MAINTAINERS.pop(evil)
    assert [m["outcome"] for m in report.messages] == ["sent"], report.warnings
    (mail,) = server.inbox
    assert mail.rcpt_tos == ["alice@example.org"] and mail.message["Bcc"] is None
    assert "\n" not in mail.message["Subject"].strip() and "evil Bcc: mallory@example.org" in mail.message["Subject"]
    (error,) = [line for line in mail.body.splitlines() if line.startswith("Error:")]
    assert error.startswith("Error:   first line xxx") and error.endswith("[... cut here]") and len(error) < 1100
    assert "hunter-zz-secret" not in mail.raw.decode()


def test_smtps_with_the_servers_ca_and_an_untrusted_certificate_as_a_warning(db, tmp_path):
    build(db, "nova", 1, "FAILED", notes="error: boom")
    cert, key = self_signed(tmp_path)
    (tmp_path / "other").mkdir()
    other_ca, _other_key = self_signed(tmp_path / "other")  # a certificate the server does not have
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    with mail_server(ssl_context=context) as server:
        smtps = SMTPSettings(host="127.0.0.1", port=server.port, security="ssl", sender="ci@example.org", timeout=5)
        untrusted = run_once(db, smtp=dataclasses.replace(smtps, ca_file=str(other_ca)))
        assert [m["outcome"] for m in untrusted.messages] == ["failed"] and server.inbox == []
        assert "CERTIFICATE_VERIFY_FAILED" in untrusted.warnings[0] and "\n" not in untrusted.warnings[0]
        trusted = run_once(db, smtp=dataclasses.replace(smtps, ca_file=str(cert)))
    assert [m["outcome"] for m in trusted.messages] == ["sent"]
    assert len(server.inbox) == 1
