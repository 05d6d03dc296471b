"""An event as a message: subject, plain-text body and the webhook's JSON, every secret masked.

The text of an event comes from builds (a log line, a commit subject, a log
URL) and may hold a password or a token.  :class:`Redactor` masks with the
log sanitiser's patterns (the same data ``logs_collect`` applies on nodes)
and, literally, every secret the notifier itself was given (the SMTP
password, the webhook's token and headers): each field of the event is
masked before it is written out, and the finished subject and body once
more, so no secret reaches a mailbox or a webhook.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from .._logs.sanitize import MASK, SecretPattern, sanitize
from .events import FIXED, FTBFS, STALE_PROMOTION, Event

SUBJECT_PREFIX = "[distroforge]"


class Redactor:
    """Masks secrets: the sanitiser's ``patterns`` and the literal ``secrets`` (longest first)."""

    def __init__(self, patterns: Sequence[SecretPattern] = (), secrets: Iterable[Optional[str]] = ()) -> None:
        self.patterns = list(patterns)
        # Longest first: a secret that contains another is masked whole.
        self.secrets = sorted({secret for secret in secrets if secret}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        """``text`` with every secret replaced by ``***``."""
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        text, _count = sanitize(text, self.patterns)
        return text

    def field(self, text: str) -> str:
        """One field of an event, masked, on one line of at most :data:`FIELD_LIMIT` characters.

        Literal secrets are masked in the whole text; the patterns see its
        first ``4 * FIELD_LIMIT`` characters only - some take time growing
        with the square of a long run of letters (a build's notes may hold
        pages) - and the message shows the first FIELD_LIMIT of those, so a
        secret cut at that bound is never shown.  Masking comes before the
        final cut: a cut through a secret would leave a part no pattern knows.
        """
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        text, _count = sanitize(text[: 4 * FIELD_LIMIT], self.patterns)
        return one_line(text)

    def event(self, event: Event) -> Event:
        """``event`` with every text field masked and made one line (:meth:`field`)."""
        changes = {
            field.name: self.field(value)
            for field in dataclasses.fields(event)
            if field.name not in ("id", "kind") and isinstance(value := getattr(event, field.name), str)
        }
        return event.replace(**changes)


# A log line or a commit subject is a line, not a log: a build's notes may hold pages.
FIELD_LIMIT = 1000
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def one_line(text: str, limit: int = FIELD_LIMIT) -> str:
    """``text`` on one line (control characters and line breaks become spaces), cut to ``limit`` characters."""
    flat = " ".join(_CONTROL.sub(" ", text).split())
    return flat if len(flat) <= limit else flat[: limit - 15] + " [... cut here]"


@dataclasses.dataclass(frozen=True)
class Message:
    """What one event says: the mail's subject and body, and the webhook's payload."""

    event: Event  # masked: what the message shows
    subject: str
    body: str
    # The event as the DB has it (names unmasked): whom to tell is looked up by its package.
    source: Optional[Event] = None

    def payload(self) -> Dict[str, Any]:
        """The webhook's JSON document: the event's facts, its subject and its text."""
        return {"event_id": self.event.id, "subject": self.subject, "text": self.body, **self.event.as_dict()}


def when(stamp: Optional[int]) -> str:
    """Epoch seconds as an ISO 8601 UTC time (``unknown`` without one)."""
    if stamp is None:
        return "unknown"
    return datetime.datetime.fromtimestamp(stamp, tz=datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def log_link(event: Event, log_baseurl: Optional[str]) -> Optional[str]:
    """Where to read the build's log: in the published repository under ``log_baseurl``, else as recorded."""
    if log_baseurl and event.repo_path:
        return f"{log_baseurl.rstrip('/')}/{event.repo_path}/build.log"
    return event.log_url


def _short(commit_hash: Optional[str]) -> str:
    return (commit_hash or "?")[:7]


def _lines(pairs: List[Tuple[str, Optional[str]]]) -> List[str]:
    width = max(len(name) for name, _value in pairs) + 1
    return [f"{name + ':':<{width}} {value}" for name, value in pairs if value is not None]


def _join(lines: List[Union[str, Tuple[str, Optional[str]]]]) -> str:
    """Text lines and (name, value) facts; each run of facts aligned in one block, empty facts left out."""
    out: List[str] = []
    facts: List[Tuple[str, Optional[str]]] = []
    for line in [*lines, None]:
        if isinstance(line, tuple):
            facts.append(line)
            continue
        if facts:
            out += _lines(facts)
            facts = []
        if line is not None:
            out.append(line)
    return "\n".join(out) + "\n"


def _build_facts(event: Event, link: Optional[str]) -> List[Tuple[str, Optional[str]]]:
    commit = event.commit_hash or "?"
    if event.commit_subject:
        commit += f" ({event.commit_subject})"
    facts: List[Tuple[str, Optional[str]]] = [
        ("Package", event.project),
        ("Release", event.release),
        ("Commit", commit),
        ("Author", event.author),
        ("Distgit", event.distro_hash),
        ("Builder", event.builder),
        ("Built", when(event.time)),
    ]
    if event.kind == FTBFS:
        facts.append(("Error", event.log_line or "no error line recorded: read the log"))
    facts.append(("Log", link or "not recorded"))
    return facts


def render(event: Event, *, redact: Redactor, log_baseurl: Optional[str] = None) -> Message:
    """The message for ``event``, every text field and the finished text masked by ``redact``."""
    source, event = event, redact.event(event)
    link = log_link(event, log_baseurl)
    if link is not None:
        link = redact(link)
        event = event.replace(log_url=link)
    lines: List[Union[str, Tuple[str, Optional[str]]]]
    if event.kind == FTBFS:
        subject = f"FTBFS: {event.project} ({event.release}) fails to build at {_short(event.commit_hash)}"
        lines = [f"{event.project} fails to build from source in {event.release}.", ""]
        lines += _build_facts(event, link)
        if event.other_commit_hash:
            lines += ["", f"The last successful build was of {event.other_commit_hash}, at {when(event.other_time)}."]
        else:
            lines += ["", "No earlier build of the package in this release succeeded."]
    elif event.kind == FIXED:
        subject = f"Fixed: {event.project} ({event.release}) builds again at {_short(event.commit_hash)}"
        count = event.failed_builds or 1
        lines = [f"{event.project} builds again in {event.release}.", ""]
        lines += _build_facts(event, link)
        lines += [
            "",
            f"It had failed to build since {event.other_commit_hash} ({when(event.other_time)}):"
            f" {count} failed build{'s' if count != 1 else ''}.",
        ]
    elif event.kind == STALE_PROMOTION:
        subject = f"Promotion stalled: {event.label} has not moved for {event.days} days"
        lines = [f"The label {event.label} has not been promoted for {event.days} days.", ""]
        lines += [("Label", event.label), ("Points at", event.ref_hash), ("Last moved", when(event.other_time))]
        lines += ["", "Look at the votes on its newest candidates: a required job may be failing or not voting."]
    else:  # events.collect refuses other kinds
        raise ValueError(f"unknown event kind {event.kind!r}")
    body = _join(lines) + _footer(event)
    return Message(event, redact(f"{SUBJECT_PREFIX} {subject}"), redact(body), source)


def _footer(event: Event) -> str:
    return f"\n-- \nSent by distroforge for event {event.id}; it is sent once.\n"
