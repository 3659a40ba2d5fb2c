"""The controller's git adapter: a fresh local mirror of the fleet repository, and the way back.

It keeps a bare clone of the fleet repository up to date (:class:`RepoMirror`), says
when a local repository's branch moved (:func:`watch_refs`), commits whole file trees to
a branch without a checkout (:func:`commit_files`) and pushes them, retrying when
someone else pushed first (:func:`push_branch`), and checks commit signatures against the
allowed signers (:func:`verify_commit`). It knows nothing of YAML or SQL.

Git runs without ever prompting and with a deadline; every address in an error or a log
line has its credentials redacted. Failures that may pass (fetch, push) raise
:class:`~controller.errors.SourceUnavailable`; wrong settings raise
:class:`~controller.errors.ConfigError`.
"""

from __future__ import annotations

from controller.gitsource.committing import commit_files
from controller.gitsource.mirroring import CommitInfo, RepoMirror
from controller.gitsource.pushing import push_branch
from controller.gitsource.redacting import redact
from controller.gitsource.retrying import Backoff
from controller.gitsource.signatures import SignatureVerdict, verify_commit
from controller.gitsource.watching import watch_refs

__all__ = [
    "Backoff",
    "CommitInfo",
    "RepoMirror",
    "SignatureVerdict",
    "commit_files",
    "push_branch",
    "redact",
    "verify_commit",
    "watch_refs",
]
