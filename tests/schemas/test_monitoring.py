"""Monitor settings: sane defaults, clear refusals, and a client overriding the Fleet field by field."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from schemas.monitoring import MonitorSettings, overlay


def test_defaults_are_the_documented_ones() -> None:
    settings = MonitorSettings()
    assert (settings.disk.warning_free_percent, settings.disk.critical_free_percent) == (10.0, 5.0)
    assert (settings.cpu.warning_percent, settings.cpu.minutes) == (90.0, 10)
    assert settings.processes.required == [] and settings.reboot_pending.enabled


@pytest.mark.parametrize(("document", "says"), [
    pytest.param({"disk": {"warningFreePercent": 5, "criticalFreePercent": 10}}, "criticalFreePercent",
                 id="disk-levels-inverted"),
    pytest.param({"cpu": {"warningPercent": 95, "criticalPercent": 90}}, "criticalPercent", id="cpu-levels-inverted"),
    pytest.param({"memory": {"minutes": 0}}, "minutes", id="zero-minutes"),
    pytest.param({"disk": {"warningFreePercent": 150}}, "warningFreePercent", id="over-100-percent"),
    pytest.param({"cpu": {"treshold": 90}}, "treshold", id="typo-refused"),
])
def test_invalid_settings_name_the_field(document: dict[str, object], says: str) -> None:
    with pytest.raises(ValidationError) as caught:
        MonitorSettings.model_validate(document)
    assert says in str(caught.value)


def test_a_client_overrides_only_what_it_writes() -> None:
    fleet = MonitorSettings.model_validate({"cpu": {"minutes": 30}, "processes": {"required": ["sshd"]}})
    client = MonitorSettings.model_validate({"disk": {"warningFreePercent": 20}, "cpu": {"warningPercent": 80}})
    merged = overlay(fleet, client)
    assert (merged.cpu.warning_percent, merged.cpu.minutes) == (80.0, 30)
    assert merged.disk.warning_free_percent == 20.0 and merged.disk.critical_free_percent == 5.0
    assert merged.processes.required == ["sshd"]
    assert overlay(fleet, None) is fleet


def test_an_inconsistent_combination_is_refused() -> None:
    fleet = MonitorSettings.model_validate({"disk": {"warningFreePercent": 8, "criticalFreePercent": 4}})
    client = MonitorSettings.model_validate({"disk": {"criticalFreePercent": 9, "warningFreePercent": 10}})
    assert overlay(fleet, client).disk.critical_free_percent == 9
    only_critical = MonitorSettings.model_validate({"disk": {"criticalFreePercent": 9}})
    with pytest.raises(ValueError, match="criticalFreePercent"):
        overlay(fleet, only_critical)
