"""Escalation e-mail: one message per outbox row, sent through the Fleet's SMTP server.

An escalation step with ``notify`` queues a mail in the ticket outbox in the same transaction as
the escalation note (:mod:`controller.store.service_requests`); :class:`OutboxDelivery` hands the
row to :func:`send_mail`, which speaks SMTP with the standard library: connect, STARTTLS with a
verified certificate (unless turned off for a relay on the same machine), log in when a username
is set, send. Failures use the connectors' error tree so the outbox retries the same way: a
refused connection, a timeout or a 4xx reply is retried with backoff; a 5xx reply (a refused
login or recipient) parks the row with the reason.

The password is opened in memory for the login and never logged or quoted; of a server's reply
only its numeric code is kept. A login over an unencrypted connection is refused unless the
server is on loopback. Each message carries a Message-ID derived from the outbox row's
idempotency key, so a resend after a lost reply can be recognised as the same message.
"""

from __future__ import annotations

import json
import smtplib
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from controller.outbound import is_loopback
from controller.tickets.connectors import (
    ConnectorError,
    ConnectorRejected,
    ConnectorSetupError,
    ConnectorUnavailable,
)
from schemas.ticketing import EmailSettings

NAME = "email"
DEFAULT_TIMEOUT = 15.0
MAX_SUBJECT = 200


@dataclass(frozen=True)
class Mail:
    recipients: tuple[str, ...]
    subject: str
    body: str
    message_id: str


def escalation_mail(row: dict[str, Any], ticket: dict[str, Any]) -> Mail:
    """The mail an outbox row of action ``email`` describes, about ``ticket``."""
    try:
        queued = json.loads(row["text"])
        recipients = tuple(str(address) for address in queued["to"])
        note = str(queued["note"])
    except (ValueError, KeyError, TypeError):
        raise ConnectorSetupError(NAME, f"outbox row {row['id']} is not a mail",
                                  hint="a bug: report it; the row is not retried") from None
    title = " ".join(str(ticket["title"]).split())
    subject = f"[Fleetward] #{ticket['id']} {title} ({ticket['client']})"
    lines = [note, "", f"Ticket: #{ticket['id']} {title}", f"Client: {ticket['client']}",
             f"State: {ticket['state']}", f"Priority: {ticket['priority']}",
             f"Assignee: {ticket['assignee'] or '-'}"]
    if ticket.get("external_url"):
        lines.append(f"In the PSA: {ticket['external_url']}")
    lines += ["", f"Acknowledge the ticket to stop further escalation: PATCH /api/service-requests/{ticket['id']} "
                  '{"state": "acknowledged"}']
    return Mail(recipients, subject[:MAX_SUBJECT], "\n".join(lines) + "\n",
                f"<{row['idempotency_key']}@fleetward.invalid>")


def send_mail(settings: EmailSettings, password: str | None, mail: Mail, *,
              timeout: float = DEFAULT_TIMEOUT, context: ssl.SSLContext | None = None) -> None:
    """Send ``mail``; ``ConnectorError`` (``retryable`` or not) when it cannot be sent now."""
    if settings.username is not None and not settings.starttls and not is_loopback(settings.host):
        raise ConnectorSetupError(NAME, f"logging in to {settings.host} without STARTTLS would send the password "
                                        "unencrypted", hint="set starttls: true in spec.tickets.email")
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = ", ".join(mail.recipients)
    message["Subject"] = mail.subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = mail.message_id
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(mail.body)
    try:
        # local_hostname: smtplib's default (getfqdn) may ask DNS and stall; the plain host name will do.
        with smtplib.SMTP(settings.host, settings.port, local_hostname=socket.gethostname() or "fleetward",
                          timeout=timeout) as smtp:
            smtp.ehlo()
            if settings.starttls:
                if not smtp.has_extn("starttls"):
                    raise ConnectorSetupError(NAME, f"{settings.host}:{settings.port} does not offer STARTTLS",
                                              hint="use the server's submission port (587), or set starttls: "
                                                   "false only for a relay on this machine")
                smtp.starttls(context=context or ssl.create_default_context())
                smtp.ehlo()
            if settings.username is not None and password is not None:
                smtp.login(settings.username, password)
            smtp.send_message(message, from_addr=settings.sender, to_addrs=list(mail.recipients))
    except ConnectorError:
        raise
    except smtplib.SMTPRecipientsRefused as error:
        codes = sorted({code for code, _text in error.recipients.values()})
        raise _reply_error("the server refused every recipient", codes,
                           "check the notify addresses in the AlertTicketRule") from None
    except smtplib.SMTPAuthenticationError as error:
        raise ConnectorRejected(NAME, f"the server refused the login (SMTP {error.smtp_code})",
                                hint="check spec.tickets.email username and the sealed password",
                                status=error.smtp_code) from None
    except smtplib.SMTPResponseException as error:
        raise _reply_error("the server refused the mail", [error.smtp_code],
                           "check spec.tickets.email (from address, relay permissions)") from None
    except ssl.SSLCertVerificationError:
        raise ConnectorSetupError(NAME, f"the certificate of {settings.host} could not be verified",
                                  hint="give the server a certificate for its name from a trusted CA") from None
    except (smtplib.SMTPException, OSError) as error:
        raise ConnectorUnavailable(NAME, f"{settings.host}:{settings.port}: {type(error).__name__}",
                                   hint="retried later with backoff; check the controller's access to the "
                                        "SMTP server") from None


def _reply_error(what: str, codes: Sequence[int], hint: str) -> ConnectorError:
    shown = ", ".join(str(code) for code in codes)
    if codes and all(400 <= code < 500 for code in codes):  # the server asks to try again later
        return ConnectorUnavailable(NAME, f"{what} for now (SMTP {shown})", hint="retried later with backoff")
    return ConnectorRejected(NAME, f"{what} (SMTP {shown})", hint=hint, status=codes[0] if codes else None)
