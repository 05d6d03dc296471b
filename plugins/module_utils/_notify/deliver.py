"""Delivering messages: e-mail through an SMTP server (smtplib) and a webhook (a JSON POST).

A channel sends one message at a time and raises :class:`DeliveryError`
(one line, secrets masked) when it could not.  After its first failure a
channel stops trying for the rest of the run: an unreachable server costs
one timeout, not one per message, and what was not sent waits for the next
run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import smtplib
import socket
import ssl
import urllib.error
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

from ansible.module_utils.urls import ConnectionError as UrlConnectionError
from ansible.module_utils.urls import SSLValidationError, open_url

from .._common.errors import DistroforgeError, InputError
from .message import Message

EMAIL = "email"
WEBHOOK = "webhook"
SECURITIES = ("none", "starttls", "ssl")
_DEFAULT_PORTS = {"none": 25, "starttls": 587, "ssl": 465}


class DeliveryError(DistroforgeError):
    """A message could not be delivered (the server said no, or could not be reached)."""


@dataclasses.dataclass(frozen=True)
class SMTPSettings:
    """Where and how to send mail; ``port`` 0 means the usual port of ``security``."""

    host: str
    sender: str
    port: int = 0
    security: str = "starttls"
    username: Optional[str] = None
    password: Optional[str] = None
    timeout: float = 30.0
    ca_file: Optional[str] = None
    cc: Sequence[str] = ()

    def __post_init__(self) -> None:
        if not self.host:
            raise InputError("smtp.host: give the SMTP server's host name")
        if "@" not in (self.sender or ""):
            raise InputError(f"smtp.sender: {self.sender!r} is not an e-mail address; give the From address")
        if self.security not in SECURITIES:
            raise InputError(f"smtp.security: {self.security!r} is not one of {', '.join(SECURITIES)}")
        if bool(self.username) != bool(self.password):
            raise InputError("smtp.username, smtp.password: give both to log in, or neither")
        if self.timeout <= 0:
            raise InputError(f"smtp.timeout: must be more than 0 seconds, got {self.timeout}")

    @property
    def address(self) -> str:
        """``host:port`` as messages name it."""
        return f"{self.host}:{self.port or _DEFAULT_PORTS[self.security]}"


@dataclasses.dataclass(frozen=True)
class WebhookSettings:
    """A URL that receives each message as a JSON POST; ``token`` goes in ``Authorization: Bearer``."""

    url: str
    timeout: float = 10.0
    token: Optional[str] = None
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)
    ca_file: Optional[str] = None

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise InputError(f"webhook.url: {self.url!r} is not an http:// or https:// URL")
        if self.timeout <= 0:
            raise InputError(f"webhook.timeout: must be more than 0 seconds, got {self.timeout}")

    def secrets(self) -> List[str]:
        """What must never be shown: the token and every header value."""
        return [value for value in [self.token, *self.headers.values()] if value]


def message_id(event_id: str, sender: str) -> str:
    """The same Message-ID for the same event: a receiver that sees it twice can drop the copy."""
    digest = hashlib.sha256(event_id.encode("utf-8")).hexdigest()[:32]
    domain = sender.rpartition("@")[2] or "distroforge"
    return f"<{digest}.distroforge@{domain}>"


class Channel:
    """A way to send messages; ``broken`` holds the first error of this run."""

    name = ""

    def __init__(self, redact: Callable[[str], str]) -> None:
        self.redact = redact
        self.broken: Optional[str] = None
        # Lines worth a warning although the message went out (a recipient refused).
        self.notes: List[str] = []

    def needs_recipients(self) -> bool:
        """Whether a message without recipients cannot go this way."""
        return False

    def send(self, message: Message, recipients: Sequence[str], now: int) -> None:
        """Deliver ``message``; raise DeliveryError in one line when it could not be."""
        if self.broken is not None:
            raise DeliveryError(self.broken)
        try:
            self._send(message, recipients, now)
        except DeliveryError as exc:
            self.broken = self.redact(str(exc))
            raise DeliveryError(self.broken) from None

    def _send(self, message: Message, recipients: Sequence[str], now: int) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Let go of any connection."""


