"""Enrolment: exchanging a client's one-time token for this agent's identity.

The controller answers with the agent id, the client (tenant) the device now
belongs to for good, a bearer credential, and the public keys that sign jobs.
All of it is stored in ``agent.json`` (mode 0600) by :mod:`agent.state`. The
token and the credential are never printed or logged.

Enrolling again over an existing identity needs ``force``: it creates a new
device on the controller, so it must be deliberate. A new identity starts with
a fresh ``state.json`` and journal (job seqs are per agent), while receipts and
installed software stay, since they describe the machine, not the identity.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

import httpx
from pydantic import TypeAdapter, ValidationError

from agent.connection import ControllerConnection
from agent.errors import ConfigError, CredentialRejected, ProtocolError
from agent.facts import collect_facts
from agent.journal import Journal
from agent.state import AgentConfig, AgentState, DataDir
from agent.urls import check_server_url
from agent.verifying import TrustedKeys
from schemas.limits import MAX_LABELS
from schemas.protocol import EnrollRequest, Facts
from schemas.resources import LabelKey, LabelValue

RESERVED_LABELS = frozenset({"os", "os_version", "arch", "hostname", "client"})
"""Labels the controller derives from facts and the enrolment; an agent may not set them."""

_KEY = TypeAdapter(LabelKey)
_VALUE = TypeAdapter(LabelValue)


def parse_labels(pairs: Sequence[str]) -> dict[str, str]:
    """``key=value`` strings as a label dict, or ConfigError naming the bad one."""
    labels: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ConfigError(f"--label {pair!r} is not key=value", hint="for example --label site=berlin")
        try:
            _KEY.validate_python(key)
        except ValidationError:
            raise ConfigError(f"--label {pair!r}: {key!r} is not a valid label key",
                              hint="letters, digits, '-', '_' and '.', starting and ending with a "
                                   "letter or digit; an optional 'prefix/'") from None
        try:
            _VALUE.validate_python(value)
        except ValidationError:
            raise ConfigError(f"--label {pair!r}: {value!r} is not a valid label value",
                              hint="up to 253 letters, digits, '-', '_' and '.', starting and ending "
                                   "with a letter or digit") from None
        if key in RESERVED_LABELS:
            raise ConfigError(f"--label {pair!r}: {key!r} is set by the agent's facts",
                              hint=f"choose another key; reserved: {', '.join(sorted(RESERVED_LABELS))}")
        if key in labels and labels[key] != value:
            raise ConfigError(f"--label {key} is given twice with different values")
        labels[key] = value
    if len(labels) > MAX_LABELS:
        raise ConfigError(f"{len(labels)} labels given; at most {MAX_LABELS} are allowed")
    return labels


def enroll(
    data_dir: DataDir,
    *,
    server: str,
    token: str,
    labels: dict[str, str],
    allow_insecure_http: bool = False,
    force: bool = False,
    clock: Callable[[], datetime],
    timeout_seconds: float = 30.0,
    facts: Facts | None = None,
    transport: httpx.BaseTransport | None = None,
) -> AgentConfig:
    """Enrol with the controller and store the identity; the caller holds the data dir lock."""
    server = check_server_url(server, allow_insecure_http=allow_insecure_http)
    previous = data_dir.load_config() if data_dir.is_enrolled() else None
    if previous is not None and not force:
        raise ConfigError(f"{data_dir.root} is already enrolled as agent {previous.agent_id} "
                          f"(client {previous.client}, server {previous.server})",
                          hint="pass --force to replace that identity with a new one")
    if not token or len(token) > 200:
        raise ConfigError("the enrolment token must be 1 to 200 characters",
                          hint="copy the token your MSP admin gave you")
    request = EnrollRequest(token=token, facts=facts or collect_facts(), labels=labels)
    with ControllerConnection(server, timeout_seconds=timeout_seconds, transport=transport) as connection:
        try:
            answer = connection.enroll(request)
        except CredentialRejected:
            raise CredentialRejected("the controller rejected the enrolment token",
                                     hint="ask your MSP admin for a valid, unexpired token") from None
    if not answer.signing_keys:
        raise ProtocolError("the controller sent no job-signing keys; the agent could not verify any job",
                            hint="check the controller's key setup (fleetward keys)")
    try:
        TrustedKeys(answer.signing_keys)
    except ValueError as exc:
        raise ProtocolError(f"the controller sent an unusable signing key: {exc}") from None

    config = AgentConfig(
        server=server, agent_id=answer.agent_id, client=answer.client, credential=answer.credential,
        signing_keys=answer.signing_keys, allow_insecure_http=allow_insecure_http,
        checkin_interval_seconds=answer.checkin_interval_seconds, enrolled_at=clock(),
    )
    data_dir.create()
    if previous is None or previous.agent_id != config.agent_id:
        Journal(data_dir.journal_dir).clear()
        data_dir.save_state(AgentState())
    data_dir.save_config(config)
    return config
