"""``GET /api/seal/public-key``: the key technicians seal values to (no token: it is public).

``fleetward seal --server URL`` reads it. The answer is the newest sealing key of the
controller's key folder (``<data dir>/keys/``), followed as it changes, so a rotation shows
here at once. The folder is taken from ``app.state.sealing_keys`` when the server put one
there, else opened once from the settings' data dir; the first key pair is made on demand.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from controller.api.auth import ContextDep
from controller.secrets import ALGORITHM, KeyFolder

router = APIRouter(prefix="/api/seal", tags=["secrets"])


class SealingPublicKey(BaseModel):
    key_id: str = Field(description="First 16 hex digits of the SHA-256 of the raw public key; sealed values "
                                    "name it (sealed:v1:<key id>:...).")
    public_key: str = Field(description="The raw 32-byte X25519 public key, base64.")
    algorithm: str = Field(default=ALGORITHM, description="How values are sealed to it.")


def sealing_keys(request: Request, ctx: ContextDep) -> KeyFolder:
    """The app's key folder, opened on first use."""
    folder: KeyFolder | None = getattr(request.app.state, "sealing_keys", None)
    if folder is None:
        folder = KeyFolder(ctx.settings.data_dir / "keys")
        request.app.state.sealing_keys = folder
    return folder


@router.get("/public-key", response_model=SealingPublicKey)
def public_key(request: Request, response: Response, ctx: ContextDep) -> SealingPublicKey:
    """The public key new values are sealed to. Safe to publish; no token needed."""
    key = sealing_keys(request, ctx).ensure().sealing_key
    response.headers["Cache-Control"] = "no-cache"  # a rotation must show at once
    return SealingPublicKey(key_id=key.key_id, public_key=key.base64, algorithm=ALGORITHM)
