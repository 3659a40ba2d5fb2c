"""The controller's own bare clone of the fleet repository, kept fresh by fetching.

Everything that reads desired state reads it from this mirror's objects
(``controller.loading.GitTreeSource(mirror.path, sha)``), never from a checkout, so a
fetch can run while a revision is being loaded. Fetched branches live under
``refs/remotes/origin/*``; the mirror's own ``refs/heads/*`` hold only what the
controller commits (the status branch) until :func:`~controller.gitsource.push_branch`
sends it.

One :class:`RepoMirror` is shared by the reconciler (fetch) and the status publisher
(commit, push), which run in different threads; :attr:`RepoMirror.lock` serialises git
work on it, because GitPython's ``Repo`` is not thread-safe and concurrent ref updates
would fail on git's lock files.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import git

from controller.errors import ConfigError, NotFound, SourceUnavailable
from controller.gitsource.locations import Location, parse_location
from controller.gitsource.redacting import redact
from controller.gitsource.refnames import check_branch
from controller.gitsource.running import DEFAULT_TIMEOUT, GitResult, failure, run_git

log = logging.getLogger(__name__)

REMOTE = "origin"
TRACKING_PREFIX = f"refs/remotes/{REMOTE}/"
FETCH_REFSPEC = f"+refs/heads/*:{TRACKING_PREFIX}*"
REVIEWS_PREFIX = "refs/fleetward/reviews/"
REVIEW_REFSPECS = (
    # GitHub pull requests and GitLab merge requests, when the remote has them (a refspec that
    # matches nothing fetches nothing and is no error). Tracked as "pull/12/head" and
    # "merge-requests/7/head", so they can be planned like proposal branches.
    f"+refs/pull/*/head:{REVIEWS_PREFIX}pull/*/head",
    f"+refs/merge-requests/*/head:{REVIEWS_PREFIX}merge-requests/*/head",
)
MAX_SUMMARY_CHARS = 500
MAX_PERSON_CHARS = 200


@dataclass(frozen=True)
class CommitInfo:
    """Who made a commit, when, and its first line — what audit rows and status reports show."""

    sha: str
    author_name: str
    author_email: str
    committed_at: datetime
    """Timezone-aware, in the committer's offset."""
    summary: str


