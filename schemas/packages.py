"""``Package``: one version of a piece of software and how to install it per OS.

The artifact is pinned by SHA-256 (and optionally size) in reviewed YAML; the
agent checks both before it unpacks or runs anything. The ``Installer`` model
travels inside signed jobs unchanged, so what the agent executes is exactly
what was reviewed.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from schemas.limits import MAX_ARTIFACT_BYTES
from schemas.resources import Resource, SpecModel, register_kind

OsName = Literal["linux", "windows", "macos"]
ArchiveFormat = Literal["tar", "tar.gz", "tar.xz", "tar.bz2", "zip"]

_SHA256 = r"^[0-9a-f]{64}$"
_VERSION = r"^[A-Za-z0-9][A-Za-z0-9.+~_-]{0,63}$"


def archive_format_from_url(url: str) -> ArchiveFormat | None:
    path = urlsplit(url).path.lower()
    for suffix, fmt in (
        (".tar.gz", "tar.gz"), (".tgz", "tar.gz"), (".tar.xz", "tar.xz"), (".txz", "tar.xz"),
        (".tar.bz2", "tar.bz2"), (".tbz2", "tar.bz2"), (".tar", "tar"), (".zip", "zip"),
    ):
        if path.endswith(suffix):
            return fmt  # type: ignore[return-value]
    return None


class ArchiveInstaller(SpecModel):
    """Unpacked into ``<agent data dir>/software/<package>/<version>/``."""

    os: OsName
    arch: str | None = Field(
        default=None, description="Only for devices with this arch label (for example x86_64)."
    )
    type: Literal["archive"]
    url: str = Field(max_length=2048)
    sha256: str = Field(pattern=_SHA256, description="Lower-case hex SHA-256 of the artifact.")
    size: int | None = Field(default=None, gt=0, le=MAX_ARTIFACT_BYTES, description="Bytes.")
    format: ArchiveFormat | None = Field(
        default=None, description="Archive format; taken from the URL's suffix when omitted."
    )

    @field_validator("url")
    @classmethod
    def _url_scheme(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http", "file"):
            raise ValueError("url must start with https://, http:// (loopback only) or file://")
        if parts.scheme in ("https", "http") and not parts.hostname:
            raise ValueError("url has no host")
        if parts.username or parts.password:
            raise ValueError("url must not carry credentials")
        return url

    @model_validator(mode="after")
    def _known_format(self) -> ArchiveInstaller:
        if self.format is None and archive_format_from_url(self.url) is None:
            raise ValueError(
                "cannot tell the archive format from the url; add 'format: tar.gz' (or tar, "
                "tar.xz, tar.bz2, zip)"
            )
        return self

    @property
    def resolved_format(self) -> ArchiveFormat:
        fmt = self.format or archive_format_from_url(self.url)
        assert fmt is not None
        return fmt


Installer = ArchiveInstaller
"""Every installer type. Becomes a discriminated union on ``type`` as types are added."""


class PackageSpec(SpecModel):
    version: str = Field(
        pattern=_VERSION,
        description="Quote it in YAML (\"1.0\") so it stays a string.",
    )
    display_name: str | None = Field(default=None, max_length=200)
    publisher: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    installers: list[Installer] = Field(min_length=1, max_length=32)

    @model_validator(mode="after")
    def _one_installer_per_platform(self) -> PackageSpec:
        seen: set[tuple[str, str | None]] = set()
        for installer in self.installers:
            key = (installer.os, installer.arch)
            if key in seen:
                where = installer.os + (f"/{installer.arch}" if installer.arch else "")
                raise ValueError(f"two installers for {where}; keep one per os and arch")
            seen.add(key)
        return self

    def installer_for(self, os: str, arch: str | None) -> Installer | None:
        """The most specific installer for a device: exact arch first, then any-arch."""
        fallback = None
        for installer in self.installers:
            if installer.os != os:
                continue
            if installer.arch is not None and installer.arch == arch:
                return installer
            if installer.arch is None:
                fallback = installer
        return fallback


@register_kind
class Package(Resource):
    kind: Literal["Package"]
    spec: PackageSpec
