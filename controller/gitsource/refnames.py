"""Check branch names before they reach git's command line or a refspec.

The rules are git's own (``git check-ref-format --branch``), checked in Python so a bad
name fails with a clear message instead of an obscure git error, and so a name can never
be read as an option (a leading ``-``) or widen a refspec (``*``).
"""

from __future__ import annotations

from controller.errors import ConfigError

MAX_BRANCH_CHARS = 255
_FORBIDDEN = set(" ~^:?*[\\") | {chr(code) for code in range(32)} | {"\x7f"}


def check_branch(branch: str) -> str:
    """``branch`` if it is a valid branch name; ConfigError saying what is wrong otherwise."""
    reason = _problem(branch)
    if reason is not None:
        raise ConfigError(f"branch name {branch[:MAX_BRANCH_CHARS]!r} is not valid: {reason}",
                          hint="use a name such as 'main' or 'fleetward/status'")
    return branch


def _problem(branch: str) -> str | None:
    if not branch:
        return "it is empty"
    if len(branch) > MAX_BRANCH_CHARS:
        return f"it is longer than {MAX_BRANCH_CHARS} characters"
    if branch.startswith("-"):
        return "it starts with '-'"
    if branch == "HEAD":
        return "'HEAD' is not a branch"
    if branch == "@" or "@{" in branch:
        return "it contains '@{' or is '@'"
    if bad := sorted(_FORBIDDEN.intersection(branch)):
        return f"it contains {''.join(bad)!r}"
    if ".." in branch or "//" in branch:
        return "it contains '..' or '//'"
    if branch.startswith("/") or branch.endswith(("/", ".", ".lock")):
        return "it starts with '/' or ends with '/', '.' or '.lock'"
    if any(part.startswith(".") or part.endswith(".lock") for part in branch.split("/")):
        return "a component starts with '.' or ends with '.lock'"
    if branch.startswith("refs/"):
        return "give the branch name without 'refs/'"
    return None
