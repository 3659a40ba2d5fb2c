"""A loopback SMTP server for the escalation-mail tests, on the standard library alone.

It speaks the part of SMTP (RFC 5321) and AUTH PLAIN (RFC 4954) that a submission server shows a
client: greeting, EHLO with its extensions, AUTH, MAIL, RCPT, DATA with dot-unstuffing, RSET,
NOOP, QUIT, and STARTTLS (RFC 3207) when given a server-side ``tls`` context; it then refuses
AUTH before the upgrade, as submission servers do. Without ``tls`` it does not offer STARTTLS,
which lets a test see a client refuse to go on without it. ``script`` replaces the server's next
reply to a command (``{"MAIL": "451 4.3.0 busy"}``); ``messages`` holds what was accepted. Written
here rather than taking aiosmtpd as a test dependency: the tests need a dozen commands, and a
failure script that aiosmtpd would need handler subclasses for.
"""

from __future__ import annotations

import base64
import ipaddress
import socketserver
import ssl
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Self

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

LIFETIME = 120.0


@dataclass(frozen=True)
class Received:
    sender: str
    recipients: tuple[str, ...]
    message: Message
    login: str | None
    tls: bool


class FakeSmtpServer:
    def __init__(self, *, username: str | None = None, password: str | None = None,
                 tls: ssl.SSLContext | None = None) -> None:
        self.username = username
        self.tls = tls
        self.password = password
        self.messages: list[Received] = []
        self.script: dict[str, str] = {}
        self.logins: list[str] = []
        self.lock = threading.Lock()
        owner = self

        class Handler(socketserver.StreamRequestHandler):
            timeout = 10

            def handle(self) -> None:
                owner._session(self)

            def finish(self) -> None:
                super().finish()
                for stream in getattr(self, "upgraded", ()):
                    stream.close()

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._timer = threading.Timer(LIFETIME, self.stop)
        self._timer.daemon = True

    def __enter__(self) -> Self:
        self._thread.start()
        self._timer.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._timer.cancel()
        self._server.shutdown()
        self._server.server_close()

    def _reply(self, command: str, default: str) -> str:
        with self.lock:
            return self.script.pop(command, default)

    def _session(self, io: socketserver.StreamRequestHandler) -> None:
        rfile, wfile = io.rfile, io.wfile

        def send(line: str) -> None:
            wfile.write(line.encode() + b"\r\n")
            wfile.flush()

        send("220 mail.test ESMTP ready")
        sender, recipients, login, encrypted = "", [], None, False
        while True:
            raw = rfile.readline(2048)
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            verb = line.split(" ", 1)[0].upper()
            if verb == "EHLO":
                extensions = ["SIZE 1048576", "8BITMIME"] + (["AUTH PLAIN"] if self.username else [])
                if self.tls is not None and not encrypted:
                    extensions.append("STARTTLS")
                for extension in extensions:
                    send(f"250-{extension}")
                send("250 HELP")
            elif verb == "STARTTLS" and self.tls is not None and not encrypted:
                send("220 2.0.0 Ready to start TLS")
                connection = self.tls.wrap_socket(io.connection, server_side=True)
                rfile, wfile = connection.makefile("rb"), connection.makefile("wb")
                io.upgraded = (rfile, wfile, connection)  # type: ignore[attr-defined]  # closed in finish()
                sender, recipients, login, encrypted = "", [], None, True  # RFC 3207: forget the session
            elif verb == "AUTH" and self.tls is not None and not encrypted:
                send("538 5.7.11 Encryption required for requested authentication mechanism")
            elif verb == "AUTH":
                parts = line.split()
                if len(parts) != 3 or parts[1].upper() != "PLAIN":
                    send("504 5.5.4 only AUTH PLAIN with an initial response")
                    continue
                _authz, user, secret = base64.b64decode(parts[2]).decode().split("\0")
                with self.lock:
                    self.logins.append(user)
                if (user, secret) == (self.username, self.password):
                    login = user
                    send(self._reply("AUTH", "235 2.7.0 Authentication successful"))
                else:
                    send(self._reply("AUTH", "535 5.7.8 Authentication credentials invalid"))
            elif verb == "MAIL":
                if self.username and login is None:
                    send("530 5.7.0 Authentication required")
                    continue
                reply = self._reply("MAIL", "250 2.1.0 OK")
                if reply.startswith("250"):
                    sender = line.partition(":")[2].split()[0].strip("<>")
                send(reply)
            elif verb == "RCPT":
                reply = self._reply("RCPT", "250 2.1.5 OK")
                if reply.startswith("250"):
                    recipients.append(line.partition(":")[2].split()[0].strip("<>"))
                send(reply)
            elif verb == "DATA":
                if not recipients:
                    send("554 5.5.1 no valid recipients")
                    continue
                send("354 End data with <CR><LF>.<CR><LF>")
                body = bytearray()
                while True:
                    data = rfile.readline(1_048_576)
                    if data in (b".\r\n", b""):
                        break
                    body += data[1:] if data.startswith(b"..") else data
                reply = self._reply("DATA", "250 2.0.0 queued")
                if reply.startswith("250"):
                    with self.lock:
                        self.messages.append(Received(sender, tuple(recipients), message_from_bytes(bytes(body)),
                                                      login, encrypted))
                sender, recipients = "", []
                send(reply)
            elif verb == "RSET":
                sender, recipients = "", []
                send("250 2.0.0 OK")
            elif verb == "NOOP":
                send("250 2.0.0 OK")
            elif verb == "QUIT":
                send("221 2.0.0 Bye")
                return
            else:
                send("502 5.5.2 command not recognised")


def loopback_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for ``127.0.0.1`` (its own CA): ``(cert.pem, key.pem)`` in ``folder``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mail.test")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context
