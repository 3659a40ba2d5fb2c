"""The protocol client against a loopback stub: how each controller answer maps onto the error tree."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from agent.connection import ControllerConnection, parse_retry_after
from agent.errors import CredentialRejected, ProtocolError, ServerBusy, ServerUnreachable
from schemas.protocol import CheckinRequest, JobEvent
from tests.agent.servers import Canned, StubController, error


def _connect(controller: StubController, **options: object) -> ControllerConnection:
    return ControllerConnection(controller.base, credential=controller.credential, timeout_seconds=5,
                                **options)  # type: ignore[arg-type]


def test_a_checkin_carries_the_credential_and_parses_the_answer(controller: StubController) -> None:
    controller.inventory = "full"
    with _connect(controller) as connection:
        answer = connection.checkin(CheckinRequest(seen_seq=4))
    assert (answer.jobs_pending, answer.inventory) == (False, "full")
    path, headers, body = controller.requests[0]
    assert (path, body) == ("/checkin", {"seen_seq": 4})
    assert headers["authorization"] == f"Bearer {controller.credential}"
    assert headers["user-agent"].startswith("fleetward-agent/")


@pytest.mark.parametrize(
    ("canned", "raised", "delay"),
    [
        pytest.param(error(429, "rate_limited", "slow down", **{"Retry-After": "7"}), ServerBusy, 7.0,
                     id="429-with-retry-after"),
        pytest.param(error(503, "store_unavailable", "db down", **{"Retry-After": "3"}), ServerBusy, 3.0,
                     id="503-with-retry-after"),
        pytest.param(error(503, "store_unavailable", "db down"), ServerBusy, 0.0, id="503-without"),
        pytest.param(error(500, "internal_error", "oops"), ServerUnreachable, 0.0, id="500"),
    ],
)
def test_retryable_answers(controller: StubController, canned: Canned, raised: type, delay: float) -> None:
    controller.overrides["/checkin"] = [canned]
    with _connect(controller) as connection, pytest.raises(raised) as caught:
        connection.checkin(CheckinRequest(seen_seq=0))
    assert caught.value.retryable
    assert caught.value.delay == delay


def test_a_rejected_credential_says_re_enrol_and_hides_the_secret(controller: StubController) -> None:
    stale = ControllerConnection(controller.base, credential="stale-secret-xyz", timeout_seconds=5)
    with stale as connection, pytest.raises(CredentialRejected) as caught:
        connection.checkin(CheckinRequest(seen_seq=0))
    assert "re-enrol" in caught.value.hint
    assert "stale-secret-xyz" not in str(caught.value)


@pytest.mark.parametrize(
    ("canned", "message"),
    [
        pytest.param(error(413, "body_too_large", "too big"), "too large", id="413"),
        pytest.param(error(422, "invalid_request", "bad body"), "HTTP 422 invalid_request: bad body",
                     id="422"),
        pytest.param(Canned(status=302, headers={"Location": "https://elsewhere.example/"}), "redirected",
                     id="redirect-not-followed"),
        pytest.param(Canned(status=200, body=b"<html>proxy login</html>"), "not a valid CheckinResponse",
                     id="not-json"),
        pytest.param(Canned(status=200, body=b"{}"), "not a valid CheckinResponse", id="wrong-shape"),
    ],
)
def test_answers_outside_the_contract(controller: StubController, canned: Canned, message: str) -> None:
    controller.overrides["/checkin"] = [canned]
    with _connect(controller) as connection, pytest.raises(ProtocolError, match=message):
        connection.checkin(CheckinRequest(seen_seq=0))


def test_an_oversized_answer_is_refused_unread(controller: StubController) -> None:
    controller.overrides["/checkin"] = [Canned(status=200, body=b"x" * 5000)]
    with _connect(controller, max_response_bytes=1000) as connection, \
            pytest.raises(ProtocolError, match="over the 1000 cap"):
        connection.checkin(CheckinRequest(seen_seq=0))


def test_an_oversized_request_is_not_sent(controller: StubController) -> None:
    with _connect(controller) as connection, pytest.raises(ProtocolError, match="over the"):
        # model_copy skips validation: the cap on the wire must hold even if a model is bypassed.
        connection.send_event("j_1", JobEvent(status="failed").model_copy(update={"output": "x" * 70_000}))
    assert controller.requests == []


def test_no_server_listening_is_unreachable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with ControllerConnection(f"http://127.0.0.1:{port}", credential="c", timeout_seconds=2) as connection, \
            pytest.raises(ServerUnreachable, match="cannot reach the controller"):
        connection.checkin(CheckinRequest(seen_seq=0))


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        pytest.param("120", 120.0, id="seconds"),
        pytest.param(" 5 ", 5.0, id="spaces"),
        pytest.param("-3", 0.0, id="negative"),
        pytest.param("soon", None, id="garbage"),
        pytest.param(None, None, id="absent"),
        pytest.param("nan", None, id="nan"),
    ],
)
def test_retry_after_values(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header) == seconds


def test_retry_after_as_http_date() -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    assert parse_retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True), now=now) == 90.0
