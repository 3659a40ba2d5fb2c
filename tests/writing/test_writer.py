"""Writes land as commits on a real bare remote: validated first, rebuilt when someone pushed first."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from controller.desired import DesiredState
from controller.errors import Conflict, NotFound, RevisionInvalid
from controller.loading import GitTreeSource, load_revision
from controller.writing import (
    Assign,
    Author,
    Create,
    DesiredStateWriter,
    OutsideScope,
    PushRefused,
    Replace,
    ResourceExists,
    Target,
)
from controller.writing.writer import proposal_branch
from tests.support.gitrepos import git
from tests.writing.conftest import Remote, make_remote
from tests.writing.fleet import fleet_files, package_spec
from tests.writing.texts import RICH, load_yaml

WHEN = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
ALICE = Author("alice", "t_0123456789abcdef")


def write(writer: DesiredStateWriter, operation, mode="direct", applied: DesiredState | None = None,
          confined_to: str | None = None):
    return writer.write(operation, mode=mode, author=ALICE, when=WHEN, applied=applied, confined_to=confined_to)


def applied_state(remote: Remote) -> DesiredState:
    return load_revision(GitTreeSource(remote.bare, "main"))


def new_package(name: str, client: str | None = None) -> Create:
    return Create(Target("Package", client, name), package_spec(name))


def test_a_direct_write_commits_one_new_file_on_the_applied_branch_as_the_token(remote, mirror):
    before = remote.tip()

    result = write(DesiredStateWriter(mirror, "main"), new_package("tool", "acme"))

    assert (result.mode, result.branch, result.files, result.created) == (
        "direct", "main", ["clients/acme/packages/tool.yaml"], True)
    assert result.commit == remote.tip()
    log = git(remote.bare, "log", "-1", "--format=%an <%ae>|%cn|%P|%s|%aI", "main").split("|")
    assert log == ["alice <t_0123456789abcdef@fleetward.invalid>", "Fleetward", before,
                   "Create Package acme.tool", "2026-03-04T05:06:07+00:00"]
    assert git(remote.bare, "diff", "--name-status", before, "main") == "A\tclients/acme/packages/tool.yaml"
    text = remote.show("main", "clients/acme/packages/tool.yaml")
    assert text.startswith("# yaml-language-server: $schema=../../../.fleetward/schemas/resource.schema.json\n")
    assert load_yaml(text)["spec"] == package_spec("tool")
    load_revision(GitTreeSource(remote.bare, "main"))  # what landed is a valid revision


def test_a_proposal_is_a_new_branch_from_the_applied_tip_and_main_stays(remote, mirror):
    before = remote.tip()

    result = write(DesiredStateWriter(mirror, "main"), new_package("tool"), mode="proposal")

    assert result.branch == "proposals/api-20260304-050607-package-tool"
    assert remote.tip() == before
    assert remote.tip(result.branch) == result.commit
    assert git(remote.bare, "rev-parse", f"{result.commit}^") == before
    assert load_yaml(remote.show(result.branch, "packages/tool.yaml"))["metadata"] == {"name": "tool"}


def test_a_proposal_branch_name_that_is_taken_gets_the_next_suffix_and_the_other_branch_stays(remote, mirror):
    taken = proposal_branch(new_package("tool"), WHEN, 1)
    git(remote.work, "push", "-q", "origin", f"main:refs/heads/{taken}")
    theirs = remote.tip(taken)

    result = write(DesiredStateWriter(mirror, "main", sleep=lambda _s: None), new_package("tool"), mode="proposal")

    assert (result.branch, result.attempts) == (f"{taken}-2", 2)
    assert remote.tip(taken) == theirs


def test_a_direct_write_after_someone_else_pushed_is_made_again_on_their_commit(remote, mirror):
    theirs = remote.push({"clients/acme/disk.yaml": RICH.replace("mode:   audit", "mode:   enforce")})
    assert mirror.head("main") != theirs  # the mirror has not fetched it: the first push must lose

    result = write(DesiredStateWriter(mirror, "main", sleep=lambda _s: None),
                   Assign(Target("Policy", "acme", "enough-disk"), groups=("all-linux",)),
                   applied=applied_state(remote))

    assert result.attempts == 2
    assert git(remote.bare, "rev-parse", "main^") == theirs
    assert remote.show("main", "clients/acme/disk.yaml") == RICH.replace("mode:   audit", "mode:   enforce").replace(
        '    - "pc-2"\n', '    - "pc-2"\n    groups:\n      - all-linux\n')


def test_the_edit_is_made_where_the_resource_now_is_when_it_moved_since_the_applied_revision(remote, mirror):
    applied = applied_state(remote)  # says clients/acme/disk.yaml
    remote.push({"clients/acme/disk.yaml": None, "clients/acme/policies/disk.yaml": RICH})
    mirror.fetch()

    result = write(DesiredStateWriter(mirror, "main"), Assign(Target("Policy", "acme", "enough-disk"),
                                                              devices=("pc-9",)), applied=applied)

    assert result.files == ["clients/acme/policies/disk.yaml"]
    assert "    - pc-9\n" in remote.show("main", "clients/acme/policies/disk.yaml")


def test_concurrent_direct_writes_from_two_replicas_all_land(remote):
    replicas = [remote.mirror("replica-a"), remote.mirror("replica-b")]
    start = remote.tip()
    names = [f"tool-{number}" for number in range(6)]
    failures: list[BaseException] = []
    barrier = threading.Barrier(len(names))

    def one(name: str, replica: int) -> None:
        writer = DesiredStateWriter(replicas[replica], "main", attempts=20)
        barrier.wait()
        try:
            write(writer, new_package(name))
        except BaseException as error:  # reported below
            failures.append(error)

    threads = [threading.Thread(target=one, args=(name, index % 2)) for index, name in enumerate(names)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert failures == []
    assert git(remote.bare, "rev-list", "--count", f"{start}..main") == str(len(names))
    assert git(remote.bare, "rev-list", "--merges", "main") == ""  # linear: each write on the last
    landed = git(remote.bare, "ls-tree", "--name-only", "main", "packages/").splitlines()
    assert landed == [f"packages/{name}.yaml" for name in names]


def test_an_invalid_write_is_refused_with_every_problem_and_nothing_reaches_the_remote(remote, mirror):
    before = remote.refs()
    policy = Create(Target("Policy", "acme", "broken"),
                    {"targets": {"group": "no-such-group"}, "checks": [{"name": "x", "script": "disk-free"}]})

    with pytest.raises(RevisionInvalid) as refused:
        write(DesiredStateWriter(mirror, "main"), policy, mode="proposal")

    assert [str(problem) for problem in refused.value.problems] == [
        "clients/acme/policies/broken.yaml:7:12: no DeviceGroup 'no-such-group' in clients/acme/ or MSP-wide",
    ]
    assert remote.refs() == before


def test_creating_a_name_that_is_declared_already_is_a_conflict_naming_the_file(remote, mirror):
    writer = DesiredStateWriter(mirror, "main")
    policy = Create(Target("Policy", "acme", "enough-disk"), {"targets": {"group": "linux-boxes"},
                                                              "checks": [{"name": "x", "script": "disk-free"}]})
    with pytest.raises(ResourceExists) as hinted:
        write(writer, policy, applied=applied_state(remote))
    with pytest.raises(ResourceExists) as searched:  # no applied revision to ask: found by validating
        write(writer, policy, applied=None)

    assert hinted.value.where == searched.value.where == "clients/acme/disk.yaml"


def test_a_client_confined_writer_cannot_reach_another_client_or_msp_wide(remote, mirror):
    writer = DesiredStateWriter(mirror, "main")
    before = remote.refs()

    with pytest.raises(OutsideScope):
        write(writer, new_package("tool", "globex"), confined_to="acme")
    with pytest.raises(OutsideScope):
        write(writer, new_package("tool"), confined_to="acme")
    with pytest.raises(OutsideScope):  # its own Script, with the script's text put in another client's folder
        write(writer, Create(Target("Script", "acme", "x"), {"shell": "sh", "os": ["linux"], "file": "x.sh"},
                             {"clients/globex/x.sh": b"echo\n"}), confined_to="acme")

    assert remote.refs() == before
    assert write(writer, new_package("tool", "acme"), confined_to="acme").branch == "main"


def test_a_push_the_remote_refuses_is_reported_and_nothing_lands(remote, mirror):
    hook = remote.bare / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'main is protected' >&2\nexit 1\n")
    hook.chmod(0o755)
    before = remote.refs()

    with pytest.raises(PushRefused, match="pre-receive hook declined"):
        write(DesiredStateWriter(mirror, "main"), new_package("tool"))

    assert remote.refs() == before


def test_a_write_that_changes_nothing_makes_no_commit(remote, mirror):
    before = remote.refs()

    result = write(DesiredStateWriter(mirror, "main"),
                   Assign(Target("Policy", "acme", "enough-disk"), groups=("linux-boxes",), devices=("pc-1",)))

    assert (result.changed, result.branch, result.files) == (False, None, [])
    assert remote.refs() == before


def test_changing_a_resource_that_is_not_declared_is_not_found(remote, mirror):
    with pytest.raises(NotFound, match=r"no Policy acme\.nope"):
        write(DesiredStateWriter(mirror, "main"), Replace(Target("Policy", "acme", "nope"), {}))
    with pytest.raises(NotFound):  # globex's policy is not acme's
        write(DesiredStateWriter(mirror, "main"), Assign(Target("Policy", "acme", "backups"), groups=("x",)))


def test_a_new_file_never_replaces_a_file_that_is_there(remote, mirror):
    remote.push({"packages/tool.yaml": "# notes, not a resource\n"})
    mirror.fetch()

    with pytest.raises(Conflict, match=r"packages/tool\.yaml already exists"):
        write(DesiredStateWriter(mirror, "main"), new_package("tool"))


def test_a_fleet_in_a_folder_of_the_repository_is_written_in_that_folder(tmp_path: Path):
    remote = make_remote(tmp_path, fleet_files(), subdir="fleet")
    mirror = remote.mirror()

    result = write(DesiredStateWriter(mirror, "main", "fleet"), new_package("tool"))

    assert result.files == ["fleet/packages/tool.yaml"]
    text = remote.show("main", "fleet/packages/tool.yaml")
    assert re.match(r"# yaml-language-server: \$schema=\.\./\.fleetward/", text)
    load_revision(GitTreeSource(remote.bare, "main", "fleet"))
