#!/usr/bin/python
# Copyright: distroforge developers
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: build_notify
short_description: Tell maintainers about a new FTBFS, its fix and a stalled promotion, by mail and webhook
version_added: 0.1.0
description:
  - Reads the state DB for what changed and sends one message per event, not
    sent before, to the package's maintainers through an SMTP server
    (O(smtp)) and/or as a JSON POST to a webhook (O(webhook)).
  - "Events: C(ftbfs), a package's build that FAILED after a good one (or its
    first build), with the commit, the telling log line and a link to the
    log; C(fixed), the first successful build after failed ones;
    C(stale_promotion), a label whose newest promotion is O(stale_days) old
    (sent to O(promotion_recipients))."
  - Each (event, channel) is recorded in the state DB when sent, so a message
    is never sent twice. Delivery is at most once - a run killed between
    sending and recording does not send that message again (see
    O(resend_uncertain) and docs/notifications.md).
  - An SMTP server that cannot be reached, a webhook that times out or
    answers an error, is one warning line; the message is sent by a later
    run and the task does not fail unless O(fail_on_error=true).
  - Secrets never reach a message - the SMTP password, the webhook's token
    and headers, and whatever O(secret_patterns) finds are masked with
    C(***) in the subject, the body and the webhook's JSON.
author:
  - distroforge developers (@distroforge)
