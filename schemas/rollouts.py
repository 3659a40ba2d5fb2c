"""How a deployment reaches its devices: maintenance windows and staged rollouts (waves).

A :class:`Window` is a cron schedule, a duration and a time zone: installs happen only while a
window is open (the agent re-checks against its own clock); downloads may start earlier.
A :class:`Rollout` is a list of waves, each a device count or a percentage of the targets,
cumulative; the next wave starts only when the current one met ``successThreshold`` and soaked
for ``soakMinutes``; failures above ``failureThreshold`` halt the rollout. The default is never
"everything at once": one canary device, then 10 %, 50 % and 100 %.
"""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from schemas.cron import CronError, parse_cron
from schemas.resources import SpecModel
from schemas.timezones import TimeZoneName

MAX_WAVES = 20
MAX_WINDOW_MINUTES = 7 * 24 * 60


class Window(SpecModel):
    """A recurring maintenance window: it opens at each cron occurrence and stays open ``durationMinutes``."""

    cron: str = Field(max_length=200, description="Five-field cron (minute hour day-of-month month "
                                                  "day-of-week), e.g. '0 22 * * 1-5'.")
    duration_minutes: int = Field(ge=1, le=MAX_WINDOW_MINUTES)
    timezone: TimeZoneName | None = Field(
        default=None, description="IANA zone of the cron times; default: the device's client's timezone.")

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        try:
            parse_cron(value)
        except CronError as error:
            raise ValueError(f"invalid cron expression: {error}") from None
        return value


class Wave(SpecModel):
    """A step of a rollout: the first ``devices`` targets, or ``percent`` of them (rounded up)."""

    devices: int | None = Field(default=None, ge=1, le=1_000_000)
    percent: int | None = Field(default=None, ge=1, le=100)

    @model_validator(mode="after")
    def _one_measure(self) -> Wave:
        if (self.devices is None) == (self.percent is None):
            raise ValueError("a wave has either 'devices' (a count) or 'percent' (1-100), not both")
        return self

    def size(self, total: int) -> int:
        """How many targets (out of ``total``) this wave covers, cumulatively."""
        wanted = self.devices if self.devices is not None else -(-total * (self.percent or 0) // 100)
        return min(total, wanted)


def _default_waves() -> list[Wave]:
    return [Wave(devices=1), Wave(percent=10), Wave(percent=50), Wave(percent=100)]


class Rollout(SpecModel):
    waves: list[Wave] = Field(default_factory=_default_waves, min_length=1, max_length=MAX_WAVES)
    success_threshold: int = Field(
        default=95, ge=0, le=100,
        description="Percent of a wave's reachable devices that must succeed before the next wave.")
    failure_threshold: int = Field(
        default=10, ge=0, le=100,
        description="The rollout halts when more than this percent of the reachable devices failed "
                    "(100: never halts).")
    soak_minutes: int = Field(default=0, ge=0, le=MAX_WINDOW_MINUTES,
                              description="How long a wave that met the success threshold runs "
                                          "before the next one starts.")
    offline_timeout_minutes: int = Field(
        default=240, ge=1, le=MAX_WINDOW_MINUTES,
        description="A device without a result this long after its wave started is skipped: "
                    "it counts neither as success nor failure and no longer holds the rollout.")

    @model_validator(mode="after")
    def _ends_at_everything(self) -> Rollout:
        last = self.waves[-1]
        if last.percent != 100:
            raise ValueError("the last wave must be 'percent: 100' so every target is reached "
                             "(e.g. waves: [{devices: 1}, {percent: 10}, {percent: 100}])")
        return self
