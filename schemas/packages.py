"""``Package``: one version of a piece of software and how to install it per OS.

Downloaded artifacts are pinned by SHA-256 and size in reviewed YAML; the agent
checks both before it unpacks or runs anything, and, when the installer names a
publisher ``signature``, an Ed25519 signature over the artifact's SHA-256 digest
too. The ``Installer`` model travels inside signed jobs unchanged, so what the
agent executes is exactly what was reviewed.

``Installer`` is a union discriminated on ``type``; each type runs on the OS
families in :data:`TYPE_OS` (an installer for another OS is an error naming the
types that fit). Besides ``archive`` (unpacked into the agent's data dir, kept
unchanged so existing fleets load), every type has:

* ``silentArgs``: extra arguments for the installer (msiexec already gets
  ``/qn /norestart``; an ``exe`` has no standard, so its arguments are required);
* ``exitCodes``: code -> meaning, overriding the type's defaults (see
  :mod:`agent.installers.exitcodes` and docs/deployments.md);
* ``preInstall`` / ``postInstall``: inline scripts (shell + text, capped at
  64 KiB) kept in the Package YAML so review sees exactly what runs. Library
  ``Script`` references are a later step: inline keeps the job self-contained;
* ``uninstall``: ``native`` (the type's own removal) or ``{command: [argv]}``;
* ``reboot``: ``never`` (reboot codes are logged, not requested),
  ``ifRequired`` (requested when the exit code says so) or ``always``. The agent
  only *requests* reboots in its result; it never reboots a device itself;
* ``timeoutSeconds``: the installer's time limit (its process tree is killed);
* ``detection``: rules in the precedence order of :mod:`schemas.detection`;
  types with a package database get a default rule, the others must give one.
"""

from __future__ import annotations

import base64
from typing import Annotated, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import Field, TypeAdapter, field_validator, model_validator

from schemas.detection import DetectionRule, InlineScript
from schemas.limits import MAX_ARTIFACT_BYTES
from schemas.resources import Resource, SpecModel, register_kind

OsName = Literal["linux", "windows", "macos"]
ArchiveFormat = Literal["tar", "tar.gz", "tar.xz", "tar.bz2", "zip"]
InstallerType = Literal["archive", "msi", "exe", "msix", "winget", "choco", "pkg", "dmg", "brew",
                        "deb", "rpm", "apt", "dnf", "script"]
ExitMeaning = Literal["success", "rebootSoft", "rebootHard", "retryLater", "failure"]
RebootBehaviour = Literal["never", "ifRequired", "always"]

TYPE_OS: dict[str, frozenset[str]] = {
    "archive": frozenset({"linux", "windows", "macos"}),
    "script": frozenset({"linux", "windows", "macos"}),
    "msi": frozenset({"windows"}), "exe": frozenset({"windows"}), "msix": frozenset({"windows"}),
    "winget": frozenset({"windows"}), "choco": frozenset({"windows"}),
    "pkg": frozenset({"macos"}), "dmg": frozenset({"macos"}), "brew": frozenset({"macos"}),
    "deb": frozenset({"linux"}), "rpm": frozenset({"linux"}), "apt": frozenset({"linux"}),
    "dnf": frozenset({"linux"}),
}
"""Which OS families each installer type runs on."""

_SHA256 = r"^[0-9a-f]{64}$"
_VERSION = r"^[A-Za-z0-9][A-Za-z0-9.+~_-]{0,63}$"
_PACKAGE_VERSION = r"^[A-Za-z0-9][A-Za-z0-9.+~:_-]{0,99}$"
_REPO_ID = r"^[A-Za-z0-9][A-Za-z0-9.+_@/-]{0,199}$"
_ARG = Annotated[str, Field(max_length=2000)]


def types_for(os: str) -> list[str]:
    return sorted(name for name, systems in TYPE_OS.items() if os in systems)


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http", "file"):
        raise ValueError("url must start with https://, http:// (loopback only) or file://")
    if parts.scheme in ("https", "http") and not parts.hostname:
        raise ValueError("url has no host")
    if parts.username or parts.password:
        raise ValueError("url must not carry credentials")
    return url


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
        return _check_url(url)

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


