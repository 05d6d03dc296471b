"""Real servers on loopback for the notification tests: SMTP (aiosmtpd) and a webhook (http.server)."""

from __future__ import annotations

import contextlib
import datetime
import email
import email.policy
import ipaddress
import json
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def free_port() -> int:
    """A loopback port nothing listens on (right now)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Mail:
    """One message the SMTP server accepted: envelope and parsed message."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    raw: bytes

    @property
    def body(self) -> str:
        return self.message.get_content()


class _Handler:
    def __init__(self, inbox: list[Mail]) -> None:
        self.inbox = inbox

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        self.inbox.append(Mail(envelope.mail_from, list(envelope.rcpt_tos), message, raw))
        return "250 OK"


@dataclass
class MailServer:
    """An aiosmtpd server on 127.0.0.1; ``inbox`` holds what it accepted, ``logins`` every AUTH attempt."""

    port: int = 0
    tls_context: ssl.SSLContext | None = None  # STARTTLS, required
    ssl_context: ssl.SSLContext | None = None  # TLS from the first byte (SMTPS)
    credentials: tuple[str, str] | None = None
    inbox: list[Mail] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)
    _controller: Controller | None = None

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = (auth_data.login.decode(), auth_data.password.decode())
        self.logins.append(login)
        return AuthResult(success=login == self.credentials, handled=False)

    def start(self) -> MailServer:
        self.port = self.port or free_port()
        kwargs: dict[str, Any] = {}
        if self.tls_context is not None:
            kwargs.update(tls_context=self.tls_context, require_starttls=True)
        if self.ssl_context is not None:
            kwargs.update(ssl_context=self.ssl_context)
        if self.credentials is not None:
            kwargs.update(authenticator=self._authenticate, auth_required=True)
            if self.tls_context is None:
                kwargs.update(auth_require_tls=False)
        self._controller = Controller(_Handler(self.inbox), hostname="127.0.0.1", port=self.port, **kwargs)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@contextlib.contextmanager
def mail_server(**kwargs: Any):
    server = MailServer(**kwargs).start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Post:
    path: str
    headers: dict[str, str]
    document: Any


class WebhookServer:
    """An HTTP server on 127.0.0.1 that records each POST and answers ``status`` after ``delay`` seconds."""

    def __init__(self) -> None:
        self.posts: list[Post] = []
        self.status = 200
        self.delay = 0.0
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                delay = hook.delay
                if delay:
                    time.sleep(delay)  # past the client's timeout: it gave up, so it is not a delivery
                if hook.status < 300 and not delay:
                    hook.posts.append(Post(self.path, dict(self.headers), json.loads(body)))
                self.send_response(hook.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                with contextlib.suppress(OSError):  # the client may have given up (timeout)
                    self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@contextlib.contextmanager
def webhook_server():
    server = WebhookServer()
    try:
        yield server
    finally:
        server.stop()


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, and its key (made with cryptography)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path
