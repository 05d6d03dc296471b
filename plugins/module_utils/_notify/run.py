"""One notification run: send each event not sent yet, within the throttle, and record it.

Delivery is **at most once**.  Before a message goes out its (event,
channel) row is written as ``SENDING`` (a short write transaction: the DB's
writer lock is never held while a server is talked to); after the server
took it, the row becomes ``SENT``; when the server refused it or could not
be reached, the row is removed and the next run tries again.  A run killed
between sending and recording leaves ``SENDING``: the next runs do not send
that message again - the receiver may have it - and report it as
``uncertain``; ``resend_uncertain`` sends such messages once more, which
makes that case at least once.  The same Message-ID (mail) and
``Idempotency-Key`` (webhook) go with every copy of an event, so a receiver
can drop a copy.

Throttling counts events (one event is at most one mail and one POST):
``max_per_run`` per run, ``max_per_interval`` per ``interval`` seconds
(counted from the sent record, so several runs share it).  What is over
the limit waits for the next run, oldest events first.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from .._common.errors import InputError
from .._statedb.db import StateDB
from .._statedb.schema import NOTIFICATION_SENDING, NOTIFICATION_SENT
from .deliver import Channel, DeliveryError
from .events import KINDS, STALE_PROMOTION, Event, collect
from .message import Message, Redactor, render

# The state of one (event, channel) after a run, as the module reports it.
SENT = "sent"
WOULD_SEND = "would_send"
FAILED = "failed"
DEFERRED = "deferred"
UNCERTAIN = "uncertain"
ALREADY_SENT = "already_sent"
NO_RECIPIENTS = "no_recipients"
OUTCOMES = (SENT, WOULD_SEND, FAILED, DEFERRED, UNCERTAIN, ALREADY_SENT, NO_RECIPIENTS)


@dataclasses.dataclass(frozen=True)
class Throttle:
    """At most ``max_per_run`` events per run and ``max_per_interval`` per ``interval`` seconds (None: no limit)."""

    max_per_run: Optional[int] = 20
    max_per_interval: Optional[int] = None
    interval: int = 3600

    def __post_init__(self) -> None:
        for name in ("max_per_run", "max_per_interval"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise InputError(f"{name} must be 0 or more messages, got {value}")
        if self.interval < 1:
            raise InputError(f"interval must be 1 or more seconds, got {self.interval}")

    def budget(self, db: Optional[StateDB], now: int) -> Optional[int]:
        """How many events this run may send (None: any number)."""
        limits = [self.max_per_run] if self.max_per_run is not None else []
        if self.max_per_interval is not None:
            recent = db.notified_events_since(now - self.interval) if db is not None else 0
            limits.append(max(0, self.max_per_interval - recent))
        return min(limits) if limits else None


@dataclasses.dataclass(frozen=True)
class Recipients:
    """Who is told: a package's maintainers (by rdoinfo ``project`` or ``name``), or those told about promotions."""

    maintainers: Mapping[str, Sequence[str]]
    promotion: Sequence[str] = ()

    def __call__(self, event: Event) -> List[str]:
        """The addresses ``event`` goes to, each once, in order."""
        found = self.promotion if event.kind == STALE_PROMOTION else self.maintainers.get(event.project or "", ())
        return list(dict.fromkeys(found))


@dataclasses.dataclass
class Report:
    """What a run did, per (event, channel), and the warnings worth one line each."""

    messages: List[Dict[str, Any]] = dataclasses.field(default_factory=list)
    warnings: List[str] = dataclasses.field(default_factory=list)

    def add(self, outcome: str, message: Message, channel: str, recipients: Sequence[str], **extra: Any) -> None:
        """Record what happened to ``message`` on ``channel``."""
        self.messages.append(
            {
                "event_id": message.event.id,
                "kind": message.event.kind,
                "channel": channel,
                "outcome": outcome,
                "subject": message.subject,
                "recipients": list(recipients),
                **extra,
            }
        )

    def count(self, outcome: str) -> int:
        """How many (event, channel) pairs ended in ``outcome``."""
        return sum(1 for message in self.messages if message["outcome"] == outcome)

    @property
    def counts(self) -> Dict[str, int]:
        """Every outcome's count (zero included)."""
        return {outcome: self.count(outcome) for outcome in OUTCOMES}

    @property
    def changed(self) -> bool:
        """Whether anything was sent (would be, in check mode)."""
        return bool(self.count(SENT) or self.count(WOULD_SEND))


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' if count != 1 else ''}"


def run(
    db: Optional[StateDB],
    messages: Sequence[Message],
    channels: Sequence[Channel],
    recipients: Callable[[Event], List[str]],
    *,
    now: int,
    throttle: Throttle = Throttle(),
    check_mode: bool = False,
    resend_uncertain: bool = False,
) -> Report:
    """Send ``messages`` (oldest event first) on every channel that has not sent them yet.

    ``db`` None (check mode before the first poll) knows no sent message.
    In check mode nothing is sent and nothing is recorded: the report says
    what would go out.
    """
    report = Report()
    if not channels:
        return report
    known: Dict[Tuple[str, str], str] = {}
    if db is not None and messages:
        for record in db.notifications([message.event.id for message in messages]):
            known[(record.event_id, record.channel)] = record.state
    budget = throttle.budget(db, now)
    deferred = 0
    for message in messages:
        addresses = recipients(message.source or message.event)
        todo = _channels_to_send(message, channels, addresses, known, report, resend_uncertain=resend_uncertain)
        if not todo:
            continue
        if budget is not None and budget <= 0:
            deferred += 1
            for channel in todo:
                report.add(DEFERRED, message, channel.name, addresses)
            continue
        if budget is not None:
            budget -= 1
        for channel in todo:
            if check_mode:
                report.add(WOULD_SEND, message, channel.name, addresses)
            else:
                retake = (message.event.id, channel.name) in known
                _send(db, channel, message, addresses, now=now, report=report, retake=retake)
    _warn(report, channels, throttle, deferred)
    return report


