"""Revisions the controller has seen, and the read-only projection of the applied one.

Git stays the only source of desired state: the ``software_packages`` and
``package_deployments`` tables are a projection of the applied revision for the API
and status, replaced wholesale (in the same transaction as the revision row) each
time a revision is applied, and never edited otherwise. A rejected revision leaves
the projection alone; it is recorded once per sha with its problems.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict
from sqlalchemy import insert, select, update

from controller.desired import DesiredState
from controller.store.audit import record_audit
from controller.store.engine import Store
from controller.store.projection import replace_projection
from controller.store.rollouts import replace_schedules
from controller.store.tables import revisions

MAX_PROBLEMS = 1000
MAX_REVISION_PAGE = 500


class CommitDetails(Protocol):
    """What the store keeps of a commit (``controller.gitsource.CommitInfo`` has it)."""

    @property
    def author_name(self) -> str: ...

    @property
    def author_email(self) -> str: ...

    @property
    def committed_at(self) -> datetime | None: ...

    @property
    def summary(self) -> str: ...


class RevisionRow(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    sha: str
    branch: str
    state: Literal["applied", "rejected"]
    problems: list[str]
    author: str
    summary: str
    committed_at: datetime | None
    seen_at: datetime
    applied_at: datetime | None
    plan_note: str | None = None
    """How the applied plan differed from the plan published for the merged proposal."""


def _author(info: CommitDetails) -> str:
    return f"{info.author_name} <{info.author_email}>"[:500] if info.author_email else info.author_name[:500]


def _revision_values(sha: str, branch: str, info: CommitDetails, now: datetime) -> dict[str, Any]:
    return {"sha": sha, "branch": branch, "author": _author(info), "summary": info.summary[:500],
            "committed_at": info.committed_at, "seen_at": now}


def record_applied(store: Store, sha: str, branch: str, info: CommitDetails, desired: DesiredState,
                   now: datetime) -> None:
    """Record ``sha`` as applied and replace the projection with ``desired``'s packages and deployments."""
    with store.write() as session:
        latest = session.execute(select(revisions.c.sha).where(revisions.c.state == "applied")
                                 .order_by(revisions.c.id.desc()).limit(1)).scalar_one_or_none()
        if latest != sha:  # re-applying the current revision (a restart) adds no history row
            session.execute(insert(revisions).values(
                **_revision_values(sha, branch, info, now), state="applied", problems=[], applied_at=now))
            record_audit(session, actor=_author(info), actor_kind="commit", action="revision.applied",
                         target=sha, detail={"branch": branch, "summary": info.summary[:200]}, now=now)
        replace_projection(session, sha, desired)
        replace_schedules(session, sha, desired)


def record_rejected(store: Store, sha: str, branch: str, info: CommitDetails, problems: list[str],
                    now: datetime) -> None:
    """Record ``sha`` as rejected with its ``path:line:col: message`` problems (once per sha)."""
    with store.write() as session:
        seen = session.execute(select(revisions.c.id).where(
            revisions.c.sha == sha, revisions.c.state == "rejected").limit(1)).first()
        if seen is not None:
            return
        kept = problems[:MAX_PROBLEMS]
        if len(problems) > MAX_PROBLEMS:
            kept.append(f"... and {len(problems) - MAX_PROBLEMS} more problems")
        session.execute(insert(revisions).values(
            **_revision_values(sha, branch, info, now), state="rejected", problems=kept, applied_at=None))
        record_audit(session, actor=_author(info), actor_kind="commit", action="revision.rejected",
                     target=sha, detail={"branch": branch, "problems": len(problems)}, now=now)


_COLUMNS = tuple(revisions.c)


def last_applied(store: Store) -> RevisionRow | None:
    """The revision in force: the most recently applied one."""
    with store.read() as session:
        row = session.execute(select(*_COLUMNS).where(revisions.c.state == "applied")
                              .order_by(revisions.c.id.desc()).limit(1)).mappings().one_or_none()
    return RevisionRow.model_validate(dict(row)) if row is not None else None


def list_revisions(store: Store, limit: int = 50, state: Literal["applied", "rejected"] | None = None, *,
                   client: str | None = None) -> list[RevisionRow]:
    """Newest first. A revision is the whole repository; a ``client``-scoped caller sees only
    the problems in that client's folder (and how many others were hidden)."""
    statement = select(*_COLUMNS).order_by(revisions.c.id.desc()).limit(max(1, min(limit, MAX_REVISION_PAGE)))
    if state is not None:
        statement = statement.where(revisions.c.state == state)
    with store.read() as session:
        rows = [RevisionRow.model_validate(dict(row)) for row in session.execute(statement).mappings()]
    if client is None:
        return rows
    return [row.model_copy(update={"problems": _problems_of(client, row.problems)}) for row in rows]


def _problems_of(client: str, problems: list[str]) -> list[str]:
    folder = f"/clients/{client}/"
    own = [problem for problem in problems if folder in "/" + problem.split(":", 1)[0]]
    hidden = len(problems) - len(own)
    return own + ([f"({hidden} problems outside clients/{client}/ are not shown)"] if hidden else [])


def note_applied_plan(store: Store, sha: str, note: str) -> None:
    """Attach ``note`` (the drift from the published proposal plan) to applied revision ``sha``."""
    with store.write() as session:
        session.execute(update(revisions).where(revisions.c.sha == sha, revisions.c.state == "applied")
                        .values(plan_note=note[:20_000]))
