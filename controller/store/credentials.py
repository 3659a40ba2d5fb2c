"""The shape of every bearer secret the controller hands out, and how it is checked.

A credential reads ``<prefix>_<id>_<secret>``: ``fwe_`` enrolment tokens, ``fwt_`` API
tokens, ``fwa_`` agent credentials. The id is the row's primary key, so checking a
credential is one primary-key lookup; the secret is 32 random bytes (urlsafe
base64) of which only the SHA-256 is stored, compared in constant time. A leaked
database therefore holds nothing that authenticates.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

SECRET_BYTES = 32
_SECRET_SHAPE = r"[A-Za-z0-9_-]{43}"  # noqa: S105 - a regex: base64url of 32 bytes, unpadded
_PATTERNS = {
    "fwe": re.compile(rf"fwe_(e_[0-9a-f]{{16}})_({_SECRET_SHAPE})"),
    "fwt": re.compile(rf"fwt_(t_[0-9a-f]{{16}})_({_SECRET_SHAPE})"),
    "fwa": re.compile(rf"fwa_(a_[0-9a-f]{{32}})_({_SECRET_SHAPE})"),
}
MAX_CREDENTIAL_CHARS = 100


def new_secret() -> str:
    return secrets.token_urlsafe(SECRET_BYTES)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def compose(prefix: str, row_id: str, secret: str) -> str:
    return f"{prefix}_{row_id}_{secret}"


def parse(prefix: str, credential: str) -> tuple[str, str] | None:
    """(row id, secret) when ``credential`` has the right shape for ``prefix``, else None."""
    if len(credential) > MAX_CREDENTIAL_CHARS:
        return None
    match = _PATTERNS[prefix].fullmatch(credential)
    return (match.group(1), match.group(2)) if match else None


def matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)