def _channels_to_send(
    message: Message,
    channels: Sequence[Channel],
    addresses: List[str],
    known: Mapping[Tuple[str, str], str],
    report: Report,
    *,
    resend_uncertain: bool,
) -> List[Channel]:
    """The channels ``message`` still has to go out on; the others are reported with why not."""
    event = message.event
    todo = []
    for channel in channels:
        state = known.get((event.id, channel.name))
        if state == NOTIFICATION_SENT:
            report.add(ALREADY_SENT, message, channel.name, addresses)
        elif state == NOTIFICATION_SENDING and not resend_uncertain:
            report.add(UNCERTAIN, message, channel.name, addresses)
        elif channel.needs_recipients() and not addresses:
            report.add(NO_RECIPIENTS, message, channel.name, addresses)
            who = "promotion_recipients" if event.kind == STALE_PROMOTION else f"maintainers of {event.project}"
            report.warnings.append(f"{event.id}: no {channel.name} recipient: give the {who}")
        else:
            todo.append(channel)
    return todo


def _warn(report: Report, channels: Sequence[Channel], throttle: Throttle, deferred: int) -> None:
    """One line per thing worth a warning: throttling, uncertain messages, each channel that failed."""
    if deferred:
        limits = ", ".join(
            f"{name} {value}"
            for name, value in (("max_per_run", throttle.max_per_run), ("max_per_interval", throttle.max_per_interval))
            if value is not None
        )
        report.warnings.append(f"throttled ({limits}): {_plural(deferred, 'event')} left for the next run")
    uncertain = [f"{item['event_id']} ({item['channel']})" for item in report.messages if item["outcome"] == UNCERTAIN]
    if uncertain:
        shown = ", ".join(uncertain[:3]) + (f" and {len(uncertain) - 3} more" if len(uncertain) > 3 else "")
        report.warnings.append(
            f"{shown}: a run stopped between sending and recording, so the message may have gone out;"
            " not sent again (resend_uncertain: true sends it once more)"
        )
    for channel in channels:
        failed = sum(1 for item in report.messages if item["channel"] == channel.name and item["outcome"] == FAILED)
        if channel.broken is not None:
            report.warnings.append(f"{channel.broken}; {_plural(failed, 'message')} not sent, tried again next run")
        report.warnings.extend(channel.notes)


def _send(
    db: Optional[StateDB],
    channel: Channel,
    message: Message,
    addresses: List[str],
    *,
    now: int,
    report: Report,
    retake: bool,
) -> None:
    """Claim, send, confirm (or give the claim back): see the module docstring."""
    event = message.event
    if channel.broken is not None:
        report.add(FAILED, message, channel.name, addresses, error=channel.broken)
        return
    if db is None:
        raise InputError("db: there is no state DB to record notifications in; poll first")
    if not db.claim_notification(
        event.id, channel.name, kind=event.kind, subject=message.subject, recipients=addresses, now=now, retake=retake
    ):
        # Another run claimed it between our read and now: it is that run's to send.
        report.add(ALREADY_SENT, message, channel.name, addresses)
        return
    try:
        channel.send(message, addresses, now)
    except DeliveryError as exc:
        db.release_notification(event.id, channel.name)
        report.add(FAILED, message, channel.name, addresses, error=str(exc))
        return
    db.confirm_notification(event.id, channel.name, now=now)
    report.add(SENT, message, channel.name, addresses)


def notify(
    db: Optional[StateDB],
    channels: Sequence[Channel],
    recipients: Callable[[Event], List[str]],
    redact: Redactor,
    *,
    now: int,
    kinds: Sequence[str] = KINDS,
    max_age_days: int = 7,
    stale_days: int = 3,
    release: Optional[str] = None,
    labels: Optional[Sequence[str]] = None,
    log_baseurl: Optional[str] = None,
    throttle: Throttle = Throttle(),
    check_mode: bool = False,
    resend_uncertain: bool = False,
) -> Tuple[List[Message], Report]:
    """Collect the events the DB holds, write their messages and send what was not sent: one run.

    Returns every event's message (sent now, earlier, or not) and the run's report.
    """
    found: List[Event] = []
    if db is not None:
        found = collect(
            db, now, kinds=kinds, max_age_days=max_age_days, stale_days=stale_days, release=release, labels=labels
        )
    messages = [render(event, redact=redact, log_baseurl=log_baseurl) for event in found]
    try:
        report = run(
            db,
            messages,
            channels,
            recipients,
            now=now,
            throttle=throttle,
            check_mode=check_mode,
            resend_uncertain=resend_uncertain,
        )
    finally:
        for channel in channels:
            channel.close()
    return messages, report
