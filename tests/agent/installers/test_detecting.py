"""Detection: precedence between kinds, version rules, real dpkg on Linux, recorded Windows/macOS output."""

from __future__ import annotations

import plistlib
import subprocess
from pathlib import Path

import pytest
from pydantic import TypeAdapter

from agent.installers.detecting import (
    MSI_PROBE,
    DetectionError,
    Found,
    Probes,
    compare_versions,
    default_rules,
    detect,
    parse_dpkg_status,
    parse_pkgutil_plist,
    parse_rpm_query,
    parse_windows_json,
    powershell_argv,
)
from agent.installers.processes import Completed
from schemas.detection import DetectionRule
from schemas.packages import parse_installer
from schemas.protocol import SoftwareItem
from tests.agent.installers.debs import dpkg_status, needs_root_dpkg

FIXTURES = Path(__file__).parent / "fixtures"
RULES: TypeAdapter[list[DetectionRule]] = TypeAdapter(list[DetectionRule])


def rules(*data: dict[str, object]) -> list:
    return RULES.validate_python(list(data))


class RecordedWindows(Probes):
    """The Windows probes answered from recorded JSON, keyed by the probe's template."""

    def __init__(self, answers: dict[str, str]) -> None:
        super().__init__("windows", runner=self._answer, which=lambda name: name)
        self.answers = answers
        self.argvs: list[tuple[str, ...]] = []

    def _answer(self, argv: tuple[str, ...], **_options: object) -> Completed:
        self.argvs.append(tuple(argv))
        for marker, text in self.answers.items():
            if marker in _decoded(argv):
                return Completed(tuple(argv), 0, text)
        return Completed(tuple(argv), 0, '{"found":false}')


def _decoded(argv: tuple[str, ...]) -> str:
    import base64
    return base64.b64decode(argv[-1]).decode("utf-16-le")


def test_msi_product_code_from_recorded_uninstall_key_output() -> None:
    found = (FIXTURES / "windows" / "msi-probe-found.json").read_text()
    probes = RecordedWindows({"Uninstall": found})
    result = detect(rules({"type": "msi", "productCode": "{11111111-2222-3333-4444-555555555555}",
                           "version": "23.01.00.0"}), probes, "23.01")
    assert (result.installed, result.kind) == (True, "packageDb")
    assert result.detail == "msi {11111111-2222-3333-4444-555555555555}: version 23.01.00.0"
    argv = probes.argvs[0]
    assert argv[:6] == ("powershell.exe", "-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass",
                        "-EncodedCommand")
    assert "WOW6432Node" in _decoded(argv)  # both registry views are searched


def test_a_missing_msi_product_with_a_bom_reads_as_not_installed() -> None:
    missing = (FIXTURES / "windows" / "msi-probe-missing.json").read_bytes().decode("utf-8")
    assert parse_windows_json(missing) == Found(False)


def test_file_version_and_registry_value_from_recorded_output() -> None:
    probes = RecordedWindows({"VersionInfo": (FIXTURES / "windows" / "file-version.json").read_text(),
                              "GetValueNames": (FIXTURES / "windows" / "registry-value.json").read_text()})
    file_rule = rules({"type": "file", "path": r"C:\Program Files\Mozilla Firefox\firefox.exe",
                       "minVersion": "128.0"})
    assert detect(file_rule, probes, "128.0.3").installed
    too_old = rules({"type": "file", "path": r"C:\x.exe", "minVersion": "129"})
    result = detect(too_old, probes, "1")
    assert not result.installed and result.detail.endswith("version 128.0.3.8936, older than 129")
    registry = rules({"type": "registry", "key": r"HKLM\SOFTWARE\Contoso\Tool", "value": "Version", "version": "4.2"})
    assert detect(registry, probes, "9.9").installed


def test_windows_probes_carry_their_arguments_as_base64() -> None:
    argv = powershell_argv(MSI_PROBE, code="{x}'; Remove-Item C:\\ -Recurse; '")
    assert "Remove-Item" not in _decoded(argv)  # the value never appears as code


def test_pkgutil_receipt_from_recorded_plist() -> None:
    found = parse_pkgutil_plist((FIXTURES / "macos" / "pkgutil-pkg-info-plist.xml").read_bytes())
    assert found == Found(True, "6.2.0.4544")
    assert parse_pkgutil_plist(b"No receipt for 'x' found at '/'.") == Found(False)


def test_an_app_bundle_version_is_read_from_its_info_plist(tmp_path: Path) -> None:
    app = tmp_path / "Tool.app"
    (app / "Contents").mkdir(parents=True)
    (app / "Contents" / "Info.plist").write_bytes(plistlib.dumps({"CFBundleShortVersionString": "3.1"}))
    probes = Probes("macos")
    assert detect(rules({"type": "file", "path": str(app), "version": "3.1"}), probes, "0").installed
    assert not detect(rules({"type": "file", "path": str(app), "version": "3.2"}), probes, "0").installed
    assert detect(rules({"type": "file", "path": str(app)}), probes, "9").installed  # presence only by default


