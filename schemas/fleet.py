"""``Fleet``: the one ``fleet.yaml`` at the repository root, settings for the whole MSP."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from schemas.monitoring import MonitorSettings
from schemas.resources import Resource, SpecModel, register_kind
from schemas.secrets import SealedValue
from schemas.ticketing import TicketSettings
from schemas.timezones import TimeZoneName

DEFAULT_STATUS_BRANCH = "fleetward/status"
DEFAULT_PROPOSALS = ("pr/*", "proposals/*")


class FleetDefaults(SpecModel):
    timezone: TimeZoneName = "UTC"
    monitors: MonitorSettings = Field(
        default_factory=MonitorSettings, description="What every agent watches; a Client may override parts.")


class Signer(SpecModel):
    """Someone whose signed commits the controller applies when signatures are required."""

    name: str = Field(min_length=1, max_length=200)
    ssh: str | None = Field(
        default=None, max_length=16_384,
        description="An SSH public key as in authorized_keys: 'ssh-ed25519 AAAA... comment'.")
    gpg: str | None = Field(
        default=None, pattern=r"^[0-9A-F]{40}$",
        description="A GPG key fingerprint (40 upper-case hex digits).")

    @model_validator(mode="after")
    def _one_key(self) -> Signer:
        if (self.ssh is None) == (self.gpg is None):
            raise ValueError("a signer needs exactly one of 'ssh' or 'gpg'")
        if self.ssh is not None and len(self.ssh.split()) < 2:
            raise ValueError("'ssh' must be a public key line such as 'ssh-ed25519 AAAA... name'")
        return self


class DellWarranty(SpecModel):
    """Dell TechDirect warranty API: OAuth2 client credentials."""

    client_id: SealedValue
    client_secret: SealedValue
    base_url: str = Field(default="https://apigtwb2c.us.dell.com", pattern=r"^https?://")


class LenovoWarranty(SpecModel):
    """Lenovo warranty API: a client id sent in the ClientID header."""

    client_id: SealedValue
    base_url: str = Field(default="https://supportapi.lenovo.com", pattern=r"^https?://")


class HpWarranty(SpecModel):
    """HP warranty API: an API key and secret exchanged for a token."""

    api_key: SealedValue
    api_secret: SealedValue
    base_url: str = Field(default="https://warranty.api.hp.com", pattern=r"^https?://")


class WarrantySettings(SpecModel):
    dell: DellWarranty | None = None
    lenovo: LenovoWarranty | None = None
    hp: HpWarranty | None = None
    cache_days: int = Field(default=30, ge=1, le=365, description="Re-ask a vendor this often per serial.")


class FleetSpec(SpecModel):
    display_name: str = Field(default="", max_length=200)
    status_branch: str = Field(
        default=DEFAULT_STATUS_BRANCH,
        pattern=r"^[A-Za-z0-9._/-]{1,200}$",
        description="Branch the controller commits status reports to. Never the applied branch.",
    )
    proposals: list[str] = Field(
        default_factory=lambda: list(DEFAULT_PROPOSALS),
        description="Branch patterns the controller plans but never applies.",
    )
    defaults: FleetDefaults = Field(default_factory=FleetDefaults)
    api_writes: Literal["proposal", "direct"] = Field(
        default="proposal",
        description="How desired-state writes through the API land: a commit on a new proposal branch "
                    "(reviewed like any pull request), or a commit straight on the applied branch.")
    require_signed_commits: bool = Field(
        default=False, description="Apply a head commit only when an allowed signer signed it.")
    allowed_signers: list[Signer] = Field(default_factory=list, max_length=500)
    tickets: TicketSettings = Field(
        default_factory=TicketSettings, description="PSA connectors that AlertTicketRules can route tickets to.")
    warranty: WarrantySettings = Field(default_factory=WarrantySettings)
    webhook_secret: SealedValue | None = Field(
        default=None, description="Shared secret for POST /api/hooks/git, sealed with 'fleetward seal'.")

    @model_validator(mode="after")
    def _signers_when_required(self) -> FleetSpec:
        if self.require_signed_commits and not self.allowed_signers:
            raise ValueError("requireSignedCommits needs at least one entry in allowedSigners")
        return self


@register_kind
class Fleet(Resource):
    kind: Literal["Fleet"]
    spec: FleetSpec = Field(default_factory=FleetSpec)
    placement = "msp"