class PublisherSignature(SpecModel):
    """The publisher's Ed25519 signature over the 32 raw bytes of the artifact's SHA-256 digest.

    An extra check on top of the SHA-256 pinned in reviewed YAML: the pin says "the file review
    saw", the signature says "the file the publisher released"."""

    public_key: str = Field(description="Base64 of the 32-byte raw Ed25519 public key.", max_length=64)
    signature: str = Field(description="Base64 of the 64-byte Ed25519 signature.", max_length=128)

    @field_validator("public_key")
    @classmethod
    def _key_bytes(cls, value: str) -> str:
        return _base64_of(value, 32, "publicKey")

    @field_validator("signature")
    @classmethod
    def _signature_bytes(cls, value: str) -> str:
        return _base64_of(value, 64, "signature")


def _base64_of(value: str, size: int, what: str) -> str:
    try:
        raw = base64.b64decode(value, validate=True)
    except ValueError:
        raise ValueError(f"{what} is not base64") from None
    if len(raw) != size:
        raise ValueError(f"{what} must decode to {size} bytes, got {len(raw)}")
    return value


class UninstallCommand(SpecModel):
    """An explicit uninstall: an argv (no shell), with the installer's exit-code map and timeout."""

    command: list[_ARG] = Field(min_length=1, max_length=64)


class _Installer(SpecModel):
    """Fields every non-archive installer type shares (see the module docstring)."""

    os: OsName
    arch: str | None = Field(
        default=None, description="Only for devices with this arch label (for example x86_64)."
    )
    silent_args: list[_ARG] = Field(default_factory=list, max_length=64)
    exit_codes: dict[int, ExitMeaning] = Field(
        default_factory=dict, max_length=64,
        description="Exit code -> success | rebootSoft | rebootHard | retryLater | failure; "
                    "overrides the type's defaults.")
    pre_install: InlineScript | None = None
    post_install: InlineScript | None = None
    uninstall: Literal["native"] | UninstallCommand | None = Field(
        default=None, description="'native' (the type's own removal, the default where one exists) "
                                  "or {command: [argv]}.")
    reboot: RebootBehaviour = "ifRequired"
    timeout_seconds: int = Field(default=3600, ge=1, le=86_400)
    detection: list[DetectionRule] = Field(default_factory=list, max_length=16)

    has_native_uninstall: ClassVar[bool] = True
    needs_detection: ClassVar[bool] = False

    @model_validator(mode="after")
    def _fits(self) -> _Installer:
        kind: str = getattr(self, "type")  # noqa: B009  every subclass has a Literal type
        if self.os not in TYPE_OS[kind]:
            raise ValueError(f"'{kind}' installers run on {', '.join(sorted(TYPE_OS[kind]))} only; "
                             f"for {self.os} use one of: {', '.join(types_for(self.os))}")
        if self.uninstall == "native" and not self.has_native_uninstall:
            raise ValueError(f"'{kind}' installers have no native uninstall; give uninstall: {{command: [...]}}")
        if self.needs_detection and not self.detection:
            raise ValueError(f"'{kind}' installers need a detection rule (the agent cannot tell by itself "
                             "whether the software is installed); add detection: [...]")
        return self


class _Downloaded(_Installer):
    """An installer whose artifact the agent downloads: pinned by SHA-256 and size."""

    url: str = Field(max_length=2048)
    sha256: str = Field(pattern=_SHA256, description="Lower-case hex SHA-256 of the artifact.")
    size: int = Field(gt=0, le=MAX_ARTIFACT_BYTES, description="Bytes.")
    signature: PublisherSignature | None = None

    @field_validator("url")
    @classmethod
    def _url_scheme(cls, url: str) -> str:
        return _check_url(url)


class _FromRepository(_Installer):
    """An installer that names a package in a repository the OS tool already trusts."""

    package_id: str = Field(pattern=_REPO_ID, description="The package's id in its repository.")
    package_version: str | None = Field(
        default=None, pattern=_PACKAGE_VERSION,
        description="The repository's version string, when it differs from the Package version.")
    source: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
                               description="A configured source or repository name.")


class MsiInstaller(_Downloaded):
    type: Literal["msi"]
    product_code: str | None = Field(
        default=None, pattern=r"^\{[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}$",
        description="Enables the default detection rule and the native uninstall (msiexec /x).")

    @model_validator(mode="after")
    def _needs_product_code(self) -> MsiInstaller:
        if self.product_code is None and not self.detection:
            raise ValueError("an msi installer needs productCode (or a detection rule) so the agent can tell "
                             "whether it is installed")
        if self.product_code is None and self.uninstall == "native":
            raise ValueError("uninstall: native needs productCode (msiexec /x {code}); give it or a command")
        return self


