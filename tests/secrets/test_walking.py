"""Finding the sealed values of a revision loaded from git, opening one on demand, the cache."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from controller.errors import RevisionInvalid
from controller.loading import GitTreeSource, load_revision
from controller.secrets import (
    SealedSecrets,
    SealedValueCorrupt,
    UnknownSealingKey,
    check_sealed,
    find_sealed,
    require_openable,
    seal,
)
from schemas.secrets import SealedValue
from tests.secrets.fleets import sealed_fleet
from tests.support.gitrepos import commit, init_repo

WEBHOOK = "hook-secret-3b8d0a"
LICENCE = "M365-KEY-77Q2-PLQX"


@pytest.fixture
def revision(tmp_path, folder):
    key = folder.keyring().sealing_key
    repo = init_repo(tmp_path / "fleet")
    sha = commit(repo, sealed_fleet(seal(WEBHOOK, key), seal(LICENCE, key)))
    return load_revision(GitTreeSource(repo, sha))


def test_every_sealed_field_is_found_with_where_it_was_written(revision):
    found = {(field.resource, field.field): field for field in find_sealed(revision)}
    assert set(found) == {("Fleet fleet", "spec.webhookSecret"), ("License acme.office", "spec.key")}
    licence = found[("License acme.office", "spec.key")]
    assert licence.where == "clients/acme/licences.yaml:2:1 License acme.office spec.key"
    assert licence.value.startswith("sealed:v1:")


def test_a_field_opens_only_when_asked(revision, folder):
    secrets = SealedSecrets(folder)
    fields = find_sealed(revision)
    assert secrets.opened == 0
    by_field = {field.field: field for field in fields}
    assert by_field["spec.key"].open(secrets).reveal() == LICENCE
    assert secrets.opened == 1
    assert by_field["spec.webhookSecret"].open(secrets).reveal() == WEBHOOK


def test_values_it_cannot_open_are_problems_at_their_place(tmp_path, folder, other_folder):
    repo = init_repo(tmp_path / "fleet")
    own = folder.keyring().sealing_key
    foreign = other_folder.keyring().sealing_key
    broken = seal(WEBHOOK, own)[:-6] + "AAAAAA"
    sha = commit(repo, sealed_fleet(broken, seal(LICENCE, foreign)))
    state = load_revision(GitTreeSource(repo, sha))
    problems = check_sealed(state, SealedSecrets(folder))
    texts = [str(problem) for problem in problems]
    assert len(texts) == 2
    assert texts[0].startswith("clients/acme/licences.yaml:2:1: License acme.office spec.key: the value was "
                               f"sealed to key {foreign.key_id}, which this controller does not have "
                               f"(its sealing keys: {own.key_id})")
    assert texts[1].startswith("fleet.yaml:1:1: Fleet fleet spec.webhookSecret: the sealed value was changed "
                               "after sealing")
    assert not any(LICENCE in text or WEBHOOK in text for text in texts)


def test_opening_names_the_field_in_the_error(tmp_path, folder, other_folder):
    repo = init_repo(tmp_path / "fleet")
    foreign = other_folder.keyring().sealing_key
    sha = commit(repo, sealed_fleet(seal(WEBHOOK, foreign), seal(LICENCE, foreign)))
    field = next(f for f in find_sealed(load_revision(GitTreeSource(repo, sha))) if f.field == "spec.key")
    with pytest.raises(UnknownSealingKey) as caught:
        field.open(SealedSecrets(folder))
    assert caught.value.message.startswith("clients/acme/licences.yaml:2:1 License acme.office spec.key: ")
    assert caught.value.key_id == foreign.key_id


def test_a_good_revision_has_no_problems(revision, folder):
    assert check_sealed(revision, SealedSecrets(folder)) == []
    assert require_openable(revision, SealedSecrets(folder)) is revision


def test_a_revision_with_a_foreign_seal_is_rejected_whole(tmp_path, folder, other_folder):
    repo = init_repo(tmp_path / "fleet")
    own, foreign = folder.keyring().sealing_key, other_folder.keyring().sealing_key
    sha = commit(repo, sealed_fleet(seal(WEBHOOK, own), seal(LICENCE, foreign)))
    with pytest.raises(RevisionInvalid) as caught:
        require_openable(load_revision(GitTreeSource(repo, sha)), SealedSecrets(folder))
    assert caught.value.revision == sha
    assert [problem.location.path for problem in caught.value.problems] == ["clients/acme/licences.yaml"]
    assert foreign.key_id in caught.value.problems[0].message


class Vault(BaseModel):
    """Sealed values in every shape a schema may give them."""

    name: str
    plain_note: str = "sealed:v1:looks-sealed-but-is-a-note"
    single: SealedValue | None = None
    many: list[SealedValue] = []
    by_name: dict[str, SealedValue] = {}
    nested: Vault | None = None


def test_any_model_tree_is_walked_by_type_not_by_content(folder):
    key = folder.keyring().sealing_key
    values: dict[str, Any] = {name: seal(name, key) for name in ("a", "b", "c", "d", "e")}
    vault = Vault(name="outer", single=values["a"], many=[values["b"], values["c"]], by_name={"psa": values["d"]},
                  nested=Vault(name="inner", single=values["e"]))
    found = [(field.field, field.value) for field in find_sealed(vault)]
    assert found == [("single", values["a"]), ("many[0]", values["b"]), ("many[1]", values["c"]),
                     ("by_name[psa]", values["d"]), ("nested.single", values["e"])]
    secrets = SealedSecrets(folder)
    assert [field.open(secrets).reveal() for field in find_sealed(vault)] == ["a", "b", "c", "d", "e"]


def test_the_cache_opens_each_value_once_and_stays_small(folder):
    key = folder.keyring().sealing_key
    secrets = SealedSecrets(folder, max_entries=2)
    first, second, third = (seal(text, key) for text in ("one", "two", "three"))
    assert secrets.open(first) == secrets.open(first)
    assert secrets.opened == 1
    secrets.open(second)
    secrets.open(third)  # pushes out `first`, the least recently used
    assert secrets.opened == 3
    secrets.open(third)
    assert secrets.opened == 3
    assert secrets.open(first).reveal() == "one"
    assert secrets.opened == 4
    assert "one" not in repr(secrets)


def test_a_failed_open_is_not_cached(folder):
    secrets = SealedSecrets(folder)
    with pytest.raises(SealedValueCorrupt):
        secrets.open("sealed:v1:0123456789abcdef:" + "A" * 80)
    assert secrets.opened == 0