@pytest.mark.parametrize(("text", "found"), [
    pytest.param("install ok installed 1.0-1", Found(True, "1.0-1"), id="installed"),
    pytest.param("deinstall ok config-files 1.0-1", Found(False), id="removed-config-left"),
    pytest.param("", Found(False), id="empty"),
])
def test_dpkg_status_lines(text: str, found: Found) -> None:
    assert parse_dpkg_status(text) == found


def test_rpm_query_offers_version_and_version_release() -> None:
    assert parse_rpm_query("1.2 1.2-3.el9\n") == Found(True, "1.2", ("1.2-3.el9",))


@needs_root_dpkg
def test_dpkg_for_real_on_a_package_this_machine_has() -> None:
    probes = Probes("linux")
    assert detect(rules({"type": "dpkg", "package": "dpkg", "anyVersion": True}), probes, "0").installed
    assert not detect(rules({"type": "dpkg", "package": "fleetward-no-such-package"}), probes, "1").installed


class RecordedDpkgQuery:
    """A runner that records the argv it is given and answers as dpkg-query would from ``answer``."""

    def __init__(self, answer: str = "", code: int = 0) -> None:
        self.answer, self.code = answer, code
        self.argvs: list[tuple[str, ...]] = []

    def __call__(self, argv: tuple[str, ...], **_options: object) -> Completed:
        self.argvs.append(tuple(argv))
        return Completed(tuple(argv), self.code, self.answer)



def fixture_probes(admin_dir: Path, runner: RecordedDpkgQuery) -> Probes:
    return Probes("linux", runner=runner, which=lambda name: name, dpkg_admin_dir=admin_dir)


@pytest.mark.parametrize(("package", "wanted", "installed", "detail"), [
    pytest.param("tzdata", "2024a-0+deb12u1", True, "dpkg tzdata: version 2024a-0+deb12u1", id="installed-at-version"),
    pytest.param("tzdata", "2025a-0", False, "dpkg tzdata: version 2024a-0+deb12u1, not 2025a-0",
                 id="installed-other-version"),
    pytest.param("describes-hello", "1:0.1~rc1", True, "dpkg describes-hello: version 1:0.1~rc1", id="epoch-tilde"),
    pytest.param("half-done", "1.0", False, "dpkg half-done: not installed", id="half-installed"),
    pytest.param("unpacked-breaker", "0.9", False, "dpkg unpacked-breaker: not installed", id="unpacked"),
    pytest.param("old-config", "2.0", False, "dpkg old-config: not installed", id="config-files"),
    pytest.param("selected-only", "1", False, "dpkg selected-only: not installed", id="not-installed-stanza"),
    pytest.param("fleetward-absent", "1", False, "dpkg fleetward-absent: not installed", id="absent"),
])
def test_the_dpkg_rule_answers_from_the_status_file(admin_dir: Path, package: str, wanted: str, installed: bool,
                                                     detail: str) -> None:
    runner = RecordedDpkgQuery("install ok installed 9.9")  # would contradict the file, were it asked
    result = detect(rules({"type": "dpkg", "package": package}), fixture_probes(admin_dir, runner), wanted)
    assert (result.installed, result.kind, result.detail) == (installed, "packageDb", detail)
    assert runner.argvs == []  # no dpkg-query started


def test_the_dpkg_rule_asks_dpkg_query_while_a_journal_is_pending(admin_dir: Path) -> None:
    (admin_dir / "updates" / "0000").write_text("Package: tzdata\nStatus: install ok installed\nVersion: 2025a-0\n")
    runner = RecordedDpkgQuery("install ok installed 2025a-0")
    result = detect(rules({"type": "dpkg", "package": "tzdata"}), fixture_probes(admin_dir, runner), "2025a-0")
    assert runner.argvs == [("dpkg-query", f"--admindir={admin_dir}", "-W", "-f", "${Status} ${Version}", "tzdata")]
    assert result.installed
    assert result.detail == (f"dpkg tzdata (read by dpkg-query: dpkg has updates not yet merged into its status file "
                             f"({admin_dir / 'updates' / '0000'})): version 2025a-0")


@pytest.mark.parametrize(("package", "why"), [
    pytest.param("libc6", "libc6 has 2 instances (architectures)", id="multi-arch-instances"),
    pytest.param("libc6:i386", "'libc6:i386' is not a plain package name", id="arch-qualified"),
    pytest.param("tz*", "'tz*' is not a plain package name", id="pattern"),
])
def test_what_the_status_file_does_not_answer_alone_goes_to_dpkg_query(admin_dir: Path, package: str,
                                                                        why: str) -> None:
    runner = RecordedDpkgQuery("", code=1)
    found = fixture_probes(admin_dir, runner).dpkg(package)
    assert found == Found(False, via=f"read by dpkg-query: {why}")
    assert runner.argvs == [("dpkg-query", f"--admindir={admin_dir}", "-W", "-f", "${Status} ${Version}", package)]


