"""``POST /api/hooks/git``: push (and pull/merge request) events from GitHub, GitLab and Gitea.

Verified before anything else: GitHub's ``X-Hub-Signature-256`` and Gitea's
``X-Gitea-Signature`` are HMAC-SHA256 of the raw body with the shared secret; GitLab
sends the secret itself in ``X-Gitlab-Token``. A wrong or missing proof is 401, audited,
and fetches nothing. A verified event only asks the reconciler to fetch: a flood of
events is coalesced into one fetch, and what is applied is still only what the fetch
finds on the branch (the payload is never trusted for content).
"""

from __future__ import annotations

import hashlib
import hmac
import logging

from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from controller.api.auth import ContextDep
from controller.api.problems import ApiError
from controller.store import record_audit

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/hooks", tags=["webhooks"])


class HookAccepted(BaseModel):
    accepted: bool
    provider: str
    event: str
    fetch: str


def _hmac_hex(secret: bytes, body: bytes) -> str:
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify(headers: dict[str, str], body: bytes, secret: bytes) -> tuple[str, str] | None:
    """(provider, event) when the request proves knowledge of ``secret``, else None."""
    github = headers.get("x-hub-signature-256", "")
    if github:
        expected = "sha256=" + _hmac_hex(secret, body)
        ok = hmac.compare_digest(github.encode(), expected.encode())
        return ("github", headers.get("x-github-event", "push")) if ok else None
    gitea = headers.get("x-gitea-signature", "") or headers.get("x-gogs-signature", "")
    if gitea:
        ok = hmac.compare_digest(gitea.lower().encode(), _hmac_hex(secret, body).encode())
        return ("gitea", headers.get("x-gitea-event", "push")) if ok else None
    gitlab = headers.get("x-gitlab-token", "")
    if gitlab:
        ok = hmac.compare_digest(gitlab.encode(), secret)
        return ("gitlab", headers.get("x-gitlab-event", "Push Hook")) if ok else None
    return None


@router.post("/git", status_code=202, response_model=HookAccepted)
async def git_hook(request: Request, ctx: ContextDep) -> HookAccepted:
    body = await request.body()
    secret = ctx.webhook_secret()
    headers = {key.lower(): value for key, value in request.headers.items()}
    verdict = verify(headers, body, secret) if secret else None
    if verdict is None:
        client = request.client.host if request.client else "unknown"
        reason = "no webhook secret is configured" if not secret else "missing or wrong signature/token"
        await run_in_threadpool(
            record_audit, ctx.store, actor=f"webhook from {client}", actor_kind="system",
            action="webhook.refused", target="/api/hooks/git", detail={"reason": reason}, now=ctx.now())
        log.warning("refused a webhook from %s: %s", client, reason)
        raise ApiError(401, "webhook_unauthorized",
                       f"webhook refused: {reason}; configure the same secret on the git host and in "
                       "the Fleet's webhookSecret (or --webhook-secret-file)")
    provider, event = verdict
    if event == "ping":
        return HookAccepted(accepted=True, provider=provider, event=event, fetch="not needed")
    ctx.request_fetch()
    return HookAccepted(accepted=True, provider=provider, event=event, fetch="scheduled")
