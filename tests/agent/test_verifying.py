"""Which leased jobs may run: signature, identity, expiry, replay and the journal."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest

from agent.verifying import TrustedKeys, classify
from schemas.jobs import SignedJob
from tests.agent.builders import AGENT_ID, NOW, Signer, make_spec


def _decide(job: SignedJob, signer: Signer, *, seen_seq: int = 0, in_journal: bool = False):
    return classify(job, keys=TrustedKeys([signer.signing_key]), agent_id=AGENT_ID, seen_seq=seen_seq,
                    in_journal=in_journal, now=NOW)


def test_a_good_job_runs(signer: Signer) -> None:
    decision = _decide(signer.sign(make_spec(seq=5)), signer, seen_seq=4)
    assert decision.verdict == "run"
    assert decision.spec is not None and decision.spec.seq == 5


def _tampered(signer: Signer) -> SignedJob:
    job = signer.sign(make_spec(seq=5))
    return job.model_copy(update={"payload": job.payload.replace("hello-tool", "evil-tool")})


def _wrong_key_id(signer: Signer) -> SignedJob:
    return signer.sign(make_spec(seq=5)).model_copy(update={"key_id": "ffffffffffffffff"})


def _other_key(_signer: Signer) -> SignedJob:
    impostor = Signer()
    job = impostor.sign(make_spec(seq=5))
    return job.model_copy(update={"key_id": _signer.key_id})


def _not_a_job(signer: Signer) -> SignedJob:
    return signer.sign_payload(json.dumps({"rm": "-rf /"}), job_id="j_x", seq=5)


def _envelope_mismatch(signer: Signer) -> SignedJob:
    return signer.sign(make_spec(seq=5)).model_copy(update={"seq": 99})


def _garbled_signature(signer: Signer) -> SignedJob:
    return signer.sign(make_spec(seq=5)).model_copy(update={"signature": "***not base64***"})


def _truncated_signature(signer: Signer) -> SignedJob:
    job = signer.sign(make_spec(seq=5))
    short = base64.b64decode(job.signature)[:10]
    return job.model_copy(update={"signature": base64.b64encode(short).decode()})


@pytest.mark.parametrize(
    ("build", "reason"),
    [
        pytest.param(_tampered, "bad signature", id="tampered-payload"),
        pytest.param(_wrong_key_id, "unknown key id", id="wrong-key-id"),
        pytest.param(_other_key, "bad signature", id="signed-by-another-key"),
        pytest.param(_not_a_job, "not a valid job", id="signed-payload-not-a-jobspec"),
        pytest.param(_envelope_mismatch, "does not match", id="envelope-disagrees-with-payload"),
        pytest.param(_garbled_signature, "not valid base64", id="signature-not-base64"),
        pytest.param(_truncated_signature, "bad signature", id="signature-truncated"),
    ],
)
def test_unverifiable_jobs_are_refused(signer: Signer, build, reason: str) -> None:
    decision = _decide(build(signer), signer)
    assert decision.verdict == "refuse"
    assert reason in decision.reason
    assert decision.spec is None  # nothing from an unverified payload is trusted


def test_a_job_for_another_agent_is_refused(signer: Signer) -> None:
    decision = _decide(signer.sign(make_spec(seq=5, agent_id="a_" + "2" * 32)), signer)
    assert decision.verdict == "refuse"
    assert "addressed to agent a_222" in decision.reason


def test_an_expired_job_is_refused(signer: Signer) -> None:
    decision = _decide(signer.sign(make_spec(seq=5, expires_at=NOW - timedelta(seconds=1))), signer)
    assert decision.verdict == "refuse"
    assert "expired" in decision.reason


@pytest.mark.parametrize("seq", [pytest.param(3, id="older-seq"), pytest.param(4, id="same-seq")])
def test_a_replayed_job_is_refused(signer: Signer, seq: int) -> None:
    decision = _decide(signer.sign(make_spec(seq=seq)), signer, seen_seq=4)
    assert decision.verdict == "refuse"
    assert "replay" in decision.reason


def test_a_job_in_the_journal_is_resent_not_run(signer: Signer) -> None:
    # Old seq and even expired: the stored result is re-sent, nothing runs again.
    spec = make_spec(seq=3, expires_at=NOW - timedelta(days=1))
    decision = _decide(signer.sign(spec), signer, seen_seq=4, in_journal=True)
    assert decision.verdict == "resend"


def test_the_journal_does_not_excuse_a_bad_signature(signer: Signer) -> None:
    decision = _decide(_tampered(signer), signer, seen_seq=4, in_journal=True)
    assert decision.verdict == "refuse"


def test_a_malformed_enrolment_key_is_rejected_up_front(signer: Signer) -> None:
    bad = signer.signing_key.model_copy(update={"public_key": base64.b64encode(b"short").decode()})
    with pytest.raises(ValueError, match="not a base64 raw Ed25519 key"):
        TrustedKeys([bad])
