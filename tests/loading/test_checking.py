"""Across resources: placement, duplicate names, references, tenancy and shadowing."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.support.fleets import ACME_CLIENT, LINUX_GROUP, deployment_yaml, package_yaml

ProblemsOf = Callable[[dict[str, str | bytes | None]], list[str]]

GLOBEX_CLIENT = ACME_CLIENT.replace("acme", "globex")
FLEET = "apiVersion: fleetward/v1\nkind: Fleet\nmetadata: {name: msp}\n"
TENANCY = ("a resource under clients/acme/ cannot act on another client's devices (this selector pins "
           "client to globex); remove the pin or use 'acme'")


SEALED = "sealed:v1:" + "0" * 16 + ":" + "A" * 60
HOOKS = ("spec:\n  tickets:\n    connectors:\n      hooks: {type: webhook, url: 'https://hooks.example/x', "
         f"secret: '{SEALED}'}}\n")


def rule_routing_to(connector: str) -> str:
    return ("apiVersion: fleetward/v1\nkind: AlertTicketRule\nmetadata: {name: disk}\nspec:\n"
            f"  match: {{alertTypes: ['disk.*']}}\n  routing: {{connector: {connector}}}\n")


SMTP = "spec:\n  tickets:\n    email: {host: smtp.msp.example, from: fleetward@msp.example}\n"


def rule_escalating(*, notify: bool) -> str:
    step = "{afterMinutes: 60, notify: [lead@msp.example]}" if notify else "{afterMinutes: 60, priority: high}"
    return ("apiVersion: fleetward/v1\nkind: AlertTicketRule\nmetadata: {name: disk}\nspec:\n"
            f"  match: {{alertTypes: ['disk.*']}}\n  escalation:\n    - {{afterMinutes: 30}}\n    - {step}\n")


def group_selecting(selector: str) -> str:
    return LINUX_GROUP.replace("{matchLabels: {os: linux}}", selector)


CASES: dict[str, tuple[dict[str, str | bytes | None], list[str]]] = {
    # Placement
    "fleet-outside-the-root": (
        {"settings/fleet.yaml": FLEET},
        ["settings/fleet.yaml:2:7: a Fleet belongs in fleet.yaml at the root of the fleet; move it "
         "there"],
    ),
    "fleet-in-a-client-folder": (
        {"clients/acme/fleet.yaml": FLEET},
        ["clients/acme/fleet.yaml:2:7: a Fleet belongs in fleet.yaml at the root of the fleet; move "
         "it there"],
    ),
    "second-fleet": (
        {"fleet.yaml": FLEET + "---\n" + FLEET.replace("msp", "msp2")},
        ["fleet.yaml:6:7: a second Fleet; there is one already, at fleet.yaml:1:1"],
    ),
    "client-outside-clients": (
        {"tenants.yaml": GLOBEX_CLIENT},
        ["tenants.yaml:2:7: a Client belongs in clients/globex/client.yaml"],
    ),
    "client-name-must-match-folder": (
        {"clients/acme/client.yaml": ACME_CLIENT.replace("{name: acme}", "{name: acme2}")},
        ["clients/acme/client.yaml:3:18: this Client is named 'acme2' but lives in clients/acme/; "
         "the name must match the folder"],
    ),
    "client-folder-without-client-on-its-first-file": (
        {"clients/initech/b.yaml": package_yaml(name="tps"),
         "clients/initech/a/c.yaml": package_yaml(name="report")},
        ["clients/initech/a/c.yaml:1:1: clients/initech/ has no Client resource; add "
         "clients/initech/client.yaml (kind: Client, metadata.name: initech)"],
    ),
    "client-may-live-in-any-file-of-its-folder": (
        {"clients/acme/client.yaml": None, "clients/acme/tenant.yml": ACME_CLIENT},
        [],
    ),
    "file-directly-in-clients": (
        {"clients/x.yaml": package_yaml()},
        ["clients/x.yaml:1:1: clients/x.yaml is directly in clients/; put it in a client's folder "
         "(clients/<client>/x.yaml)"],
    ),
    # Names
    "duplicate-name-in-a-scope": (
        {"clients/acme/a.yaml": package_yaml(), "clients/acme/b.yaml": package_yaml()},
        ["clients/acme/b.yaml:3:18: duplicate Package 'hello-tool' in clients/acme/; the first is at "
         "clients/acme/a.yaml:1:1"],
    ),
    "duplicate-msp-wide-name-in-one-file": (
        {"packages/p.yaml": package_yaml() + "---\n" + package_yaml()},
        ["packages/p.yaml:14:18: duplicate Package 'hello-tool' MSP-wide; the first is at "
         "packages/p.yaml:1:1"],
    ),
    "same-name-in-two-clients-or-two-kinds-is-fine": (
        {"clients/globex/client.yaml": GLOBEX_CLIENT, "clients/globex/p.yaml": package_yaml(),
         "clients/acme/p.yaml": package_yaml(),
         "clients/acme/g.yaml": LINUX_GROUP.replace("linux-boxes", "hello-tool")},
        [],
    ),
    "client-package-shadows-msp-package": (
        {"packages/hello.yaml": package_yaml(), "clients/acme/hello.yaml": package_yaml()},
        ["clients/acme/hello.yaml:3:18: Package 'hello-tool' is also defined MSP-wide at "
         "packages/hello.yaml:1:1; a reference to it would be ambiguous: rename this one"],
    ),
    # References
    "dangling-package-and-group": (
        {"clients/acme/d.yaml": deployment_yaml(package="nope", group="ghosts")},
        ["clients/acme/d.yaml:5:12: no Package 'nope' in clients/acme/ or MSP-wide",
         "clients/acme/d.yaml:7:20: no DeviceGroup 'ghosts' in clients/acme/ or MSP-wide"],
    ),
    "dangling-with-suggestion": (
        {"clients/acme/p.yaml": package_yaml(),
         "clients/acme/d.yaml": deployment_yaml(package="helo-tool", group="linux-boxes"),
         "groups/linux.yaml": LINUX_GROUP},
        ["clients/acme/d.yaml:5:12: no Package 'helo-tool' in clients/acme/ or MSP-wide (did you "
         "mean 'hello-tool'?)"],
    ),
    "dangling-item-of-groups": (
        {"groups/linux.yaml": LINUX_GROUP, "packages/p.yaml": package_yaml(),
         "clients/acme/d.yaml": deployment_yaml().replace("{group: linux-boxes}",
                                                          "{groups: [linux-boxes, ghosts]}")},
        ["clients/acme/d.yaml:7:35: no DeviceGroup 'ghosts' in clients/acme/ or MSP-wide"],
    ),
    "client-resources-see-msp-wide-ones": (
        {"packages/p.yaml": package_yaml(), "groups/linux.yaml": LINUX_GROUP,
         "clients/acme/d.yaml": deployment_yaml()},
        [],
    ),
    "msp-wide-resources-do-not-see-a-clients": (
        {"clients/acme/p.yaml": package_yaml(), "clients/acme/g.yaml": LINUX_GROUP,
         "deployments/d.yaml": deployment_yaml()},
        ["deployments/d.yaml:5:12: no Package 'hello-tool' in MSP-wide resources",
         "deployments/d.yaml:7:20: no DeviceGroup 'linux-boxes' in MSP-wide resources"],
    ),
    "no-reference-to-another-clients-resources": (
        {"clients/globex/client.yaml": GLOBEX_CLIENT,
         "clients/globex/p.yaml": package_yaml(name="globex-tool"),
         "clients/acme/d.yaml": deployment_yaml(package="globex-tool", group="linux-boxes"),
         "groups/linux.yaml": LINUX_GROUP},
        ["clients/acme/d.yaml:5:12: no Package 'globex-tool' in clients/acme/ or MSP-wide"],
    ),
    # Tenancy
    "group-pins-another-client-by-label": (
        {"clients/acme/g.yaml": group_selecting("{matchLabels: {os: linux, client: globex}}")},
        [f"clients/acme/g.yaml:5:47: {TENANCY}"],
    ),
    "group-pins-another-client-by-expression": (
        {"clients/acme/g.yaml": group_selecting(
            "{matchExpressions: [{key: client, operator: In, values: [acme, globex]}]}")},
        [f"clients/acme/g.yaml:5:76: {TENANCY}"],
    ),
    "group-pinning-its-own-client-is-fine": (
        {"clients/acme/g.yaml": group_selecting(
            "{matchLabels: {client: acme}, matchExpressions: [{key: client, operator: NotIn, "
            "values: [globex]}]}")},
        [],
    ),
    "msp-wide-group-may-pin-any-client": (
        {"groups/g.yaml": group_selecting("{matchLabels: {client: globex}}")},
        [],
    ),
    # Ticket connectors
    "rule-routes-to-a-connector-fleet-yaml-lacks": (
        {"fleet.yaml": FLEET + HOOKS, "clients/acme/r.yaml": rule_routing_to("hook")},
        ["clients/acme/r.yaml:6:24: no ticket connector 'hook' in fleet.yaml spec.tickets.connectors "
         "(did you mean 'hooks'?)"],
    ),
    "rule-routes-to-a-configured-connector": (
        {"fleet.yaml": FLEET + HOOKS, "clients/acme/r.yaml": rule_routing_to("hooks")},
        [],
    ),
    "escalation-notify-without-smtp": (
        {"clients/acme/r.yaml": rule_escalating(notify=True)},
        ["clients/acme/r.yaml:8:34: escalation notify needs an SMTP server: add spec.tickets.email (host, from) "
         "to fleet.yaml, or remove notify"],
    ),
    "escalation-notify-with-smtp": (
        {"fleet.yaml": FLEET + SMTP, "clients/acme/r.yaml": rule_escalating(notify=True)},
        [],
    ),
    "escalation-without-notify-needs-no-smtp": (
        {"clients/acme/r.yaml": rule_escalating(notify=False)},
        [],
    ),
}


@pytest.mark.parametrize(("files", "expected"), list(CASES.values()), ids=list(CASES))
def test_problem_is_reported_at_the_offending_node(
        problems_of: ProblemsOf, files: dict[str, str | bytes | None], expected: list[str]) -> None:
    assert problems_of(files) == expected


QUIET_CASES: dict[str, tuple[dict[str, str | bytes | None], list[str]]] = {
    "broken-package-is-not-also-missing": (
        {"clients/acme/p.yaml": package_yaml(sha256="abc"), "clients/acme/d.yaml": deployment_yaml(),
         "clients/acme/g.yaml": LINUX_GROUP},
        ["clients/acme/p.yaml:10:15: 'sha256' must be 64 lower-case hex digits (the output of "
         "sha256sum), got 'abc'"],
    ),
    "unreadable-msp-wide-file-may-declare-anything": (
        {"packages/p.yaml": b"\xff", "clients/acme/d.yaml": deployment_yaml()},
        ["packages/p.yaml:1:1: the file must be UTF-8, but byte 0xff here is not; save the file as "
         "UTF-8"],
    ),
    "unreadable-file-of-another-client-hides-nothing": (
        {"clients/globex/client.yaml": GLOBEX_CLIENT, "clients/globex/p.yaml": "a: [",
         "clients/acme/d.yaml": deployment_yaml(group="ghosts")},
        ["clients/acme/d.yaml:5:12: no Package 'hello-tool' in clients/acme/ or MSP-wide",
         "clients/acme/d.yaml:7:20: no DeviceGroup 'ghosts' in clients/acme/ or MSP-wide",
         "clients/globex/p.yaml:1:5: YAML syntax error: while parsing a flow node expected the node "
         "content, but found '<stream end>'"],
    ),
    "broken-client-is-not-also-missing": (
        {"clients/acme/client.yaml": ACME_CLIENT.replace("Europe/Berlin", "Mars/Olympus"),
         "clients/acme/p.yaml": package_yaml()},
        ["clients/acme/client.yaml:4:42: unknown time zone 'Mars/Olympus'; use an IANA name such as "
         "'Europe/Berlin' or 'UTC'"],
    ),
}


@pytest.mark.parametrize(("files", "expected"), list(QUIET_CASES.values()), ids=list(QUIET_CASES))
def test_a_broken_document_does_not_cascade(
        problems_of: ProblemsOf, files: dict[str, str | bytes | None], expected: list[str]) -> None:
    assert problems_of(files) == expected
