"""Staged rollouts: which wave each device is in, which wave is active, and when to halt.

Pure, like the rest of the planner: the stored :class:`RolloutState` (what the previous pass
concluded), the devices' outcomes and ``now`` in; the next state, the transitions to record and
which devices may get jobs out.

Wave membership is a stable hash of (deployment, device), so a device stays in its wave across
reconciles and plans. Waves are cumulative: wave ``k`` covers the first ``size(k)`` targets in
hash order. The state stores each wave's *cut-off* (the hash of the last device it covers), so an
incremental pass that sees only a few agents still knows their waves without the whole target set.

Counting, over every device in the waves started so far:

- success: at the deployment's version; failure: its last attempt failed;
- a device without a result is *skipped* once ``offlineTimeoutMinutes`` passed since its wave
  started (it counts neither way and holds nothing up); before that, an offline device
  (not seen for :data:`OFFLINE_AFTER`) counts neither way but holds the wave, and an online one is
  in progress and counts in the denominator.

The rollout halts when failures exceed ``failureThreshold`` percent of the counted devices; the
next wave starts when successes reach ``successThreshold`` percent, no offline device is still
within its timeout, and the wave has soaked ``soakMinutes`` since it met the threshold.
A halted state is keyed by the deployment's digest: a new revision of the Deployment (or of its
Package) has a new digest and starts a fresh rollout, which is how git resumes a halted one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Literal

from controller.observed import RolloutState
from schemas.rollouts import Rollout

OFFLINE_AFTER = timedelta(minutes=15)
"""A device not seen this long is offline: it counts neither as success nor as failure."""

HASH_SPACE = 2**63

DeviceResult = Literal["success", "failure", "open", "excluded"]
"""What a device's outcome means for the rollout; ``excluded`` devices (not applicable,
conflicting, overridden) are in no count."""

TransitionKind = Literal["started", "wave-started", "halted", "completed"]


@dataclass(frozen=True)
class Transition:
    kind: TransitionKind
    wave: int
    """1-based, as people count waves."""
    detail: str


@dataclass(frozen=True)
class WaveCount:
    """The roll-up of one wave (its own devices, not the cumulative set)."""

    wave: int
    size: int
    succeeded: int = 0
    failed: int = 0
    in_progress: int = 0
    offline: int = 0
    skipped: int = 0
    waiting: int = 0
    """Not yet started: the wave is after the active one."""


@dataclass(frozen=True)
class RolloutReport:
    """One deployment's rollout after this pass: the state to store and what changed."""

    deployment: str
    state: RolloutState
    transitions: tuple[Transition, ...] = ()
    waves: tuple[WaveCount, ...] = field(default=())


@dataclass(frozen=True)
class DeviceStanding:
    agent_id: str
    result: DeviceResult
    offline: bool


