"""Enrolment and API tokens: shape, authentication, expiry, revocation, use limits, hashing at rest."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from controller.errors import AccessDenied, ConfigError, NotFound
from controller.store import (
    Store,
    authenticate_api_token,
    create_api_token,
    create_enrollment_token,
    enroll_agent,
    list_tokens,
    revoke_token,
)
from controller.store.tables import Base
from schemas.protocol import Facts
from tests.store.builders import NOW, enroll, rows


def _everything_stored(store: Store) -> str:
    return json.dumps({name: rows(store, name) for name in Base.metadata.tables}, default=str)


def test_api_token_authenticates_with_its_role_and_scope(store: Store) -> None:
    token = create_api_token(store, name="ci", role="operator", client="acme", now=NOW)
    assert token.startswith("fwt_t_")
    found = authenticate_api_token(store, token, NOW + timedelta(minutes=1))
    assert found is not None
    assert (found.name, found.role, found.client) == ("ci", "operator", "acme")
    assert token.split("_")[2] in found.token_id


@pytest.mark.parametrize("mangle", [
    pytest.param(lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"), id="wrong-secret"),
    pytest.param(lambda token: token.replace("fwt_", "fwe_", 1), id="wrong-kind"),
    pytest.param(lambda token: "fwt_t_0000000000000000_" + token.rsplit("_", 1)[-1], id="unknown-id"),
    pytest.param(lambda token: token + "x" * 200, id="oversized"),
    pytest.param(lambda token: "", id="empty"),
])
def test_api_token_that_does_not_match_is_refused(store: Store, mangle) -> None:  # type: ignore[no-untyped-def]
    token = create_api_token(store, name="ci", role="viewer", now=NOW)
    assert authenticate_api_token(store, mangle(token), NOW) is None


def test_api_token_expires(store: Store) -> None:
    token = create_api_token(store, name="ci", role="admin", expires_in=timedelta(hours=1), now=NOW)
    assert authenticate_api_token(store, token, NOW + timedelta(minutes=59)) is not None
    assert authenticate_api_token(store, token, NOW + timedelta(hours=1)) is None


def test_revoked_api_token_is_refused_and_revocation_is_audited(store: Store) -> None:
    token = create_api_token(store, name="ci", role="admin", now=NOW)
    principal = authenticate_api_token(store, token, NOW)
    assert principal is not None
    revoke_token(store, principal.token_id, now=NOW)
    revoke_token(store, principal.token_id, now=NOW)  # twice is harmless
    assert authenticate_api_token(store, token, NOW) is None
    assert [row["action"] for row in rows(store, "audit_log")] == ["api-token.created", "token.revoked"]


def test_last_used_is_recorded_at_most_once_a_minute(store: Store) -> None:
    token = create_api_token(store, name="ci", role="viewer", now=NOW)
    for seconds in (0, 30, 59):
        authenticate_api_token(store, token, NOW + timedelta(seconds=seconds))
    assert rows(store, "api_tokens")[0]["last_used_at"] == NOW
    authenticate_api_token(store, token, NOW + timedelta(seconds=61))
    assert rows(store, "api_tokens")[0]["last_used_at"] == NOW + timedelta(seconds=61)


def test_secrets_are_stored_only_as_hashes(store: Store) -> None:
    api = create_api_token(store, name="ci", role="viewer", now=NOW)
    enrolment = create_enrollment_token(store, "acme", created_by="tests", now=NOW)
    agent = enroll(store)
    stored = _everything_stored(store)
    for credential in (api, enrolment, agent.credential):
        secret = credential.split("_", 3)[3]
        assert len(secret) == 43
        assert secret not in stored
    listed = json.dumps([info._asdict() for info in list_tokens(store)], default=str)
    assert api.split("_", 3)[3] not in listed
    assert "secret" not in listed


def test_enrolment_token_is_used_up_after_max_uses(store: Store) -> None:
    token = create_enrollment_token(store, "acme", max_uses=2, created_by="tests", now=NOW)
    facts = Facts(hostname="pc", os="linux")
    enroll_agent(store, token, facts, {}, NOW)
    enroll_agent(store, token, facts, {}, NOW)
    with pytest.raises(AccessDenied):
        enroll_agent(store, token, facts, {}, NOW)
    [info] = list_tokens(store)
    assert (info.kind, info.client, info.uses, info.max_uses) == ("enrolment", "acme", 2, 2)


def test_list_tokens_filters_by_client(store: Store) -> None:
    create_enrollment_token(store, "acme", created_by="tests", now=NOW)
    create_enrollment_token(store, "globex", created_by="tests", now=NOW)
    create_api_token(store, name="msp", role="admin", now=NOW)
    create_api_token(store, name="acme-viewer", role="viewer", client="acme", now=NOW)
    assert len(list_tokens(store)) == 4
    assert {(info.kind, info.client) for info in list_tokens(store, "acme")} == {("enrolment", "acme"),
                                                                                   ("api", "acme")}


def test_revoke_is_scoped_and_says_what_is_wrong(store: Store) -> None:
    token = create_api_token(store, name="g", role="viewer", client="globex", now=NOW)
    principal = authenticate_api_token(store, token, NOW)
    assert principal is not None
    with pytest.raises(NotFound):
        revoke_token(store, principal.token_id, now=NOW, client="acme")
    with pytest.raises(NotFound, match="e_"):
        revoke_token(store, "x_123", now=NOW)
    assert authenticate_api_token(store, token, NOW) is not None


@pytest.mark.parametrize(("client", "kwargs"), [
    pytest.param("Not A Client", {}, id="bad-client-name"),
    pytest.param("acme", {"max_uses": 0}, id="zero-uses"),
    pytest.param("acme", {"expires_in": timedelta(0)}, id="already-expired"),
])
def test_enrolment_token_arguments_are_checked(store: Store, client: str, kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        create_enrollment_token(store, client, created_by="tests", now=NOW, **kwargs)  # type: ignore[arg-type]
