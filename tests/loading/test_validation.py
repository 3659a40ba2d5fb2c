"""One document at a time: the envelope and the kind's model, each problem at its node."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from schemas.kinds import KINDS
from tests.support.fleets import ACME_CLIENT, LINUX_GROUP, deployment_yaml, package_yaml

ProblemsOf = Callable[[dict[str, str | bytes | None]], list[str]]

PACKAGE = "clients/acme/p.yaml"
DEPLOYMENT = "clients/acme/d.yaml"
GROUP = "clients/acme/g.yaml"

DNS_HINT = ("must be lower-case letters, digits and '-', 1-63 characters, starting and ending with a "
            "letter or digit")
KNOWN = ", ".join(sorted(KINDS))


def _without(text: str, line: str) -> str:
    assert line in text
    return text.replace(line, "")


CASES: dict[str, tuple[dict[str, str | bytes | None], list[str]]] = {
    # The envelope
    "missing-api-version-at-document": (
        {PACKAGE: _without(package_yaml(), "apiVersion: fleetward/v1\n")},
        [f"{PACKAGE}:1:1: missing 'apiVersion'; every document starts with apiVersion: fleetward/v1"],
    ),
    "wrong-api-version-at-value": (
        {PACKAGE: package_yaml().replace("fleetward/v1", "fleetward/v2")},
        [f"{PACKAGE}:1:13: apiVersion must be fleetward/v1, got 'fleetward/v2'"],
    ),
    "missing-kind-still-checks-metadata": (
        {PACKAGE: _without(package_yaml(name="Hello"), "kind: Package\n")},
        [f"{PACKAGE}:1:1: missing 'kind'; it says what the document declares, one of {KNOWN}",
         f"{PACKAGE}:2:18: 'name' {DNS_HINT}, got 'Hello'"],
    ),
    "unknown-kind-with-suggestion": (
        {PACKAGE: package_yaml().replace("kind: Package", "kind: Pakage")},
        [f"{PACKAGE}:2:7: unknown kind 'Pakage'; did you mean 'Package'? known kinds: {KNOWN}"],
    ),
    "kind-not-a-string": (
        {PACKAGE: package_yaml().replace("kind: Package", "kind: [Package]")},
        [f"{PACKAGE}:2:7: kind must be one of {KNOWN}; got a list"],
    ),
    "missing-metadata": (
        {PACKAGE: _without(package_yaml(), "metadata: {name: hello-tool}\n")},
        [f"{PACKAGE}:1:1: missing required field 'metadata'"],
    ),
    "missing-metadata-name-at-metadata": (
        {PACKAGE: package_yaml().replace("{name: hello-tool}", "{labels: {}}")},
        [f"{PACKAGE}:3:11: missing required field 'name'"],
    ),
    "metadata-not-a-mapping": (
        {PACKAGE: package_yaml().replace("{name: hello-tool}", "hello-tool")},
        [f"{PACKAGE}:3:11: expected a mapping, got 'hello-tool'"],
    ),
    # Fields: unknown keys point at the key, wrong values at the value, missing at the parent
    "unknown-field-with-suggestion": (
        {PACKAGE: package_yaml().replace("  version:", "  verison: x\n  version:")},
        [f"{PACKAGE}:5:3: unknown field 'verison' (did you mean 'version'?)"],
    ),
    "unknown-field-lists-known-fields": (
        {DEPLOYMENT: deployment_yaml().replace("  ensure:", "  priority: red\n  ensure:")},
        [f"{DEPLOYMENT}:6:3: unknown field 'priority'; known fields: package, ensure, targets, suspend, "
         "rollout, window"],
    ),
    "unknown-field-inside-a-list-item": (
        {PACKAGE: package_yaml().replace("      sha256:", "      sha265:")},
        [f"{PACKAGE}:7:7: missing required field 'sha256'",
         f"{PACKAGE}:10:7: unknown field 'sha265' (did you mean 'sha256'?)"],
    ),
    "missing-field-at-parent-mapping": (
        {PACKAGE: _without(package_yaml(), '  version: "1.0.0"\n')},
        [f"{PACKAGE}:5:3: missing required field 'version'"],
    ),
    "number-instead-of-string": (
        {PACKAGE: package_yaml().replace('"1.0.0"', "1.0")},
        [f'{PACKAGE}:5:12: expected a string, got the number 1.0: quote it ("1.0")'],
    ),
    "number-quoted-as-written": (
        {PACKAGE: package_yaml().replace('"1.0.0"', "1.10")},
        [f'{PACKAGE}:5:12: expected a string, got the number 1.10: quote it ("1.10")'],
    ),
    "date-instead-of-string": (
        {PACKAGE: package_yaml().replace('"1.0.0"', "2024-05-01")},
        [f'{PACKAGE}:5:12: expected a string, got the date 2024-05-01: quote it ("2024-05-01")'],
    ),
    "pattern-in-a-list-item": (
        {PACKAGE: package_yaml(sha256="abc")},
        [f"{PACKAGE}:10:15: 'sha256' must be 64 lower-case hex digits (the output of sha256sum), got "
         "'abc'"],
    ),
    "bad-name": (
        {PACKAGE: package_yaml(name="Hello_Tool")},
        [f"{PACKAGE}:3:18: 'name' {DNS_HINT}, got 'Hello_Tool'"],
    ),
    "choice-with-suggestion": (
        {DEPLOYMENT: deployment_yaml(ensure="presnt")},
        [f"{DEPLOYMENT}:6:11: 'ensure' must be 'present' or 'absent', got 'presnt' (did you mean "
         "'present'?)"],
    ),
    "items-of-a-list-by-index": (
        {DEPLOYMENT: deployment_yaml().replace("{group: linux-boxes}", "{groups: [linux-boxes, 5, Bad]}")},
        [f'{DEPLOYMENT}:7:35: expected a string, got the number 5: quote it ("5")',
         f"{DEPLOYMENT}:7:38: 'groups[2]' {DNS_HINT}, got 'Bad'"],
    ),
    "invalid-label-key-at-the-key": (
        {GROUP: LINUX_GROUP.replace("{name: linux-boxes}", "{name: linux-boxes, labels: {'a b': x}}")},
        [f"{GROUP}:3:40: key 'a b' is not a valid label key: letters, digits, '-', '_' and '.', at "
         "most 63 characters, starting and ending with a letter or digit, optionally after a "
         "'domain/' prefix"],
    ),
    "number-as-key": (
        {"clients/acme/client.yaml": ACME_CLIENT.replace("timezone: Europe/Berlin", "1: x")},
        ['clients/acme/client.yaml:4:32: key 1 must be a string: quote it ("1")'],
    ),
    # Validators of a whole object point at the object
    "model-validator-at-the-object": (
        {GROUP: LINUX_GROUP.replace("  selector: {matchLabels: {os: linux}}\n", "  devices: []\n")},
        [f"{GROUP}:5:3: a DeviceGroup needs a 'selector', a 'devices' list, or both"],
    ),
    "nested-model-validator-at-the-nested-object": (
        {DEPLOYMENT: deployment_yaml().replace("{group: linux-boxes}", "{}")},
        [f"{DEPLOYMENT}:7:12: targets needs 'group', 'groups' or 'devices'"],
    ),
    "validator-in-a-list-item": (
        {GROUP: LINUX_GROUP.replace("{matchLabels: {os: linux}}",
                                    "{matchExpressions: [{key: os, operator: In}]}")},
        [f"{GROUP}:5:33: operator In needs a non-empty 'values' list"],
    ),
    "field-validator": (
        {"clients/acme/client.yaml": ACME_CLIENT.replace("Europe/Berlin", "Mars/Olympus")},
        ["clients/acme/client.yaml:4:42: unknown time zone 'Mars/Olympus'; use an IANA name such as "
         "'Europe/Berlin' or 'UTC'"],
    ),
}


@pytest.mark.parametrize(("files", "expected"), list(CASES.values()), ids=list(CASES))
def test_problem_is_reported_at_the_offending_node(
        problems_of: ProblemsOf, files: dict[str, str | bytes | None], expected: list[str]) -> None:
    assert problems_of(files) == expected


def test_every_problem_of_a_document_comes_back(problems_of: ProblemsOf) -> None:
    text = (package_yaml(name="Hello", sha256="abc").replace('"1.0.0"', "1.0")
            .replace("    - os: linux", "    - os: beos"))
    assert problems_of({PACKAGE: text}) == [
        f"{PACKAGE}:3:18: 'name' {DNS_HINT}, got 'Hello'",
        f'{PACKAGE}:5:12: expected a string, got the number 1.0: quote it ("1.0")',
        f"{PACKAGE}:7:11: 'os' must be 'linux', 'windows' or 'macos', got 'beos'",
        f"{PACKAGE}:10:15: 'sha256' must be 64 lower-case hex digits (the output of sha256sum), got "
        "'abc'",
    ]
