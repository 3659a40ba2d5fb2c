"""Request bodies: the kind's own spec fields, script text capped, licence keys only sealed."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from controller.writing.bodies import MAX_SCRIPT_BYTES, LicenseCreate, PolicyAssign, ScriptCreate, spec_of
from controller.writing.placing import schema_ref, script_file_problem, script_path

SCRIPT = {"name": "reboot", "shell": "bash", "os": ["linux"]}


def test_the_spec_written_is_what_the_caller_sent_in_yaml_spelling_without_defaults():
    body = ScriptCreate.model_validate({**SCRIPT, "client": "acme", "timeoutSeconds": 60, "content": "x"})
    assert spec_of(body) == {"shell": "bash", "os": ["linux"], "timeoutSeconds": 60}


@pytest.mark.parametrize(("content", "accepted"), [
    pytest.param("a" * MAX_SCRIPT_BYTES, True, id="exactly-256-KiB"),
    pytest.param("a" * (MAX_SCRIPT_BYTES - 1) + "é", False, id="one-byte-over-in-UTF-8"),
    pytest.param("echo \x00", False, id="NUL"),
    pytest.param("echo \ud800", False, id="lone-surrogate"),
])
def test_script_text_is_utf8_and_at_most_256_kib(content, accepted):
    if accepted:
        ScriptCreate.model_validate({**SCRIPT, "content": content})
    else:
        with pytest.raises(ValidationError):
            ScriptCreate.model_validate({**SCRIPT, "content": content})


def test_a_plaintext_licence_key_is_refused_without_repeating_it():
    with pytest.raises(ValidationError) as refused:
        LicenseCreate.model_validate({"name": "office", "product": "Office", "seats": 1, "key": "AAAA-BBBB"})
    [error] = refused.value.errors()
    assert "fleetward seal" in error["msg"] and "AAAA-BBBB" not in error["msg"]


def test_an_assignment_names_something():
    with pytest.raises(ValidationError, match="at least one"):
        PolicyAssign.model_validate({})
    with pytest.raises(ValidationError):
        PolicyAssign.model_validate({"devices": ["bad\nname"]})


@pytest.mark.parametrize(("path", "scope", "problem"), [
    pytest.param("scripts/x.sh", None, None, id="msp-wide"),
    pytest.param("clients/acme/scripts/x.ps1", "acme", None, id="client"),
    pytest.param("clients/globex/x.sh", "acme", "must be in clients/acme/", id="other-client"),
    pytest.param("clients/acme/x.sh", None, "must be outside clients/", id="msp-script-in-a-client"),
    pytest.param("scripts/x.yaml", None, "must not be a .yaml", id="yaml"),
    pytest.param(".github/x.sh", None, "hidden folders", id="hidden"),
    pytest.param("scripts/../x.sh", None, "'..'", id="dotdot"),
])
def test_where_a_scripts_text_may_go(path, scope, problem):
    found = script_file_problem(path, scope)
    assert (found is None) if problem is None else (found is not None and problem in found)


def test_conventional_places():
    assert script_path("acme", "reboot", "powershell") == "clients/acme/scripts/reboot.ps1"
    assert schema_ref("fleet.yaml") == ".fleetward/schemas/resource.schema.json"
    assert schema_ref("clients/acme/licenses/x.yaml") == "../../../.fleetward/schemas/resource.schema.json"
