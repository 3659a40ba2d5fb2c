"""Commit a whole file tree to a branch of the mirror, with git plumbing and no work tree.

The status writer renders the complete contents of the status branch each time;
:func:`commit_files` makes the branch hold exactly those files. Blobs go straight into the
object store (one ``git hash-object -w --stdin-paths``), a throw-away index file
(``GIT_INDEX_FILE``) turns the list into trees (``git update-index -z --index-info``,
``git write-tree``), and ``git commit-tree`` makes the commit. Git builds the trees, so
identical files always give the identical tree, and "nothing changed" is a tree
comparison: no empty commits.

The new commit's parent is the newer of the mirror's local branch and the fetched
``origin/<branch>``: after another replica (or a human) pushed, we build on their work
rather than beside it, so history stays linear and pushes fast-forward.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from controller.errors import TemporaryError
from controller.gitsource.mirroring import RepoMirror
from controller.gitsource.refnames import check_branch
from controller.gitsource.running import LOCAL_TIMEOUT, GitResult, failure, run_git

MAX_FILES = 200_000
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_TOTAL_BYTES = 1024 * 1024 * 1024
MAX_MESSAGE_CHARS = 64 * 1024
MAX_PATH_CHARS = 1024
FILE_MODE = "100644"
_NO_COMMIT = "0" * 40
_UNSAFE = re.compile(r"[\x00-\x1f\x7f\\]")


def commit_files(mirror: RepoMirror, branch: str, files: Mapping[str, bytes], message: str,
                 author: tuple[str, str]) -> str | None:
    """Make ``refs/heads/<branch>`` of ``mirror`` hold exactly ``files``; the new commit's sha.

    ``files`` maps POSIX paths (folders allowed, e.g. ``devices/acme/pc-1.md``) to contents.
    ``author`` is (name, email) and is also the committer. Returns None — and makes no
    commit — when the tree equals the parent's (or ``files`` is empty on a new branch);
    the local branch then points at that parent. Raises ValueError for a path, message or
    author git cannot store, with the offending value in the message; TemporaryError when
    git fails locally (disk full, the branch moved under us).
    """
    check_branch(branch)
    entries = _checked_files(files)
    name, email = _checked_author(author)
    _check_message(message)
    with mirror.lock:
        ref = f"refs/heads/{branch}"
        local = mirror.local_head(branch)
        parent = _parent(mirror, local, mirror.head(branch))
        if parent is None and not entries:
            return None
        tree = _write_tree(mirror, entries)
        if parent is not None and tree == _tree_of(mirror, parent):
            if local != parent:
                _move(mirror, ref, parent, local)
            return None
        person = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email,
                  "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email}
        args = ["commit-tree", tree, *(["-p", parent] if parent else []), "-m", message]
        result = run_git(mirror.repo, args, timeout=LOCAL_TIMEOUT, env=person)
        if not result.ok:
            raise TemporaryError(failure(result, f"committing to {branch!r} in {mirror.path}",
                                         LOCAL_TIMEOUT))
        sha = result.stdout.strip()
        _move(mirror, ref, sha, local)
        return sha


def _parent(mirror: RepoMirror, local: str | None, remote: str | None) -> str | None:
    if local is None or remote is None or local == remote:
        return local or remote
    # Local ahead of the remote: unpushed work of ours, keep building on it. Otherwise the
    # remote moved (or both did): the files are a complete tree, so committing on top of the
    # remote loses nothing and lets the push fast-forward.
    ahead = run_git(mirror.repo, ["merge-base", "--is-ancestor", remote, local], timeout=LOCAL_TIMEOUT)
    return local if ahead.ok else remote


def _write_tree(mirror: RepoMirror, entries: list[tuple[str, bytes]]) -> str:
    with tempfile.TemporaryDirectory(prefix="fleetward-tree-") as scratch:
        folder = Path(scratch)
        blobs = write_blobs(mirror, folder, [content for _, content in entries])
        lines = (f"{FILE_MODE} {blob}\t{path}\0" for (path, _), blob in zip(entries, blobs, strict=True))
        listing = "".join(lines).encode()
        index = {"GIT_INDEX_FILE": str(folder / "index")}
        result = git_with_input(mirror, ["update-index", "-z", "--index-info"], listing, env=index)
        if result.ok:
            result = run_git(mirror.repo, ["write-tree"], timeout=LOCAL_TIMEOUT, env=index)
    if not result.ok:
        raise TemporaryError(failure(result, f"writing a tree in {mirror.path}", LOCAL_TIMEOUT))
    return result.stdout.strip()


def write_blobs(mirror: RepoMirror, folder: Path, contents: list[bytes]) -> list[str]:
    """Store ``contents`` as blobs in the mirror (scratch files in ``folder``); their ids, in order."""
    # One `git hash-object --stdin-paths` for all files rather than a process per blob (a
    # status tree holds a file per device). The scratch files are named by position, so no
    # file path from the caller ever reaches the file system; git skips blobs it already has.
    names: list[str] = []
    for number, content in enumerate(contents):
        blob = folder / f"blob-{number}"
        blob.write_bytes(content)
        names.append(str(blob))
    result = git_with_input(mirror, ["hash-object", "-w", "--no-filters", "--stdin-paths"],
                             "".join(f"{name}\n" for name in names).encode())
    shas = result.stdout.split()
    if not result.ok or len(shas) != len(contents):
        raise TemporaryError(failure(result, f"writing blobs in {mirror.path}", LOCAL_TIMEOUT))
    return shas


def git_with_input(mirror: RepoMirror, args: list[str], data: bytes,
                    env: dict[str, str] | None = None) -> GitResult:
    # GitPython hands stdin to the process as a file, so it must be a real one (BytesIO has
    # no file descriptor).
    with tempfile.TemporaryFile() as stdin:
        stdin.write(data)
        stdin.seek(0)
        return run_git(mirror.repo, args, timeout=LOCAL_TIMEOUT, env=env, stdin=stdin)


def _tree_of(mirror: RepoMirror, commit: str) -> str | None:
    result = run_git(mirror.repo, ["rev-parse", "--verify", "--quiet", f"{commit}^{{tree}}"],
                     timeout=LOCAL_TIMEOUT)
    return result.stdout.strip() if result.ok else None


def _move(mirror: RepoMirror, ref: str, new: str, expected: str | None) -> None:
    # Compare-and-swap: if another process moved the branch since we read it, fail rather
    # than drop its commit; the caller's next attempt starts from the new tip.
    result = run_git(mirror.repo, ["update-ref", "-m", "fleetward: commit files", ref, new,
                                   expected or _NO_COMMIT], timeout=LOCAL_TIMEOUT)
    if not result.ok:
        raise TemporaryError(failure(result, f"moving {ref} in {mirror.path}", LOCAL_TIMEOUT),
                             hint="another process changed the branch at the same time; try again",
                             delay=1.0)


def _checked_files(files: Mapping[str, bytes]) -> list[tuple[str, bytes]]:
    if len(files) > MAX_FILES:
        raise ValueError(f"{len(files)} files is over the limit of {MAX_FILES} for one commit")
    total = 0
    folders: set[str] = set()
    entries: list[tuple[str, bytes]] = []
    for path, content in files.items():
        _check_path(path)
        if not isinstance(content, bytes):
            raise ValueError(f"contents of {path!r} must be bytes, not {type(content).__name__}")
        if len(content) > MAX_FILE_BYTES:
            raise ValueError(f"{path!r} is {len(content)} bytes, over the limit of {MAX_FILE_BYTES}")
        total += len(content)
        folders.update(str(parent) for parent in PurePosixPath(path).parents if str(parent) != ".")
        entries.append((path, content))
    if total > MAX_TOTAL_BYTES:
        raise ValueError(f"the files add up to {total} bytes, over the limit of {MAX_TOTAL_BYTES}")
    if clash := sorted(folders.intersection(files)):
        raise ValueError(f"{clash[0]!r} is both a file and a folder")
    return sorted(entries)


def _check_path(path: str) -> None:
    if not isinstance(path, str) or not path or len(path) > MAX_PATH_CHARS:
        raise ValueError(f"file path {str(path)[:MAX_PATH_CHARS]!r} must be 1 to {MAX_PATH_CHARS} characters")
    if _UNSAFE.search(path):
        raise ValueError(f"file path {path!r} contains a backslash or a control character")
    parts = path.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"file path {path!r} must be relative, without empty, '.' or '..' parts")
    if any(part.lower() == ".git" for part in parts):
        raise ValueError(f"file path {path!r} contains '.git', which git refuses to store")


def _checked_author(author: tuple[str, str]) -> tuple[str, str]:
    name, email = author
    for value, what in ((name, "name"), (email, "email")):
        if not value.strip() or len(value) > 200 or any(c in value for c in "<>\n\r\0"):
            raise ValueError(f"author {what} {value[:200]!r} must be 1 to 200 characters without <, > "
                             "or line breaks")
    return name, email


def _check_message(message: str) -> None:
    if not message.strip():
        raise ValueError("the commit message is empty")
    if len(message) > MAX_MESSAGE_CHARS or "\0" in message:
        raise ValueError(f"the commit message must be under {MAX_MESSAGE_CHARS} characters, without NUL")
