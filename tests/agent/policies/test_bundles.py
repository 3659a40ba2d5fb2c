"""A policy bundle is used only when its signature, addressee and every script hash hold."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from agent.policies.bundles import BundleRefused, BundleStore, verify_bundle
from agent.verifying import TrustedKeys
from controller.jobs.signing import JobSigner
from schemas.jobs import JOB_SIGNATURE_CONTEXT, canonical_json
from schemas.protocol import (
    POLICY_BUNDLE_SIGNATURE_CONTEXT,
    BundledPolicy,
    BundledScript,
    PolicyBundle,
    SignedPolicyBundle,
)

TEXT = "echo hi\n"


def script(text: str = TEXT, sha: str | None = None) -> BundledScript:
    return BundledScript(name="s", ref="s", shell="bash", text=text,
                         sha256=sha or hashlib.sha256(TEXT.encode()).hexdigest(), timeout_seconds=10, os=["linux"])


def sign(signer: JobSigner, bundle: PolicyBundle,
         context: bytes = POLICY_BUNDLE_SIGNATURE_CONTEXT) -> SignedPolicyBundle:
    payload = canonical_json(bundle.model_dump(mode="json", by_alias=True))
    key_id, signature = signer.sign_payload(context, payload)
    return SignedPolicyBundle(key_id=key_id, payload=payload, signature=signature)


@pytest.fixture
def signer(tmp_path: Path) -> JobSigner:
    return JobSigner.load_or_create(tmp_path / "keys")


@pytest.fixture
def keys(signer: JobSigner) -> TrustedKeys:
    return TrustedKeys(signer.public_keys())


def bundle(**changes: object) -> PolicyBundle:
    values: dict[str, object] = {
        "agent_id": "a_1", "revision": "r", "version": "v",
        "policies": [BundledPolicy(id="p", version="1", mode="audit", every_seconds=3600, checks=[],
                                   scripts={"s": "s"})],
        "scripts": [script()]}
    return PolicyBundle.model_validate({**values, **changes})


def test_a_good_bundle_verifies_and_is_stored_signed(signer: JobSigner, keys: TrustedKeys, tmp_path: Path) -> None:
    signed = sign(signer, bundle())
    assert verify_bundle(signed, keys, "a_1").policies[0].id == "p"
    store = BundleStore(tmp_path / "policies")
    store.save(signed)
    assert store.load(keys, "a_1") == bundle()
    store.path.write_text(store.path.read_text().replace("echo hi", "echo HI"))  # edited on disk
    assert store.load(keys, "a_1") is None


@pytest.mark.parametrize(("make", "reason"), [
    pytest.param(lambda s: sign(s, bundle(), JOB_SIGNATURE_CONTEXT), "bad policy bundle signature", id="job-context"),
    pytest.param(lambda s: sign(s, bundle()).model_copy(update={"payload": sign(s, bundle()).payload.replace(
        '"a_1"', '"a_2"')}), "bad policy bundle signature", id="altered"),
    pytest.param(lambda s: sign(s, bundle()).model_copy(update={"key_id": "nobody"}), "unknown key id",
                 id="unknown-key"),
    pytest.param(lambda s: sign(s, bundle(agent_id="a_2")), "for agent a_2", id="another-agent"),
    pytest.param(lambda s: sign(s, bundle(scripts=[script("rm -rf /\n")])), "hashes to", id="script-hash"),
    pytest.param(lambda s: sign(s, bundle(scripts=[])), "does not carry", id="script-missing"),
])
def test_refused(signer: JobSigner, keys: TrustedKeys, make, reason: str) -> None:
    with pytest.raises(BundleRefused, match=reason):
        verify_bundle(make(signer), keys, "a_1")