def test_the_default_database_is_queried_with_the_command_line_of_before() -> None:
    runner = RecordedDpkgQuery("install ok installed 1.0")
    found = Probes("linux", runner=runner, which=lambda name: name).dpkg("hello:amd64")  # /var/lib/dpkg
    assert runner.argvs == [("dpkg-query", "-W", "-f", "${Status} ${Version}", "hello:amd64")]
    assert found == Found(True, "1.0", via="read by dpkg-query: 'hello:amd64' is not a plain package name")


def test_without_dpkg_query_the_dpkg_rule_is_unavailable_even_with_a_status_file(admin_dir: Path) -> None:
    probes = Probes("linux", which=lambda name: None if name == "dpkg-query" else name, dpkg_admin_dir=admin_dir)
    with pytest.raises(DetectionError, match="dpkg-query is not installed here"):
        detect(rules({"type": "dpkg", "package": "tzdata"}), probes, "1")


@needs_root_dpkg
def test_the_status_file_agrees_with_dpkg_query_on_this_machine() -> None:
    if any(Path("/var/lib/dpkg/updates").iterdir()):
        pytest.skip("dpkg has a journal pending: the rule asks dpkg-query, as it should")
    listed = subprocess.run(["dpkg-query", "-W", "-f", "${Package}\n"], capture_output=True, text=True,
                            check=True).stdout.split()
    probes = Probes("linux", runner=RecordedDpkgQuery("", code=1))  # a dpkg-query answer would show as via
    for package in ["dpkg", "coreutils", "tzdata", "libc6", *listed[:: max(1, len(listed) // 20)],
                    "fleetward-no-such-package"]:
        found = probes.dpkg(package)
        if found.via and "instances" in found.via:
            continue  # a multi-arch package: dpkg-query answered
        assert (found, package) == (parse_dpkg_status(dpkg_status(package)), package)


def test_the_highest_kind_decides_and_a_missing_tool_falls_through(tmp_path: Path) -> None:
    present = tmp_path / "present"
    present.write_text("x")
    inventory = [SoftwareItem(name="Tool", version="1.0", source="dpkg")]
    no_rpm = Probes("linux", software=lambda: inventory, which=lambda name: None if name == "rpm" else name)
    # rpm is missing: the file rule (next kind) decides, and the inventory rule is not consulted.
    result = detect(rules({"type": "inventory", "name": "tool", "version": "9"},
                          {"type": "rpm", "package": "tool"},
                          {"type": "file", "path": str(present)}), no_rpm, "1.0")
    assert (result.installed, result.kind) == (True, "file")
    # Same kind: all rules must pass.
    both = detect(rules({"type": "file", "path": str(present)}, {"type": "file", "path": str(tmp_path / "no")}),
                  no_rpm, "1.0")
    assert not both.installed and "not installed" in both.detail
    # The inventory alone: a case-insensitive name match at the job's version.
    assert detect(rules({"type": "inventory", "name": "TOOL"}), no_rpm, "1.0").installed
    assert not detect(rules({"type": "inventory", "name": "TOOL"}), no_rpm, "2.0").installed


def test_nothing_evaluable_is_an_error_not_a_guess() -> None:
    probes = Probes("linux", which=lambda name: None)
    with pytest.raises(DetectionError, match="no detection rule can be evaluated on this device"):
        detect(rules({"type": "rpm", "package": "tool"}, {"type": "msi",
                                                          "productCode": "{11111111-2222-3333-4444-555555555555}"}),
               probes, "1")


def test_a_detection_script_says_yes_no_or_error(tmp_path: Path) -> None:
    probes = Probes("linux", work_dir=tmp_path)
    assert detect(rules({"type": "script", "script": {"shell": "sh", "text": "exit 0"}}), probes, "1").installed
    assert not detect(rules({"type": "script", "script": {"shell": "sh", "text": "exit 1"}}), probes, "1").installed
    with pytest.raises(DetectionError, match="exited with 7"):
        detect(rules({"type": "script", "script": {"shell": "sh", "text": "exit 7"}}), probes, "1")


@pytest.mark.parametrize(("left", "right", "order"), [
    ("1.10", "1.9", 1), ("2.0", "2.0", 0), ("2.0", "2.0.1", -1), ("2.0rc1", "2.0", -1), ("1.0-2", "1.0-10", -1),
])
def test_compare_versions(left: str, right: str, order: int) -> None:
    assert compare_versions(left, right) == order


def test_default_rules_come_from_the_package_database_types() -> None:
    deb = parse_installer({"os": "linux", "type": "deb", "url": "https://x/a.deb", "sha256": "a" * 64, "size": 1,
                           "packageName": "hello"})
    assert [(rule.type, rule.package) for rule in default_rules(deb)] == [("dpkg", "hello")]  # type: ignore[union-attr,arg-type]
    dmg = parse_installer({"os": "macos", "type": "dmg", "url": "https://x/a.dmg", "sha256": "a" * 64, "size": 1,
                           "app": "Tool.app"})
    assert [(rule.type, rule.path) for rule in default_rules(dmg)] == [("file", "/Applications/Tool.app")]  # type: ignore[union-attr,arg-type]