class ExeInstaller(_Downloaded):
    type: Literal["exe"]
    silent_args: list[_ARG] = Field(min_length=1, max_length=64,
                                    description="An exe has no standard silent switch: give it (/S, /quiet, ...).")
    has_native_uninstall: ClassVar[bool] = False
    needs_detection: ClassVar[bool] = True


class MsixInstaller(_Downloaded):
    type: Literal["msix"]
    package_name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$",
                              description="The package's Name (Get-AppxPackage -Name), for detection and removal.")


class WingetInstaller(_FromRepository):
    type: Literal["winget"]
    needs_detection: ClassVar[bool] = True


class ChocoInstaller(_FromRepository):
    type: Literal["choco"]
    needs_detection: ClassVar[bool] = True


class PkgInstaller(_Downloaded):
    type: Literal["pkg"]
    package_identifier: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$",
        description="The receipt id (pkgutil --pkgs): enables the default detection rule and pkgutil --forget.")
    has_native_uninstall: ClassVar[bool] = False

    @model_validator(mode="after")
    def _detectable(self) -> PkgInstaller:
        if self.package_identifier is None and not self.detection:
            raise ValueError("a pkg installer needs packageIdentifier (or a detection rule)")
        return self


class DmgInstaller(_Downloaded):
    """Mounted read-only; ``app`` is copied (ditto) into ``destination``; uninstall removes it."""

    type: Literal["dmg"]
    app: str = Field(pattern=r"^[^/\x00]{1,200}\.app$", description="The bundle's name on the volume: Foo.app")
    destination: str = Field(default="/Applications", pattern=r"^/[^\x00]{0,500}$")


class BrewInstaller(_FromRepository):
    """Run as the console user (Homebrew refuses root); ``cask`` for apps."""

    type: Literal["brew"]
    cask: bool = False
    needs_detection: ClassVar[bool] = True


class DebInstaller(_Downloaded):
    type: Literal["deb"]
    package_name: str = Field(pattern=r"^[a-z0-9][a-z0-9+.-]{0,99}$",
                              description="The Debian package name (for detection and removal).")
    package_version: str | None = Field(default=None, pattern=_PACKAGE_VERSION,
                                        description="The .deb's version when it differs from the Package version.")


class RpmInstaller(_Downloaded):
    type: Literal["rpm"]
    package_name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9+._-]{0,99}$")
    package_version: str | None = Field(default=None, pattern=_PACKAGE_VERSION)


class AptInstaller(_FromRepository):
    type: Literal["apt"]


class DnfInstaller(_FromRepository):
    type: Literal["dnf"]


class ScriptInstaller(_Installer):
    """An install script; with ``url`` its artifact is downloaded and verified first and its path
    passed as ``FLEETWARD_ARTIFACT``."""

    type: Literal["script"]
    script: InlineScript
    url: str | None = Field(default=None, max_length=2048)
    sha256: str | None = Field(default=None, pattern=_SHA256)
    size: int | None = Field(default=None, gt=0, le=MAX_ARTIFACT_BYTES)
    signature: PublisherSignature | None = None
    has_native_uninstall: ClassVar[bool] = False
    needs_detection: ClassVar[bool] = True

    @model_validator(mode="after")
    def _pinned(self) -> ScriptInstaller:
        if self.url is not None:
            _check_url(self.url)
            if self.sha256 is None or self.size is None:
                raise ValueError("a script installer with a url needs sha256 and size")
        return self


Installer = Annotated[
    ArchiveInstaller | MsiInstaller | ExeInstaller | MsixInstaller | WingetInstaller | ChocoInstaller
    | PkgInstaller | DmgInstaller | BrewInstaller | DebInstaller | RpmInstaller | AptInstaller | DnfInstaller
    | ScriptInstaller,
    Field(discriminator="type"),
]
"""Every installer type, discriminated on ``type``."""

NativeInstaller = (MsiInstaller | ExeInstaller | MsixInstaller | WingetInstaller | ChocoInstaller | PkgInstaller
                   | DmgInstaller | BrewInstaller | DebInstaller | RpmInstaller | AptInstaller | DnfInstaller
                   | ScriptInstaller)
"""Every type except ``archive``: the ones run by the OS's own tools."""

INSTALLER_ADAPTER: TypeAdapter[Installer] = TypeAdapter(Installer)


def parse_installer(data: object) -> Installer:
    """An installer from JSON data (a stored job row, say)."""
    return INSTALLER_ADAPTER.validate_python(data)


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
