"""Exit-code tables: the documented defaults per type, the Package's overrides, and codes in no map."""

from __future__ import annotations

import pytest

from agent.installers.exitcodes import (
    DEFAULTS,
    RETRY_AFTER_REBOOT_SECONDS,
    RETRY_AFTER_SECONDS,
    classify,
    signed32,
)

WINGET_ALREADY_INSTALLED = 0x8A150061


@pytest.mark.parametrize(("kind", "code", "meaning"), [
    pytest.param("msi", 0, "success", id="msi-0"),
    pytest.param("msi", 1707, "success", id="msi-1707"),
    pytest.param("msi", 3010, "rebootSoft", id="msi-3010"),
    pytest.param("msi", 1641, "rebootHard", id="msi-1641"),
    pytest.param("msi", 1618, "retryLater", id="msi-1618"),
    pytest.param("msi", 1603, "failure", id="msi-1603"),
    pytest.param("exe", 3010, "rebootSoft", id="exe-3010"),
    pytest.param("choco", 0, "success", id="choco-0"),
    pytest.param("choco", 1641, "rebootHard", id="choco-1641"),
    pytest.param("choco", 3010, "rebootSoft", id="choco-3010"),
    pytest.param("choco", 350, "retryLater", id="choco-350-pending-reboot"),
    pytest.param("choco", 1604, "retryLater", id="choco-1604"),
    pytest.param("winget", WINGET_ALREADY_INSTALLED, "success", id="winget-already-installed-unsigned"),
    pytest.param("winget", signed32(WINGET_ALREADY_INSTALLED), "success", id="winget-already-installed-signed"),
    pytest.param("winget", 0x8A150109, "rebootSoft", id="winget-reboot-to-finish"),
    pytest.param("winget", 0x8A15010B, "rebootHard", id="winget-reboot-initiated"),
    pytest.param("winget", 0x8A150102, "retryLater", id="winget-install-in-progress"),
    pytest.param("winget", 0x8A150014, "failure", id="winget-no-package"),
    pytest.param("deb", 100, "failure", id="apt-get-100"),
    pytest.param("deb", 0, "success", id="deb-0"),
])
def test_documented_defaults(kind: str, code: int, meaning: str) -> None:
    assert classify(kind, code, {}).meaning == meaning


@pytest.mark.parametrize(("kind", "code", "seconds"), [
    pytest.param("msi", 1618, RETRY_AFTER_SECONDS, id="msi-another-install-running"),
    pytest.param("winget", 0x8A150101, RETRY_AFTER_SECONDS, id="winget-package-in-use"),
    pytest.param("choco", 350, RETRY_AFTER_REBOOT_SECONDS, id="choco-pending-reboot"),
    pytest.param("winget", 0x8A15010A, RETRY_AFTER_REBOOT_SECONDS, id="winget-reboot-before-install"),
])
def test_retry_later_says_how_long_to_wait(kind: str, code: int, seconds: int) -> None:
    verdict = classify(kind, code, {})
    assert (verdict.meaning, verdict.retry_after_seconds) == ("retryLater", seconds)
    assert classify(kind, 0, {}).retry_after_seconds is None


def test_the_meaning_is_explained() -> None:
    verdict = classify("msi", 1618, {})
    assert verdict.text == "exit code 1618: ERROR_INSTALL_ALREADY_RUNNING: another installation is in progress"
    assert classify("winget", 0x8A150109, {}).text.endswith("APPINSTALLER_CLI_ERROR_INSTALL_REBOOT_REQUIRED_TO_FINISH")


def test_a_code_in_no_map_is_a_failure_that_says_so() -> None:
    verdict = classify("exe", 42, {})
    assert (verdict.meaning, verdict.succeeded) == ("failure", False)
    assert verdict.text == ("exit code 42 (0x0000002A) is not in the exit-code map of 'exe' installers; "
                            "add it to exitCodes if it means success")


def test_the_packages_map_overrides_and_extends_the_defaults() -> None:
    overrides = {42: "success", 3010: "failure", -1978335135: "retryLater"}
    assert classify("exe", 42, overrides).meaning == "success"  # type: ignore[arg-type]
    assert classify("exe", 3010, overrides).meaning == "failure"  # type: ignore[arg-type]
    assert classify("winget", WINGET_ALREADY_INSTALLED, overrides).meaning == "retryLater"  # type: ignore[arg-type]
    assert "the Package's exitCodes" in classify("exe", 42, overrides).text  # type: ignore[arg-type]


def test_msi_uninstall_of_an_unknown_product_means_already_absent() -> None:
    assert classify("msi", 1605, {}).meaning == "failure"
    assert classify("msi", 1605, {}, uninstall=True).meaning == "success"


def test_reboot_never_swallows_reboot_codes_and_always_succeeds() -> None:
    verdict = classify("msi", 3010, {}, reboot="never")
    assert (verdict.meaning, verdict.reboot) == ("success", "")
    assert "no restart is requested" in verdict.text
    assert classify("msi", 1641, {}).reboot == "hard"


def test_every_type_knows_zero() -> None:
    assert all(table[0][0] == "success" for table in DEFAULTS.values())
