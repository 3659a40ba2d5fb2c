"""Push one commit to a branch of the source repository, only if the branch is where we think.

``git push --force-with-lease=refs/heads/<branch>:<expected>`` sends the commit only when
the remote branch is still at ``expected`` (the commit the write was built on), or — with
no ``expected`` — when the branch does not exist yet (a new proposal branch). Otherwise
the push is refused as "stale info" and :func:`push_commit` returns False: someone pushed
meanwhile, and the caller rebuilds its edit on the new tip. Nothing is ever overwritten.
git updates the mirror's ``refs/remotes/origin/<branch>`` itself after a push succeeds.
"""

from __future__ import annotations

from controller.errors import SourceUnavailable
from controller.gitsource import RepoMirror
from controller.gitsource.mirroring import REMOTE
from controller.gitsource.pushing import push_rejection
from controller.gitsource.refnames import check_branch
from controller.gitsource.running import failure, run_git
from controller.writing.errors import PushRefused

RACES = ("stale info", "fetch first", "non-fast-forward", "already exists", "failed to update ref",
         "failed to lock", "cannot lock ref")
"""Refusals that mean "the branch moved" (or is moving: another push holds its lock right now):
build again on its new tip, or under a new name."""


def push_commit(mirror: RepoMirror, sha: str, branch: str, expected: str | None) -> bool:
    """True when ``sha`` is now the tip of ``branch`` at the source; False when the branch moved
    (or, with ``expected`` None, already exists). PushRefused when the source refuses it for
    good (branch protection, a hook, a checked-out branch); SourceUnavailable when it cannot
    be reached."""
    check_branch(branch)
    ref = f"refs/heads/{branch}"
    lease = f"--force-with-lease={ref}:{expected or ''}"
    with mirror.lock:
        result = run_git(mirror.repo, ["push", "--porcelain", lease, REMOTE, f"{sha}:{ref}"],
                         timeout=mirror.timeout)
    if result.ok:
        return True
    reason = push_rejection(result, ref)
    if reason is None:
        raise SourceUnavailable(failure(result, f"git push of {branch!r} to {mirror.display_source}",
                                        mirror.timeout),
                                hint="check the network and the controller's credentials for the repository")
    if any(race in reason for race in RACES):
        return False
    raise PushRefused(f"{mirror.display_source} refused the push to {branch!r}: {reason}",
                      hint="allow the controller to push this branch (branch protection, hooks), or set "
                           "apiWrites: proposal in fleet.yaml so writes go to proposal branches")
