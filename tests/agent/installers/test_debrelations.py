"""Debian relations and versions: what proves a .deb's dependencies met, and what never does (pure)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from agent.installers.debrelations import (
    Installed,
    Relation,
    UnknownRelation,
    blocked_by_installed,
    compare_versions,
    parse_relations,
    unmet,
)
from agent.installers.debtool import parse_control_fields, parse_query

# (a, b, sign of compare(a, b)), from Debian policy 5.6.12 and dpkg's own test cases.
VERSIONS = [
    ("1.0", "1.0", 0),
    ("1.0", "1.0-0", 0),
    ("1.0-1", "1.0-2", -1),
    ("1.0~rc1", "1.0", -1),
    ("1.0~~", "1.0~", -1),
    ("1.0~", "1.0", -1),
    ("1.0", "1.0+b1", -1),
    ("1.0a", "1.0+", -1),
    ("1.0", "1.0a", -1),
    ("1.2", "1.10", -1),
    ("1.002", "1.2", 0),
    ("2:1.0", "1:9.9", 1),
    ("0:1.0", "1.0", 0),
    ("1.0-1", "1.0-1.1", -1),
    ("2.36-9+deb12u4", "2.36-9+deb12u14", -1),
    ("17-1~", "17-1", -1),
    ("1:2:3-4", "1:2:3-5", -1),
    ("1.0-a-1", "1.0-a-2", -1),
    ("9", "10", -1),
    ("1.0.0", "1.0", 1),
    ("a", "b", None),  # not a Debian version (upstream must start with a digit): refused, never guessed
]


@pytest.mark.parametrize(("a", "b", "sign"), VERSIONS, ids=[f"{a} vs {b}" for a, b, _ in VERSIONS])
def test_versions_compare_as_dpkg_compares_them(a: str, b: str, sign: int | None) -> None:
    if sign is None:
        with pytest.raises(UnknownRelation):
            compare_versions(a, b)
        return
    result = compare_versions(a, b)
    assert (result > 0) - (result < 0) == sign
    reverse = compare_versions(b, a)
    assert (reverse > 0) - (reverse < 0) == -sign


@pytest.mark.skipif(shutil.which("dpkg") is None, reason="checks the table against the real dpkg")
@pytest.mark.parametrize(("a", "b", "sign"), [case for case in VERSIONS if case[2] is not None],
                         ids=[f"{a} vs {b}" for a, b, sign in VERSIONS if sign is not None])
def test_the_table_agrees_with_dpkg_compare_versions(a: str, b: str, sign: int) -> None:
    operator = {-1: "lt", 0: "eq", 1: "gt"}[sign]
    assert subprocess.run(["dpkg", "--compare-versions", a, operator, b], check=False).returncode == 0


def test_relations_with_alternatives_versions_and_arch_qualifiers() -> None:
    groups = parse_relations("libc6 (>= 2.34), python3:any,\n perl | perl-base (>=5.10 ), foo:amd64 (<< 2:1.0~)")
    assert groups == [
        [Relation("libc6", None, ">=", "2.34")],
        [Relation("python3", "any")],
        [Relation("perl"), Relation("perl-base", None, ">=", "5.10")],
        [Relation("foo", "amd64", "<<", "2:1.0~")],
    ]
    assert parse_relations("  ") == []


@pytest.mark.parametrize("field", [
    pytest.param("foo (< 1.0)", id="deprecated-less-than"),
    pytest.param("foo (> 1.0)", id="deprecated-greater-than"),
    pytest.param("foo [amd64]", id="arch-restriction"),
    pytest.param("foo <!nocheck>", id="build-profile"),
    pytest.param("foo (>= )", id="no-version"),
    pytest.param("foo (>= a1)", id="bad-version"),
    pytest.param("Foo", id="upper-case-name"),
    pytest.param("foo,,bar", id="empty-relation"),
    pytest.param("foo ${shlibs:Depends}", id="unsubstituted-variable"),
])
def test_syntax_it_does_not_know_is_refused(field: str) -> None:
    with pytest.raises(UnknownRelation):
        parse_relations(field)


def installed(name: str, version: str, *, arch: str = "amd64", multi_arch: str = "",
              status: str = "install ok installed") -> Installed:
    return Installed(name, arch, multi_arch, version, status)


SYSTEM = {
    "dpkg": [installed("dpkg", "1.21.22", multi_arch="foreign")],
    "libc6": [installed("libc6", "2.36-9+deb12u14", multi_arch="same")],
    "python3": [installed("python3", "3.11.2-1+b1", multi_arch="allowed")],
    "perl": [installed("perl", "5.36.0-7")],
    "tzdata": [installed("tzdata", "2024a-0+deb12u1", arch="all", multi_arch="foreign")],
    "half": [installed("half", "1.0", status="install ok unpacked")],
    "removed": [installed("removed", "1.0", status="deinstall ok config-files")],
    "held": [installed("held", "1.0", status="hold ok installed")],
    "i386only": [installed("i386only", "1.0", arch="i386")],
}


@pytest.mark.parametrize(("field", "deb_arch"), [
    pytest.param("dpkg (>= 1.0)", "all", id="version-satisfied"),
    pytest.param("libc6 | foo", "amd64", id="first-alternative"),
    pytest.param("foo | libc6 (>= 2.34)", "amd64", id="second-alternative"),
    pytest.param("libc6 (= 2.36-9+deb12u14), libc6 (<< 2.37)", "amd64", id="exact-and-upper-bound"),
    pytest.param("python3:any (>= 3.11)", "all", id="any-on-multi-arch-allowed"),
    pytest.param("dpkg:any", "all", id="any-on-multi-arch-foreign"),
    pytest.param("tzdata", "amd64", id="arch-all-package"),
    pytest.param("perl", "all", id="arch-all-deb-native-dependency"),
    pytest.param("libc6:native", "all", id="native-qualifier"),
    pytest.param("held", "amd64", id="held-but-installed"),
    pytest.param("i386only", "i386", id="same-foreign-arch-as-the-deb"),
], )
def test_dependencies_proven_met(field: str, deb_arch: str) -> None:
    assert unmet(parse_relations(field), SYSTEM, deb_arch=deb_arch, native_arch="amd64") is None


@pytest.mark.parametrize(("field", "deb_arch"), [
    pytest.param("dpkg (>= 9.0)", "all", id="version-too-low"),
    pytest.param("dpkg (<< 1.0)", "all", id="version-too-high"),
    pytest.param("libc6 (>> 2.36-9+deb12u14)", "amd64", id="strictly-greater"),
    pytest.param("nosuch", "all", id="missing-package"),
    pytest.param("mail-transport-agent", "all", id="virtual-package"),
    pytest.param("foo | bar", "all", id="no-alternative-installed"),
    pytest.param("dpkg, nosuch", "all", id="one-of-two-missing"),
    pytest.param("half", "all", id="unpacked-not-configured"),
    pytest.param("removed", "all", id="config-files-only"),
    pytest.param("perl:any", "all", id="any-without-multi-arch-allowed"),
    pytest.param("i386only", "amd64", id="other-architecture"),
    pytest.param("libc6:i386", "amd64", id="explicit-other-architecture"),
])
def test_dependencies_not_proven(field: str, deb_arch: str) -> None:
    reason = unmet(parse_relations(field), SYSTEM, deb_arch=deb_arch, native_arch="amd64")
    assert reason is not None and "is not installed at a satisfying version" in reason


def test_an_installed_version_dpkg_would_not_accept_proves_nothing() -> None:
    system = {"odd": [installed("odd", "not-a-version")]}
    assert unmet(parse_relations("odd (>= 1.0)"), system, deb_arch="all", native_arch="amd64") is not None
    assert unmet(parse_relations("odd"), system, deb_arch="all", native_arch="amd64") is None


def test_control_fields_and_query_output_are_read() -> None:
    fields = parse_control_fields("Package: hello\nArchitecture: all\nDepends: libc6 (>= 2.34),\n dpkg\n")
    assert fields == {"Package": "hello", "Architecture": "all", "Depends": "libc6 (>= 2.34), dpkg"}
    with pytest.raises(UnknownRelation):
        parse_control_fields("Package: hello\ngarbage\n")
    with pytest.raises(UnknownRelation, match="unexpected output from dpkg-deb"):
        parse_control_fields("Package: hello\ndpkg-deb: warning: parsing file 'control'\n '>' is obsolete\n")
    query = parse_query("dpkg\tamd64\tforeign\t1.21.22\tinstall ok installed\ttar (>= 1.28-1)\t\t\t\n"
                        "libc6\tamd64\tsame\t2.36-9\tinstall ok installed\t\t\tlibgcc-s1 (<< 1)\t\n"
                        "libc6\ti386\tsame\t2.36-9\tinstall ok installed\t\t\t\t")
    assert [item.arch for item in query["libc6"]] == ["amd64", "i386"]
    assert set(query) == {"dpkg", "libc6"}
    assert (query["dpkg"][0].depends, query["libc6"][0].breaks) == ("tar (>= 1.28-1)", "libgcc-s1 (<< 1)")
    with pytest.raises(UnknownRelation, match="unexpected output from dpkg-query"):
        parse_query("dpkg\tamd64\tforeign\t1.21.22\tinstall ok installed\t\t\t\t\n"
                    "dpkg-query: warning: parsing file '/var/lib/dpkg/status'\n")


def row(name: str, *, status: str = "install ok installed", **relations: str) -> Installed:
    return Installed(name, "amd64", "", "1.0", status, **relations)


@pytest.mark.parametrize(("rows", "blocked"), [
    pytest.param([row("other", depends="libc6, hello (>= 1.0)")], None, id="depends-satisfied-by-new-version"),
    pytest.param([row("other", depends="hello-doc (= 1.0)")], None, id="similar-name-only"),
    pytest.param([row("other", breaks="hello (<< 2.0)")], None, id="breaks-only-older-versions"),
    pytest.param([row("hello", conflicts="hello (<< 9)")], None, id="its-own-old-version"),
    pytest.param([row("other", conflicts="hello", status="deinstall ok config-files")], None,
                 id="only-config-files-left"),
    pytest.param([row("other", depends="hello (= 1.0)")], "the installed other depends on hello (= 1.0)",
                 id="depends-on-the-old-version"),
    pytest.param([row("other", pre_depends="hello (<< 2.0)")], "the installed other pre-depends on hello (<< 2.0)",
                 id="pre-depends-on-older"),
    pytest.param([row("other", breaks="hello (<< 3.0)")], "the installed other breaks hello (<< 3.0)",
                 id="breaks-the-new-version"),
    pytest.param([row("other", conflicts="hello")], "the installed other conflicts with hello", id="conflicts"),
    pytest.param([row("other", depends="hello:i386")], "the installed other depends on hello:i386",
                 id="arch-qualified"),
    pytest.param([row("other", depends="hello [amd64]")],
                 "the installed other depends on hello in a way that cannot be read", id="unreadable"),
])
def test_installed_packages_that_object_to_the_new_version(rows: list[Installed], blocked: str | None) -> None:
    assert blocked_by_installed("hello", "2.0", rows) == blocked
