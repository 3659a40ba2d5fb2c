"""Published plans of proposal heads: what a pull request would do, for the API and status.

One row per proposal branch (or pull/merge request ref), replaced when the head moves and
deleted when the branch disappears. ``tree`` lets the controller recognise, when a revision
is applied, the proposal it came from (a fast-forward, merge or squash lands the same tree).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import delete, select

from controller.store.engine import Store
from controller.store.tables import proposal_plans


class ProposalPlanRow(BaseModel):
    model_config = ConfigDict(frozen=True)

    branch: str
    head: str
    base: str | None
    tree: str
    valid: bool
    markdown: str
    data: dict[str, Any]
    planned_at: datetime


def save_proposal_plan(store: Store, row: ProposalPlanRow) -> None:
    with store.write() as session:
        session.execute(delete(proposal_plans).where(proposal_plans.c.branch == row.branch))
        session.execute(proposal_plans.insert().values(**row.model_dump()))


def forget_proposal_plans(store: Store, keep: Collection[str]) -> list[str]:
    """Delete plans of branches not in ``keep`` (deleted or no longer proposals); their names."""
    with store.write() as session:
        stored = list(session.execute(select(proposal_plans.c.branch)).scalars())
        gone = [branch for branch in stored if branch not in keep]
        if gone:
            session.execute(delete(proposal_plans).where(proposal_plans.c.branch.in_(gone)))
    return gone


def get_proposal_plan(store: Store, branch: str) -> ProposalPlanRow | None:
    with store.read() as session:
        row = session.execute(select(*proposal_plans.c).where(proposal_plans.c.branch == branch)
                              ).mappings().one_or_none()
    return ProposalPlanRow.model_validate(dict(row)) if row is not None else None


def list_proposal_plans(store: Store) -> list[ProposalPlanRow]:
    with store.read() as session:
        rows = session.execute(select(*proposal_plans.c).order_by(proposal_plans.c.branch)).mappings().all()
    return [ProposalPlanRow.model_validate(dict(row)) for row in rows]


def plan_for_tree(store: Store, tree: str) -> ProposalPlanRow | None:
    """The valid published plan whose head has this tree (newest first), if any."""
    with store.read() as session:
        row = session.execute(
            select(*proposal_plans.c).where(proposal_plans.c.tree == tree, proposal_plans.c.valid)
            .order_by(proposal_plans.c.planned_at.desc()).limit(1)).mappings().one_or_none()
    return ProposalPlanRow.model_validate(dict(row)) if row is not None else None