class RepoMirror:
    """A bare clone of ``source`` at ``mirror_dir``.

    ``source`` is a local path or any URL git understands (checked by
    :func:`~controller.gitsource.locations.parse_location`). ``protected`` names the
    branches :func:`~controller.gitsource.push_branch` must never push — the applied
    branch, so status commits can never change desired state or trigger a reconcile.
    ``timeout`` bounds every fetch and push, in seconds.

    Operations create the mirror on first use; :meth:`ensure` does it up front.
    """

    def __init__(self, source: str, mirror_dir: Path, *, protected: Iterable[str] = (),
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        self.location: Location = parse_location(source)
        self.path = Path(mirror_dir).absolute()
        self.protected = frozenset(check_branch(name) for name in protected)
        self.timeout = timeout
        self.lock = threading.RLock()
        self._repo: git.Repo | None = None

    # -- what the mirror is ---------------------------------------------------------------

    @property
    def display_source(self) -> str:
        """The source address with credentials hidden, for messages and logs."""
        return redact(self.location.address)

    @property
    def is_local(self) -> bool:
        """True when the source is a repository on this machine (a path or a ``file://`` URL)."""
        return self.location.local_path is not None

    @property
    def local_git_dir(self) -> Path | None:
        """For a local source, the directory holding its refs, else None.

        That is ``.git`` of a work tree, the common git dir of a linked worktree, or the bare
        repository itself; None too while the local path is not (yet) a git repository.
        """
        local = self.location.local_path
        if local is None:
            return None
        try:
            repo = git.Repo(local)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            return None
        try:
            return Path(repo.common_dir).resolve()
        finally:
            repo.close()

    def __repr__(self) -> str:
        return f"RepoMirror({self.display_source!r}, {str(self.path)!r})"

    # -- creating --------------------------------------------------------------------------

    def ensure(self) -> None:
        """Create the bare mirror if it is missing; check an existing one mirrors ``source``.

        Idempotent. A mirror made for another repository is a ConfigError rather than being
        silently repointed: its history and status branch belong to that other fleet. A
        changed password or token in the URL is not another repository, and is taken over.
        """
        with self.lock:
            if self._repo is not None:
                return
            if not self.path.exists() or _is_empty_dir(self.path):
                self._create()
            self._repo = self._open_existing()

    @property
    def repo(self) -> git.Repo:
        """The mirror as a GitPython repository (created on first use). Hold :attr:`lock` while using it."""
        self.ensure()
        assert self._repo is not None
        return self._repo

    def close(self) -> None:
        """Stop GitPython's helper processes (``git cat-file --batch``)."""
        with self.lock:
            if self._repo is not None:
                self._repo.close()
                self._repo = None

    def _create(self) -> None:
        # Build next to the final place and rename: a crash halfway leaves a stray temporary
        # folder, never a half-configured mirror that later looks valid.
        self.path.parent.mkdir(parents=True, exist_ok=True)
        building = self.path.with_name(f".{self.path.name}.{secrets.token_hex(4)}.tmp")
        try:
            repo = git.Repo.init(building, bare=True, mkdir=True)
            try:
                self._write_remote(repo)
            finally:
                repo.close()
            try:
                building.rename(self.path)
            except OSError:
                if not (self.path / "HEAD").exists():
                    raise
                # Another process created it first; _open_existing checks it is the same source.
        except (OSError, git.GitCommandError) as error:
            raise ConfigError(f"cannot create the repository mirror at {self.path}: {redact(str(error))}",
                              hint="check that the data directory is writable") from None
        finally:
            shutil.rmtree(building, ignore_errors=True)

    def _write_remote(self, repo: git.Repo) -> None:
        # Written with GitPython's config writer rather than `git remote add URL`, so a URL
        # carrying a token never appears on a command line (visible in `ps`).
        with repo.config_writer("repository") as config:
            section = f'remote "{REMOTE}"'
            config.set_value(section, "url", self.location.address)
            config.set_value(section, "fetch", FETCH_REFSPEC)

    def _open_existing(self) -> git.Repo:
        if not self.path.is_dir():
            raise ConfigError(f"the repository mirror path {self.path} exists but is not a directory",
                              hint="remove it or choose another data directory")
        try:
            repo = git.Repo(self.path)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            raise ConfigError(f"{self.path} is not a git repository, so it cannot be the repository mirror",
                              hint="remove it (fleetward recreates the mirror) or choose another data "
                                   "directory") from None
        if not repo.bare:
            repo.close()
            raise ConfigError(f"{self.path} is a repository with a work tree, not a bare mirror",
                              hint="remove it (fleetward recreates the mirror) or choose another data "
                                   "directory")
        with repo.config_reader("repository") as config:
            current = str(config.get_value(f'remote "{REMOTE}"', "url", default=""))
        if not current:
            self._write_remote(repo)
        elif current != self.location.address:
            try:
                same = parse_location(current).identity == self.location.identity
            except ConfigError:
                same = False
            if not same:
                repo.close()
                raise ConfigError(
                    f"the repository mirror at {self.path} mirrors {redact(current)}, "
                    f"not {self.display_source}",
                    hint=f"remove {self.path} to mirror the new repository (status history stays in "
                         f"the repository itself), or point the controller back at {redact(current)}")
            log.info("repository address for %s changed credentials; updating the mirror", self.path)
            self._write_remote(repo)
        return repo

    # -- fetching and reading --------------------------------------------------------------

    def fetch(self) -> dict[str, str]:
        """Fetch every branch into ``refs/remotes/origin/*`` (pruning deleted ones); {branch: sha}.

        Raises SourceUnavailable (retryable) with git's reason when the source cannot be read.
        """
        with self.lock:
            result = self._git("fetch", "--prune", "--no-tags", "--quiet", REMOTE, FETCH_REFSPEC,
                               *REVIEW_REFSPECS)
            if not result.ok:
                action = f"git fetch from {self.display_source}"
                raise SourceUnavailable(failure(result, action, self.timeout),
                                        hint="check the address, the network and the credentials")
            return self.branches()

    def fetch_branch(self, branch: str) -> str | None:
        """Fetch one branch (after a rejected push); its new tip, or None if it no longer exists."""
        check_branch(branch)
        with self.lock:
            result = self._git("fetch", "--no-tags", "--quiet", REMOTE,
                               f"+refs/heads/{branch}:{TRACKING_PREFIX}{branch}")
            if not result.ok:
                if "couldn't find remote ref" in result.stderr:
                    self._git("update-ref", "-d", f"{TRACKING_PREFIX}{branch}")
                    return None
                raise SourceUnavailable(failure(result, f"git fetch of {branch!r} from "
                                                        f"{self.display_source}", self.timeout))
            return self.head(branch)

    def branches(self) -> dict[str, str]:
        """{branch: sha} of every fetched branch, as of the last fetch."""
        with self.lock:
            result = self._git("for-each-ref", "--format=%(objectname) %(refname)", TRACKING_PREFIX)
            heads: dict[str, str] = {}
            for line in result.stdout.splitlines():
                sha, _, ref = line.partition(" ")
                name = ref.removeprefix(TRACKING_PREFIX)
                if name != "HEAD":
                    heads[name] = sha
            return heads

    def reviews(self) -> dict[str, str]:
        """{"pull/12/head" or "merge-requests/7/head": sha} of the remote's review refs, if any."""
        with self.lock:
            result = self._git("for-each-ref", "--format=%(objectname) %(refname)", REVIEWS_PREFIX)
            found: dict[str, str] = {}
            for line in result.stdout.splitlines():
                sha, _, ref = line.partition(" ")
                found[ref.removeprefix(REVIEWS_PREFIX)] = sha
            return found

    def tree_of(self, sha: str) -> str:
        """The tree id of commit ``sha`` (the same tree means the same fleet content)."""
        with self.lock:
            result = self._git("rev-parse", "--verify", "--end-of-options", f"{sha}^{{tree}}")
            if not result.ok:
                raise ConfigError(f"commit {sha[:12]} is not in the mirror")
            return result.stdout.strip()

    def head(self, branch: str) -> str | None:
        """The fetched tip of ``origin/<branch>``, or None if it was not fetched (or is gone)."""
        return self.resolve(f"{TRACKING_PREFIX}{check_branch(branch)}")

    def local_head(self, branch: str) -> str | None:
        """The tip of the mirror's own ``refs/heads/<branch>`` (what the controller committed)."""
        return self.resolve(f"refs/heads/{check_branch(branch)}")

    def resolve(self, ref: str) -> str | None:
        """The commit ``ref`` names, or None when it does not exist."""
        with self.lock:
            result = self._git("rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
            return result.stdout.strip() if result.ok else None

    def commit_info(self, sha: str) -> CommitInfo:
        """Author, commit time and summary of commit ``sha`` (NotFound if the mirror lacks it)."""
        with self.lock:
            # GitPython reads objects lazily, so ask git first whether the commit is there.
            resolved = self.resolve(sha)
            if resolved is None:
                raise NotFound(f"commit {sha[:40]!r} is not in the repository mirror {self.path}",
                               hint="fetch first; the commit may have been force-pushed away")
            commit = self.repo.commit(resolved)
            return CommitInfo(
                sha=commit.hexsha,
                author_name=(commit.author.name or "")[:MAX_PERSON_CHARS],
                author_email=(commit.author.email or "")[:MAX_PERSON_CHARS],
                # A plain datetime.timezone rather than GitPython's own tzinfo class, so the
                # value serialises anywhere; GitPython counts the offset west of UTC.
                committed_at=datetime.fromtimestamp(
                    commit.committed_date, timezone(timedelta(seconds=-commit.committer_tz_offset))),
                summary=_summary(commit.message),
            )

    def _git(self, *args: str) -> GitResult:
        return run_git(self.repo, args, timeout=self.timeout)


def _summary(message: str | bytes) -> str:
    text = message.decode("utf-8", errors="replace") if isinstance(message, bytes) else message
    first = text.strip().split("\n", 1)[0].strip()
    return first[:MAX_SUMMARY_CHARS]


def _is_empty_dir(path: Path) -> bool:
    return path.is_dir() and next(path.iterdir(), None) is None
