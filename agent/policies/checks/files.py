"""``file`` checks: presence, a line matching a pattern, SHA-256, permission bits and owner.

Read from the file system directly. ``contains`` reads at most :data:`MAX_CONTENT_BYTES` (a
larger file is an error, never half-searched) and reports only the matching line's number, not
its text; ``sha256`` streams the whole file up to :data:`MAX_HASH_BYTES`. ``mode`` and ``owner``
are POSIX ideas: asked on Windows, the check is not applicable (ACLs are not modes).
"""

from __future__ import annotations

import hashlib
import re
import stat
from pathlib import Path

from agent.policies.checks.host import Host
from agent.policies.checks.results import Finding, error, judged, not_applicable
from schemas.checks import FileCheck

MAX_CONTENT_BYTES = 16 * 1024 * 1024
MAX_HASH_BYTES = 4 * 1024 * 1024 * 1024


def evaluate_file(check: FileCheck, host: Host) -> Finding:
    if host.os == "windows" and (check.mode or check.owner):
        return not_applicable("mode and owner are POSIX permissions; Windows files have ACLs instead")
    path = Path(check.path)
    try:
        info = path.stat()
    except FileNotFoundError:
        return judged(not check.exists, f"{path} does not exist")
    except OSError as exc:
        return error(f"cannot look at {path}: {exc.strerror or exc}")
    if not check.exists:
        return judged(False, f"{path} exists and should not")
    notes: list[str] = []
    problems: list[str] = []
    if check.mode is not None:
        actual, wanted = stat.S_IMODE(info.st_mode), int(check.mode, 8)
        (notes if actual == wanted else problems).append(f"mode {actual:04o}" + ("" if actual == wanted
                                                                                   else f", should be {wanted:04o}"))
    if check.owner is not None:
        owner = _owner(info.st_uid)
        (notes if check.owner in (owner, str(info.st_uid)) else problems).append(
            f"owner {owner}" + ("" if check.owner in (owner, str(info.st_uid)) else f", should be {check.owner}"))
    if (check.contains or check.sha256) and not stat.S_ISREG(info.st_mode):
        return error(f"{path} is not a regular file; contains/sha256 need one")
    if check.sha256 is not None:
        if info.st_size > MAX_HASH_BYTES:
            return error(f"{path} is {info.st_size} bytes, over the {MAX_HASH_BYTES}-byte hashing limit")
        digest = _sha256(path)
        (notes if digest == check.sha256 else problems).append(f"sha256 {digest}")
    if check.contains is not None:
        if info.st_size > MAX_CONTENT_BYTES:
            return error(f"{path} is {info.st_size} bytes; contains reads at most {MAX_CONTENT_BYTES}")
        line = _matching_line(path, check.contains)
        (notes if line else problems).append(f"line {line} matches" if line
                                             else f"no line matches {check.contains!r}")
    if problems:
        return judged(False, f"{path}: " + "; ".join(problems + notes))
    return judged(True, f"{path} exists" + (": " + "; ".join(notes) if notes else ""))


def _owner(uid: int) -> str:
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        return str(uid)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _matching_line(path: Path, pattern: str) -> int:
    """The 1-based number of the first matching line, 0 when none matches."""
    compiled = re.compile(pattern)
    with path.open("rb") as handle:
        text = handle.read(MAX_CONTENT_BYTES).decode("utf-8", "replace")
    for number, line in enumerate(text.splitlines(), start=1):
        if compiled.search(line):
            return number
    return 0
