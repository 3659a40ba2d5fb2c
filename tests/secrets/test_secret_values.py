"""An opened Secret never shows its plaintext: repr, str, formatting, logging, JSON, pydantic, pickle."""

from __future__ import annotations

import copy
import json
import logging
import pickle

import pytest
from pydantic import BaseModel

from controller.secrets import MASK, SealedSecrets, Secret, seal

PLAINTEXT = "warranty-api-secret-9c2e71"


class PsaConnection(BaseModel):
    """A model the controller might build from an opened secret."""

    url: str
    password: Secret
    fallback: list[Secret] = []


@pytest.fixture
def secret(folder) -> Secret:
    return SealedSecrets(folder).open(seal(PLAINTEXT, folder.keyring().sealing_key))


def test_only_reveal_gives_the_plaintext(secret):
    assert secret.reveal() == PLAINTEXT
    percent = ("%s" % secret, "%r" % secret)  # noqa: UP031 - the way logging formats its arguments
    shown = [repr(secret), str(secret), f"{secret}", f"{secret!r}", f"{secret:>20}", format(secret, "^30"),
             *percent, repr([secret]), repr({"k": secret})]
    for text in shown:
        assert PLAINTEXT not in text
        assert MASK in text


def test_logging_shows_the_mask(secret, caplog):
    log = logging.getLogger("fleetward.tests")
    with caplog.at_level(logging.DEBUG):
        log.info("connecting with %s", secret)
        log.debug("connection %r", PsaConnection(url="https://psa.example", password=secret))
        log.warning("extra", extra={"secret": secret})
        try:
            raise ValueError(secret)
        except ValueError:
            log.exception("failed with the secret in the exception")
    assert caplog.records
    assert PLAINTEXT not in caplog.text
    assert MASK in caplog.text


def test_a_model_holding_a_secret_does_not_show_it(secret):
    model = PsaConnection(url="https://psa.example", password=secret, fallback=[secret])
    for text in (repr(model), str(model), model.model_dump_json(), json.dumps(model.model_dump(mode="json")),
                 json.dumps(model.model_json_schema())):
        assert PLAINTEXT not in text
    assert json.loads(model.model_dump_json())["password"] == MASK
    assert model.model_dump()["password"] is secret
    schema = model.model_json_schema()["properties"]["password"]
    assert schema["writeOnly"] is True and schema["format"] == "password"


def test_a_model_does_not_take_a_plaintext_string_for_a_secret():
    with pytest.raises(ValueError):
        PsaConnection(url="https://psa.example", password=PLAINTEXT)  # type: ignore[arg-type]


def test_it_is_never_written_out_by_json_or_pickle(secret):
    with pytest.raises(TypeError):
        json.dumps({"password": secret})
    with pytest.raises(TypeError, match="never pickled"):
        pickle.dumps(secret)
    with pytest.raises(TypeError):
        pickle.dumps(PsaConnection(url="https://psa.example", password=secret))


def test_copies_and_comparisons_keep_it_whole(secret):
    assert copy.deepcopy(secret) is secret
    model = PsaConnection(url="https://psa.example", password=secret)
    assert model.model_copy(deep=True).password.reveal() == PLAINTEXT
    assert secret == Secret(PLAINTEXT)
    assert secret != Secret(PLAINTEXT + "x")
    assert secret != PLAINTEXT
    assert len({secret, Secret(PLAINTEXT)}) == 1
    assert not hasattr(secret, "__dict__")