def device_hash(deployment: str, agent_id: str) -> int:
    """Stable position of a device in a deployment's rollout order (63 bits)."""
    digest = hashlib.blake2b(f"{deployment}\0{agent_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


def spec_digest(*parts: object) -> str:
    """A digest of the deployment's (and its package's) dumped specs: a change starts a fresh rollout."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def wave_sizes(policy: Rollout, total: int) -> list[int]:
    """Cumulative size of each wave (non-decreasing; the last is ``total``)."""
    sizes: list[int] = []
    for wave in policy.waves:
        sizes.append(max(wave.size(total), sizes[-1] if sizes else 0))
    return sizes


def cutoffs_for(hashes: Sequence[int], sizes: Sequence[int]) -> tuple[int, ...]:
    """``hashes`` sorted ascending: each wave's largest covered hash (the last wave covers all)."""
    found = [hashes[size - 1] if size > 0 else -1 for size in sizes]
    found[-1] = HASH_SPACE  # devices that appear later fall into the last wave at the latest
    return tuple(found)


def evaluate(deployment: str, policy: Rollout, previous: RolloutState | None, digest: str,
             devices: Iterable[DeviceStanding], now: datetime) -> RolloutReport:
    """Advance (or halt) the rollout of one deployment given every target's standing."""
    ordered = sorted((device_hash(deployment, device.agent_id), device) for device in devices)
    hashes = [item[0] for item in ordered]
    sizes = wave_sizes(policy, len(ordered))
    cutoffs = cutoffs_for(hashes, sizes) if ordered else (*tuple(-1 for _ in sizes[:-1]), HASH_SPACE)
    transitions: list[Transition] = []
    if previous is None or previous.digest != digest:
        state = RolloutState(digest=digest, wave=0, started_at=(now,), cutoffs=cutoffs)
        transitions.append(Transition("started", 1, f"{len(ordered)} targets in waves of "
                                                   f"{', '.join(str(size) for size in sizes)}"))
    else:
        state = replace(previous, cutoffs=cutoffs)
    waves_of = _wave_index(sizes, len(ordered))
    last = len(sizes) - 1

    while not (state.halted or state.rolled_back):
        counts = _count(ordered, waves_of, state, policy, now, upto=state.wave)
        counted = counts.succeeded + counts.failed + counts.in_progress
        if counted and counts.failed * 100 > policy.failure_threshold * counted:
            reason = (f"{counts.failed} of {counted} devices failed in waves 1-{state.wave + 1} "
                      f"(more than the {policy.failure_threshold}% failure threshold)")
            state = replace(state, halted=True, reason=reason, met_at=None)
            transitions.append(Transition("halted", state.wave + 1, reason))
            break
        met = counts.offline == 0 and (counted == 0 or counts.succeeded * 100 >= policy.success_threshold * counted)
        if state.wave == last:
            done = met and counts.in_progress == 0 and counts.offline == 0
            if done and not state.completed:
                state = replace(state, completed=True)
                transitions.append(Transition("completed", state.wave + 1,
                                              f"{counts.succeeded} succeeded, {counts.skipped} skipped"))
            elif not done and state.completed:
                state = replace(state, completed=False)  # new targets or a regression
            break
        if not met:
            state = replace(state, met_at=None)
            break
        met_at = state.met_at or now
        if now < met_at + timedelta(minutes=policy.soak_minutes):
            state = replace(state, met_at=met_at)
            break
        state = replace(state, wave=state.wave + 1, started_at=(*state.started_at, now), met_at=None)
        transitions.append(Transition("wave-started", state.wave + 1,
                                      f"wave {state.wave} met {counts.succeeded}/{counted} "
                                      f"(threshold {policy.success_threshold}%); "
                                      f"wave {state.wave + 1} covers {sizes[state.wave]} devices"))
    return RolloutReport(deployment, state, tuple(transitions),
                         _roll_up(ordered, waves_of, state, policy, now, sizes))


def _wave_index(sizes: Sequence[int], total: int) -> list[int]:
    index: list[int] = []
    wave = 0
    for position in range(total):
        while position >= sizes[wave]:
            wave += 1
        index.append(wave)
    return index


def _classify(device: DeviceStanding, wave: int, state: RolloutState, policy: Rollout,
              now: datetime) -> str:
    if device.result in ("success", "failure", "excluded"):
        return device.result
    started = state.started_at[min(wave, len(state.started_at) - 1)]
    if now >= started + timedelta(minutes=policy.offline_timeout_minutes):
        return "skipped"
    return "offline" if device.offline else "open"


def _count(ordered: Sequence[tuple[int, DeviceStanding]], waves_of: Sequence[int], state: RolloutState,
           policy: Rollout, now: datetime, upto: int) -> WaveCount:
    tally = {"success": 0, "failure": 0, "open": 0, "offline": 0, "skipped": 0, "excluded": 0}
    for (_hash, device), wave in zip(ordered, waves_of, strict=True):
        if wave > upto:
            break
        tally[_classify(device, wave, state, policy, now)] += 1
    return WaveCount(wave=upto, size=0, succeeded=tally["success"], failed=tally["failure"],
                     in_progress=tally["open"], offline=tally["offline"], skipped=tally["skipped"])


def _roll_up(ordered: Sequence[tuple[int, DeviceStanding]], waves_of: Sequence[int], state: RolloutState,
             policy: Rollout, now: datetime, sizes: Sequence[int]) -> tuple[WaveCount, ...]:
    per_wave = [dict.fromkeys(("success", "failure", "open", "offline", "skipped", "excluded", "waiting"), 0)
                for _ in sizes]
    for (_hash, device), wave in zip(ordered, waves_of, strict=True):
        if wave > state.wave and device.result != "success":
            per_wave[wave]["waiting"] += 1
        else:
            per_wave[wave][_classify(device, wave, state, policy, now)] += 1
    result = []
    for index, tally in enumerate(per_wave):
        size = sizes[index] - (sizes[index - 1] if index else 0)
        result.append(WaveCount(index, size, tally["success"], tally["failure"], tally["open"],
                                tally["offline"], tally["skipped"], tally["waiting"]))
    return tuple(result)