options:
  events:
    description: Which events to send.
    type: list
    elements: str
    choices: [ftbfs, fixed, stale_promotion]
    default: [ftbfs, fixed, stale_promotion]
  release:
    description: Only builds of this release (default every release).
    type: str
  packages:
    description:
      - The packages, as M(distroforge.openstack.pkgdb_info) returns them
        (C(project), C(name), C(maintainers)); a build event goes to its
        package's C(maintainers).
      - A package missing here is looked up in the state DB's projects.
    type: list
    elements: dict
    default: []
  promotion_recipients:
    description: Addresses a C(stale_promotion) event is mailed to.
    type: list
    elements: str
    default: []
  labels:
    description: Labels watched for C(stale_promotion) (default every label ever promoted).
    type: list
    elements: str
  stale_days:
    description: A label whose newest promotion is this many days old or older is stalled.
    type: int
    default: 3
  max_age_days:
    description:
      - Builds finished longer ago than this are not told about (a first run
        on a DB with a long history tells only the last days).
    type: int
    default: 7
  log_baseurl:
    description:
      - URL of the published C(repos/) directory; a build's log link is then
        C(<log_baseurl>/<repo_path>/build.log). Without it the link is the
        log's path as recorded on the repo server.
    type: str
  secret_patterns:
    description:
      - Secret patterns masked in every message, in the shape of
        C(roles/logs_collect/vars/secret_patterns.yml) (the playbooks pass
        that file).
    type: list
    elements: dict
    default: []
  smtp:
    description: Send each message as an e-mail through this SMTP server.
    type: dict
    suboptions:
      host:
        description: Host name or address of the SMTP server.
        type: str
        required: true
      port:
        description: Its port; 0 means 25, 587 or 465 by O(smtp.security).
        type: int
        default: 0
      security:
        description: C(starttls) upgrades a plain connection, C(ssl) is TLS from the start, C(none) is neither.
        type: str
        choices: [none, starttls, ssl]
        default: starttls
      username:
        description: User to log in as (with O(smtp.password)); no login without it.
        type: str
      password:
        description: Password to log in with; never logged nor put in a message.
        type: str
      sender:
        description: The From address.
        type: str
        required: true
      cc:
        description: Addresses copied on every message.
        type: list
        elements: str
        default: []
      timeout:
        description: Seconds to wait for the server at each step.
        type: float
        default: 30.0
      ca_file:
        description: CA certificates to verify the server's with (default the system's).
        type: path
  webhook:
    description: POST each message as JSON to this URL.
    type: dict
    suboptions:
      url:
        description: The http:// or https:// URL.
        type: str
        required: true
      timeout:
        description: Seconds to wait for its answer; longer is a failure, tried again next run.
        type: float
        default: 10.0
      token:
        description: "Sent as C(Authorization: Bearer <token>); never logged nor put in a message."
        type: str
      headers:
        description: More request headers; their values are treated as secrets.
        type: dict
        default: {}
      ca_file:
        description: CA certificates to verify an https server with (default the system's).
        type: path
  max_per_run:
    description: At most this many events are sent by one run; the rest wait for the next.
    type: int
    default: 20
  max_per_interval:
    description: At most this many events per O(interval) seconds, over every run (default no limit).
    type: int
  interval:
    description: The window of O(max_per_interval), in seconds.
    type: int
    default: 3600
  resend_uncertain:
    description:
      - Send again the messages a killed run may or may not have sent
        (claimed but not recorded as sent), making that case at least once instead of at most once.
    type: bool
    default: false
  fail_on_error:
    description: Fail the task when a message could not be sent (default a warning, and the play goes on).
    type: bool
    default: false
extends_documentation_fragment:
  - distroforge.openstack.state_db
attributes:
  check_mode:
    support: full
    description: Reports what would be sent; sends nothing and records nothing.
  diff_mode:
    support: none
    description: Messages are not files; the result lists them.
notes:
  - Run it on the repo server after the builds are recorded (C(playbooks/build.yml)
    with C(distroforge_notify_enabled=true)) and after promotions (C(playbooks/promote.yml)).
seealso:
  - module: distroforge.openstack.build_status
  - module: distroforge.openstack.pkgdb_info
"""

EXAMPLES = r"""
- name: Tell maintainers about new failures to build and their fixes
  distroforge.openstack.build_notify:
    db: /var/lib/distroforge/state.db
    events: [ftbfs, fixed]
    packages: "{{ packages.packages }}"
    log_baseurl: https://trunk.example.org/master/repos
    smtp:
      host: smtp.example.org
      sender: distroforge@example.org
      username: distroforge
      password: "{{ vault_smtp_password }}"

- name: Post stalled promotions to a chat webhook
  distroforge.openstack.build_notify:
    db: /var/lib/distroforge/state.db
    events: [stale_promotion]
    stale_days: 2
    webhook:
      url: https://chat.example.org/hooks/distroforge
      token: "{{ vault_webhook_token }}"
"""

RETURN = r"""
events:
  description: Every event the state DB holds now (sent now, earlier, or not), oldest first.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: The event's id, as the sent record keys it.
      type: str
      sample: ftbfs/master/keystone/3a5c1b2e9d0f4e6a8b7c5d3e1f0a9b8c7d6e5f4a_0f1e2d3c
    kind:
      description: C(ftbfs), C(fixed) or C(stale_promotion).
      type: str
    subject:
      description: The message's subject.
      type: str
messages:
  description: What happened to each event on each channel this run.
  returned: always
  type: list
  elements: dict
  contains:
    event_id:
      description: The event.
      type: str
    channel:
      description: C(email) or C(webhook).
      type: str
    outcome:
      description:
        - C(sent); C(would_send) (check mode); C(failed) (tried again next run);
          C(deferred) (throttled, next run); C(already_sent); C(uncertain) (a
          killed run may have sent it); C(no_recipients).
      type: str
    recipients:
      description: The addresses.
      type: list
      elements: str
    subject:
      description: The message's subject.
      type: str
    error:
      description: Why it failed (one line).
      type: str
      returned: when failed
counts:
  description: The number of messages per outcome (every outcome present).
  returned: always
  type: dict
  sample: {sent: 2, would_send: 0, failed: 0, deferred: 0, uncertain: 0, already_sent: 5, no_recipients: 0}
"""

import time

from ansible_collections.distroforge.openstack.plugins.module_utils._common.module import DistroforgeModule
from ansible_collections.distroforge.openstack.plugins.module_utils._logs.sanitize import compile_patterns
from ansible_collections.distroforge.openstack.plugins.module_utils._notify.deliver import (
    SECURITIES,
    SMTPChannel,
    SMTPSettings,
    WebhookChannel,
    WebhookSettings,
)
from ansible_collections.distroforge.openstack.plugins.module_utils._notify.events import KINDS
from ansible_collections.distroforge.openstack.plugins.module_utils._notify.message import Redactor
from ansible_collections.distroforge.openstack.plugins.module_utils._notify.run import (
    FAILED,
    Recipients,
    Throttle,
    notify,
)


def _maintainers(packages: list, db) -> dict:
    found = {}
    if db is not None:
        found = {record.project: list(record.maintainers) for record in db.projects()}
    for package in packages:
        people = list(package.get("maintainers") or [])
        for key in ("project", "name"):
            if package.get(key):
                found[str(package[key])] = people
    return found


def _work(module: DistroforgeModule) -> dict:
    params = module.params
    smtp, webhook = params["smtp"], params["webhook"]
    secrets = []
    if smtp and smtp.get("password"):
        secrets.append(smtp["password"])
    webhook_settings = None
    if webhook:
        webhook_settings = WebhookSettings(
            url=webhook["url"],
            timeout=webhook["timeout"],
            token=webhook.get("token"),
            headers={str(k): str(v) for k, v in (webhook.get("headers") or {}).items()},
            ca_file=webhook.get("ca_file"),
        )
        secrets += webhook_settings.secrets()
    module.no_log_values.update(secrets)
    redact = Redactor(compile_patterns(params["secret_patterns"], "secret_patterns"), secrets)
    channels = []
    if smtp:
        settings = SMTPSettings(
            host=smtp["host"],
            sender=smtp["sender"],
            port=smtp["port"],
            security=smtp["security"],
            username=smtp.get("username"),
            password=smtp.get("password"),
            timeout=smtp["timeout"],
            ca_file=smtp.get("ca_file"),
            cc=tuple(smtp.get("cc") or ()),
        )
        channels.append(SMTPChannel(settings, redact))
    if webhook_settings is not None:
        channels.append(WebhookChannel(webhook_settings, redact))
    throttle = Throttle(params["max_per_run"], params["max_per_interval"], params["interval"])
    with module.state_db() as db:
        recipients = Recipients(_maintainers(params["packages"], db), tuple(params["promotion_recipients"]))
        messages, report = notify(
            db,
            channels,
            recipients,
            redact,
            now=int(time.time()),
            kinds=params["events"],
            max_age_days=params["max_age_days"],
            stale_days=params["stale_days"],
            release=params["release"],
            labels=params["labels"],
            log_baseurl=params["log_baseurl"],
            throttle=throttle,
            check_mode=module.check_mode,
            resend_uncertain=params["resend_uncertain"],
        )
    for line in report.warnings:
        module.warn(line)
    result = {
        "changed": report.changed,
        "events": [{**message.event.as_dict(), "subject": message.subject} for message in messages],
        "messages": report.messages,
        "counts": report.counts,
    }
    if params["fail_on_error"] and report.count(FAILED):
        failed = next(item for item in report.messages if item["outcome"] == FAILED)
        module.fail_json(msg=f"{report.count(FAILED)} message(s) not sent: {failed['error']}", **result)
    return result


def main() -> None:
    module = DistroforgeModule(
        argument_spec={
            "events": {"type": "list", "elements": "str", "choices": list(KINDS), "default": list(KINDS)},
            "release": {"type": "str"},
            "packages": {"type": "list", "elements": "dict", "default": []},
            "promotion_recipients": {"type": "list", "elements": "str", "default": []},
            "labels": {"type": "list", "elements": "str"},
            "stale_days": {"type": "int", "default": 3},
            "max_age_days": {"type": "int", "default": 7},
            "log_baseurl": {"type": "str"},
            # Patterns that find secrets, not secrets.
            "secret_patterns": {"type": "list", "elements": "dict", "default": [], "no_log": False},
            "smtp": {
                "type": "dict",
                "options": {
                    "host": {"type": "str", "required": True},
                    "port": {"type": "int", "default": 0},
                    "security": {"type": "str", "choices": list(SECURITIES), "default": "starttls"},
                    "username": {"type": "str"},
                    "password": {"type": "str", "no_log": True},
                    "sender": {"type": "str", "required": True},
                    "cc": {"type": "list", "elements": "str", "default": []},
                    "timeout": {"type": "float", "default": 30.0},
                    "ca_file": {"type": "path"},
                },
            },
            "webhook": {
                "type": "dict",
                "options": {
                    "url": {"type": "str", "required": True},
                    "timeout": {"type": "float", "default": 10.0},
                    "token": {"type": "str", "no_log": True},
                    "headers": {"type": "dict", "default": {}, "no_log": True},
                    "ca_file": {"type": "path"},
                },
            },
            "max_per_run": {"type": "int", "default": 20},
            "max_per_interval": {"type": "int"},
            "interval": {"type": "int", "default": 3600},
            "resend_uncertain": {"type": "bool", "default": False},
            "fail_on_error": {"type": "bool", "default": False},
        },
        required_one_of=[("smtp", "webhook")],
        state_db=True,
        supports_check_mode=True,
    )
    module.run(_work)


if __name__ == "__main__":
    main()