class SMTPChannel(Channel):
    """E-mail through one SMTP connection for the whole run, opened at the first message."""

    name = EMAIL

    def __init__(self, settings: SMTPSettings, redact: Callable[[str], str]) -> None:
        super().__init__(redact)
        self.settings = settings
        self._smtp: Optional[smtplib.SMTP] = None

    def needs_recipients(self) -> bool:
        return True

    def mail(self, message: Message, recipients: Sequence[str], now: int) -> EmailMessage:
        """The e-mail for ``message``: To the recipients, Cc ``settings.cc``, a Message-ID per event."""
        mail = EmailMessage()
        mail["From"] = self.settings.sender
        mail["To"] = ", ".join(recipients)
        if self.settings.cc:
            mail["Cc"] = ", ".join(self.settings.cc)
        mail["Subject"] = message.subject
        mail["Date"] = formatdate(now, usegmt=True)
        mail["Message-ID"] = message_id(message.event.id, self.settings.sender)
        mail["X-Distroforge-Event"] = message.event.id
        mail["Auto-Submitted"] = "auto-generated"
        mail.set_content(message.body)
        return mail

    def _context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.settings.ca_file)

    def _connect(self) -> smtplib.SMTP:
        settings = self.settings
        port = settings.port or _DEFAULT_PORTS[settings.security]
        smtp: smtplib.SMTP
        if settings.security == "ssl":
            smtp = smtplib.SMTP_SSL(settings.host, port, timeout=settings.timeout, context=self._context())
        else:
            smtp = smtplib.SMTP(settings.host, port, timeout=settings.timeout)
        try:
            if settings.security == "starttls":
                smtp.starttls(context=self._context())
            if settings.username:
                smtp.login(settings.username, settings.password or "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _send(self, message: Message, recipients: Sequence[str], now: int) -> None:
        where = f"smtp {self.settings.address}"
        try:
            if self._smtp is None:
                self._smtp = self._connect()
            refused = self._smtp.send_message(self.mail(message, recipients, now))
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(
                f"{where}: login refused ({exc.smtp_code}): check smtp.username and smtp.password"
            ) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise DeliveryError(f"{where}: {exc}: set smtp.security to what the server offers") from None
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"{where}: every recipient was refused ({_refusals(exc.recipients)})") from None
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(f"{where}: the server said {exc.smtp_code} {_text(exc.smtp_error)}") from None
        except (smtplib.SMTPException, ssl.SSLError, OSError, ValueError) as exc:
            raise DeliveryError(
                f"{where}: cannot send ({_reason(exc)}): check that the server is up and reachable"
            ) from None
        if refused:
            # The others got it: it counts as sent, since sending again would give them a copy.
            note = f"{where}: {message.event.id}: some recipients refused ({_refusals(refused)})"
            self.notes.append(self.redact(note))

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None


class WebhookChannel(Channel):
    """One JSON POST per message; any answer but 2xx, or none within ``timeout``, is a failure."""

    name = WEBHOOK

    def __init__(self, settings: WebhookSettings, redact: Callable[[str], str]) -> None:
        super().__init__(redact)
        self.settings = settings

    def _send(self, message: Message, recipients: Sequence[str], now: int) -> None:
        settings = self.settings
        document: Dict[str, Any] = {**message.payload(), "recipients": list(recipients), "sent_at": now}
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "distroforge-notify",
            # Receivers that keep it can drop a copy (see docs/notifications.md: at-most-once).
            "Idempotency-Key": message.event.id,
            **settings.headers,
        }
        if settings.token:
            headers["Authorization"] = f"Bearer {settings.token}"
        where = f"{WEBHOOK} {self.redact(settings.url)}"
        timed_out = DeliveryError(f"{where}: no answer within {settings.timeout:g} s (webhook.timeout)")
        try:
            # Ansible's open_url (ansible-test's replace-urlopen rule): proxies and CA paths as every module has them.
            with open_url(
                settings.url,
                data=json.dumps(document).encode("utf-8"),
                headers=headers,
                method="POST",
                timeout=settings.timeout,
                ca_path=settings.ca_file,
                use_netrc=False,
                follow_redirects="none",
            ) as response:
                response.read(65536)
        except urllib.error.HTTPError as exc:
            raise DeliveryError(f"{where}: answered {exc.code} {exc.reason}") from None
        except (socket.timeout, TimeoutError):
            raise timed_out from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, (socket.timeout, TimeoutError)):
                raise timed_out from None
            raise DeliveryError(f"{where}: cannot connect ({_reason(exc.reason)})") from None
        except (UrlConnectionError, SSLValidationError, OSError, ValueError) as exc:
            raise DeliveryError(f"{where}: cannot send ({_reason(exc)})") from None


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return " ".join(str(value).split())


def _reason(exc: Any) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return _text(exc) or type(exc).__name__


def _refusals(refused: Mapping[str, Any]) -> str:
    return ", ".join(f"{address}: {code} {_text(text)}" for address, (code, text) in sorted(refused.items()))
