"""Land one desired-state write in git: edit, validate, commit, push — again on the new tip if
someone pushed first.

Each attempt starts from a base commit of the controller's mirror: the applied branch's
tip as last fetched. The operation computes its files against that base; the edited
tree is loaded with :func:`controller.loading.load_revision` exactly as the controller
would load the commit, so an invalid write is refused (RevisionInvalid, every problem)
before anything is committed. Then a commit is built without a checkout and pushed:

* ``proposal`` mode: to a new branch ``proposals/api-<UTC time>-<kind>-<ref>`` from the
  applied branch's tip. The branch cannot exist yet (the push is refused if it does, and
  the next attempt takes ``-2``, ``-3``...), so no one's work is ever overwritten.
* ``direct`` mode: to the applied branch, only if it is still at the base. If it moved,
  the branch is fetched and the whole edit is made again on its new tip and validated
  again, up to ``attempts`` times (with jittered pauses), so concurrent writers —
  replicas, people, other API calls — never lose one another's commits.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from controller.desired import DesiredState
from controller.errors import NotFound, RevisionInvalid, SourceUnavailable
from controller.gitsource import Backoff, RepoMirror
from controller.loading import load_revision
from controller.writing.committing import Person, build_commit
from controller.writing.errors import OutsideScope
from controller.writing.operations import Operation
from controller.writing.placing import belongs_to
from controller.writing.pushing import push_commit
from controller.writing.trees import BaseTree, OverlaySource

log = logging.getLogger(__name__)

Mode = Literal["proposal", "direct"]
PROPOSAL_PREFIX = "proposals/api-"
COMMITTER = Person("Fleetward", "controller@fleetward.invalid")


@dataclass(frozen=True)
class WriteResult:
    """What a write did: the branch and commit it pushed (None for both when nothing changed)."""

    mode: Mode
    branch: str | None
    commit: str | None
    files: list[str]
    """Changed paths, relative to the repository root."""
    created: bool
    attempts: int = 1

    @property
    def changed(self) -> bool:
        return self.commit is not None


@dataclass(frozen=True)
class Author:
    """Who asked for the write: an API token (its name, and its id for the e-mail address)."""

    name: str
    token_id: str

    @property
    def person(self) -> Person:
        return Person(self.name, f"{self.token_id}@fleetward.invalid")


def proposal_branch(operation: Operation, when: datetime, attempt: int) -> str:
    """``proposals/api-20260101-120000-policy-acme.disk-space`` (``-2``, ``-3`` on a clash)."""
    kind = re.sub(r"(?<!^)(?=[A-Z])", "-", operation.target.kind).lower()
    stamp = when.astimezone(UTC).strftime("%Y%m%d-%H%M%S")
    suffix = f"-{attempt}" if attempt > 1 else ""
    return f"{PROPOSAL_PREFIX}{stamp}-{kind}-{operation.target.ref}{suffix}"


def commit_message(operation: Operation, author: Author) -> str:
    return (f"{operation.verb} {operation.target.title}\n\n"
            f"Written through the Fleetward API by {author.name} (token {author.token_id}).\n")


@dataclass
class DesiredStateWriter:
    """Writes to ``branch`` (the applied branch) of ``mirror``'s source; ``subdir`` is the fleet folder."""

    mirror: RepoMirror
    branch: str
    subdir: str = ""
    attempts: int = 8
    backoff: Callable[[], Backoff] = lambda: Backoff(initial=0.05, maximum=1.0)
    sleep: Callable[[float], None] = field(default=time.sleep)

    def write(self, operation: Operation, *, mode: Mode, author: Author, when: datetime,
              applied: DesiredState | None, confined_to: str | None) -> WriteResult:
        """Land ``operation``; ``confined_to`` is the client a client-scoped token may write for.

        Raises OutsideScope, NotFound, ResourceExists, NotEditable, RevisionInvalid (nothing
        was committed for any of them), PushRefused, or SourceUnavailable (retryable).
        """
        if confined_to is not None and operation.target.scope != confined_to:
            raise OutsideScope(f"this token may only write resources of client {confined_to}",
                               hint=f"send \"client\": \"{confined_to}\"")
        base_sha = self._tip()
        pause = self.backoff()
        for attempt in range(1, self.attempts + 1):
            base = BaseTree(self.mirror, base_sha, self.subdir)
            edits = operation.edits(base, applied)
            outside = [path for path in edits.files if confined_to is not None and not belongs_to(path, confined_to)]
            if outside:
                raise OutsideScope(f"this token may only write under clients/{confined_to}/, not {outside[0]}")
            if not edits.files:
                return WriteResult(mode, None, None, [], created=False, attempts=attempt)
            self._validate(operation, base, edits.files, applied)
            sha = build_commit(base, edits.files, commit_message(operation, author), author=author.person,
                               committer=COMMITTER, when=when)
            if sha is None:
                return WriteResult(mode, None, None, [], created=False, attempts=attempt)
            target = self.branch if mode == "direct" else proposal_branch(operation, when, attempt)
            if push_commit(self.mirror, sha, target, expected=base_sha if mode == "direct" else None):
                files = sorted(base.repo_path(path) for path in edits.files)
                log.info("%s %s: pushed %s to %s (attempt %d)", operation.verb, operation.target.title,
                         sha[:12], target, attempt)
                return WriteResult(mode, target, sha, files, created=edits.created, attempts=attempt)
            log.info("push of %s to %s lost a race (attempt %d of %d); rebuilding on the new tip",
                     operation.target.title, target, attempt, self.attempts)
            if attempt < self.attempts:
                self.sleep(pause.next_delay())
                if mode == "direct":
                    base_sha = self._fetched_tip()
        raise SourceUnavailable(f"could not push {operation.target.title}: {self.branch!r} kept moving "
                                f"({self.attempts} attempts)", hint="send the request again", delay=1.0)

    def _validate(self, operation: Operation, base: BaseTree, files: dict[str, bytes],
                  applied: DesiredState | None) -> None:
        try:
            load_revision(OverlaySource(base.source(), files, revision=base.sha))
        except RevisionInvalid:
            operation.explain_invalid(base, applied)
            raise

    def _tip(self) -> str:
        return self.mirror.head(self.branch) or self._fetched_tip()

    def _fetched_tip(self) -> str:
        tip = self.mirror.fetch_branch(self.branch)
        if tip is None:
            raise NotFound(f"branch {self.branch!r} is not in {self.mirror.display_source}",
                           hint="check the controller's --branch")
        return tip
