"""Send a branch of the mirror to the source repository, rebuilding on top of others' pushes.

The status branch can be written by several controller replicas, and by people. A push is
never forced: when it is rejected as not a fast-forward, :func:`push_branch` fetches the
branch, asks the caller to ``rebuild`` its commit on the new tip (the status writer simply
calls :func:`~controller.gitsource.commit_files` again with the same files) and tries
again, after a short jittered pause so racing replicas fall out of step.

Refusals that retrying cannot fix are ConfigError: pushing a protected branch (the
applied branch — status commits must never change desired state), or pushing to a
local repository that has the branch checked out (git will not move a checked-out branch).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from controller.errors import ConfigError, NotFound, SourceUnavailable
from controller.gitsource.mirroring import REMOTE, RepoMirror
from controller.gitsource.refnames import check_branch
from controller.gitsource.retrying import Backoff
from controller.gitsource.running import GitResult, failure, run_git

log = logging.getLogger(__name__)

_BEHIND = ("fetch first", "non-fast-forward")


def push_branch(mirror: RepoMirror, branch: str, rebuild: Callable[[], object] | None = None,
                attempts: int = 5, *, backoff: Backoff | None = None) -> None:
    """Push the mirror's ``refs/heads/<branch>`` to the source's branch of the same name.

    On a non-fast-forward rejection: fetch the branch, call ``rebuild()`` (which should
    commit the same content on top of the fetched tip), and retry, up to ``attempts``
    pushes in all; then SourceUnavailable. Without ``rebuild`` the first rejection is
    SourceUnavailable. ``backoff`` spaces the retries (default: full jitter, 50 ms to 1 s).
    ConfigError when ``branch`` is in ``mirror.protected`` or checked out in a local source.
    """
    check_branch(branch)
    if branch in mirror.protected:
        raise ConfigError(f"refusing to push {branch!r} to {mirror.display_source}: it is the applied "
                          f"branch, and status must never change desired state",
                          hint="set a different statusBranch in fleet.yaml")
    if attempts < 1:
        raise ValueError(f"attempts must be at least 1, got {attempts}")
    pause = backoff or Backoff(initial=0.05, maximum=1.0)
    ref = f"refs/heads/{branch}"
    with mirror.lock:
        for attempt in range(1, attempts + 1):
            if mirror.local_head(branch) is None:
                raise NotFound(f"the repository mirror {mirror.path} has no branch {branch!r} to push",
                               hint="commit to it first (commit_files)")
            result = run_git(mirror.repo, ["push", "--porcelain", REMOTE, f"{ref}:{ref}"],
                             timeout=mirror.timeout)
            if result.ok:
                return
            reason = push_rejection(result, ref)
            if reason is not None and "checked out" in reason:
                raise ConfigError(
                    f"cannot push {branch!r} to {mirror.display_source}: that repository has {branch!r} "
                    f"checked out in its work tree, and git refuses to move a checked-out branch",
                    hint="check out another branch there, use a bare repository as the source, or set "
                         "another statusBranch in fleet.yaml")
            action = f"git push of {branch!r} to {mirror.display_source}"
            if reason not in _BEHIND:
                raise SourceUnavailable(failure(result, action, mirror.timeout),
                                        hint="check the network, the credentials and the server's "
                                             "branch protection")
            if rebuild is None:
                raise SourceUnavailable(f"{action} was rejected: someone else pushed to {branch!r} first",
                                        hint="fetch, commit again on top, and push", delay=1.0)
            if attempt == attempts:
                break
            log.info("push of %s rejected (%s); rebuilding on the new tip, attempt %d of %d",
                     branch, reason, attempt + 1, attempts)
            time.sleep(pause.next_delay())
            mirror.fetch_branch(branch)
            rebuild()
    raise SourceUnavailable(f"git push of {branch!r} to {mirror.display_source} was rejected {attempts} "
                            f"times: others kept pushing to it", hint="it is retried at the next interval",
                            delay=1.0)


def push_rejection(result: GitResult, ref: str) -> str | None:
    """The reason git gave for refusing ``ref`` ("fetch first", ...), from ``--porcelain`` output."""
    # Porcelain lines are "<flag>\t<from>:<to>\t<summary> (<reason>)"; "!" marks a refusal.
    for line in result.stdout.splitlines():
        flag, _, rest = line.partition("\t")
        refs, _, summary = rest.partition("\t")
        if flag == "!" and refs.endswith(f":{ref}"):
            _, _, reason = summary.partition("(")
            return reason.rstrip(")").strip() or summary.strip()
    return None
