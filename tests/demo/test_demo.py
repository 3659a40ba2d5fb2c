"""``fleetward demo`` converges, and the examples' pinned hashes match the artifacts they build."""

from __future__ import annotations

import re
from pathlib import Path

from ruamel.yaml import YAML

from controller.bundled import bundled_dir
from controller.demo.artifacts import build_artifacts
from controller.demo.running import run_demo


def test_example_artifacts_build_to_the_pinned_hashes(tmp_path):
    built = {a.name: a for a in build_artifacts(bundled_dir("examples") / "artifacts", tmp_path)}
    pinned = {}
    yaml = YAML(typ="safe")
    for path in sorted(bundled_dir("examples").rglob("*.yaml")):
        for document in yaml.load_all(path.read_text()):
            if document and document["kind"] == "Package":
                for installer in document["spec"]["installers"]:
                    name = Path(installer["url"]).name.removesuffix(".tar")
                    pinned[name] = (installer["sha256"], installer["size"])
    assert pinned == {name: (a.sha256, a.size) for name, a in built.items()}


def test_demo_converges_and_reports(tmp_path):
    lines: list[str] = []
    result = run_demo(workdir=tmp_path / "demo", say=lines.append, timeout=90)
    assert result.converged
    assert result.agent_software == {  # northwind-probe: the rollout step's good version, everywhere
        "acme-ws-01": ["hello-tool/1.0.0", "northwind-probe/1.0.0"],
        "acme-srv-01": ["hello-tool/1.0.0", "northwind-probe/1.0.0"],
        "globex-srv-01": ["globex-backup/2.3.0", "northwind-probe/1.0.0"],
    }
    assert {(d["id"], d["converged"], d["devices"]) for d in result.deployments} == {
        ("acme.hello-on-linux", 2, 2), ("globex.backup-on-servers", 1, 1)}
    # Devices, online, converged, needing attention. "Online" means a check-in within three check-in
    # intervals (15 s), which a loaded machine's slow agent round can miss: it is not what this checks.
    assert re.search(r"\| \[ACME Corp\]\(clients/acme\.md\) \| 2 \| [0-2] \| 2 \| 0 \|", result.status_readme), (
        result.status_readme)
    assert any("globex-srv-01: install globex-backup 2.3.0 -> succeeded" in line for line in lines)
    # Asset management: every device's inventory is in the API, and acme's one-seat licence is
    # over-deployed by hello-on-linux.
    assert len(result.inventory) == 3 and all("software packages" in line for line in result.inventory)
    assert any("GiB RAM" in line for line in result.inventory)
    assert any("Hello Tool Pro" in alert and "acme" in alert for alert in result.alerts)
    # Warranty: looked up at the loopback stand-in for Dell's API, cached, and 45 days left raises
    # a warning.
    (warranty,) = result.warranty
    assert "DMO7X4Q" in warranty and "ProSupport Plus" in warranty and "(45 days left)" in warranty
    assert "asked Dell's stand-in API 1 time(s)" in warranty
    assert any("[warning]" in alert and "DMO7X4Q" in alert for alert in result.alerts), result.alerts
    # Alert to ticket: the globex agent's real disk-space alert (its threshold in git trips on any disk)
    # opened a ticket by the committed rule, which the outbox delivered to the ConnectWise stand-in.
    alert, ticket, at_psa = result.disk_alert
    assert "agent.disk from globex-srv-01 (globex)" in alert and "% free (" in alert
    assert re.search(r'Ticket #\d+ in the built-in store: "Low disk space on .+ \(globex\)" - state new, '
                     r"priority high, rule globex.low-disk, sent to globex-cw", ticket), ticket
    title = ticket.split('"')[1]
    assert re.search(rf'ticket \d+ "{re.escape(title)}" on board Alerts, company GLOBEX, status New', at_psa), at_psa
    assert any("[warning] globex:" in line and "% free" in line for line in result.alerts), result.alerts
    assert any("globex-srv-01: raised disk alert for /" in line for line in lines), lines
    # Policy baseline: audited first (the banner check fails, nothing changes), then enforced: the
    # remediation Script writes the banner inside the agent's data dir and compliance turns over.
    lines_of = result.policy_baseline
    before = lines_of.index(next(line for line in lines_of if line.startswith("Compliance before")))
    after = lines_of.index(next(line for line in lines_of if line.startswith("Compliance after")))
    assert lines_of[before] == ("Compliance before (audit mode): acme.server-baseline: 0 compliant, "
                                "1 non_compliant, 0 error, 0 unknown of 1 device(s)"), lines_of
    assert any(re.match(r"  login-banner: non_compliant - .+/acme-srv-01/demo-baseline/login-banner does not exist$",
                        line) for line in lines_of[before:after]), lines_of
    assert lines_of[after] == ("Compliance after (enforce mode): acme.server-baseline: 1 compliant, "
                               "0 non_compliant, 0 error, 0 unknown of 1 device(s)"), lines_of
    assert any(line.startswith("  login-banner: non_compliant, remediated, now compliant - ")
               for line in lines_of[after:]), lines_of
    assert any("agent-credentials-private: compliant" in line for line in lines_of[after:]), lines_of
    banner = tmp_path / "demo" / "agents" / "acme-srv-01" / "demo-baseline" / "login-banner"
    assert banner.read_text() == "Authorised use only. Activity is monitored.\n"
    assert oct(banner.stat().st_mode & 0o777) == "0o644"
    assert any("acme.server-baseline non_compliant bundle" in line for line in lines)

    # Staged rollout: 1.0.0 reaches one canary, then a second device, then the third, each in its own
    # wave. 1.1.0's canary installs it; then the artifact server swaps in a tampered 1.1.0 build of the
    # same size, wave 2's agent refuses it on the pinned SHA-256, the rollout halts with a critical
    # alert, and the rollback's job returns the canary from 1.1.0 to 1.0.0: every device ends on 1.0.0.
    waves = [re.fullmatch(r"  wave (\d) of 3(?: \(canary\))?: (\S+)", line) for line in lines]
    started = [(found[1], found[2]) for found in waves if found]
    assert [wave for wave, _ in started] == ["1", "2", "3", "1", "2"], lines
    assert sorted(name for _, name in started[:3]) == ["acme-srv-01", "acme-ws-01", "globex-srv-01"]
    canary, second, third = (name for _, name in started[:3])
    assert [name for _, name in started[3:]] == [canary, second]  # waves are stable per device
    assert sum("install northwind-probe 1.0.0 -> succeeded" in line for line in lines) == 3, lines
    canary_up = lines.index(f"    {canary}: upgrade northwind-probe 1.1.0 -> succeeded")
    swap_said = next(index for index, line in enumerate(lines) if line.startswith("Mirror swap: "))
    refused = next(index for index, line in enumerate(lines)
                   if line.startswith(f"    {second}: upgrade northwind-probe 1.1.0 -> failed ("))
    assert canary_up < swap_said < refused, lines
    assert "sha256 mismatch" in lines[refused], lines[refused]
    assert not any(f"{third}: upgrade northwind-probe 1.1.0" in line for line in lines), lines
    rollback_ran = lines.index(f"    {canary}: upgrade northwind-probe 1.0.0 -> succeeded")
    assert rollback_ran > refused, lines

    good, canary_done, swap, wave2, bad, halt_alert, rollback_job, rollback, *final = result.rollout
    assert good == ("1.0.0: wave 1 1 device 1 converged, wave 2 1 device 1 converged, "
                    "wave 3 1 device 1 converged; rollout completed"), good
    assert canary_done == f"1.1.0: canary {canary} succeeded: on disk: 1.1.0 (its probe says 1.1.0)", canary_done
    swapped = re.fullmatch(r"Mirror swap: http://127\.0\.0\.1:\d+/northwind-probe-1\.1\.0\.tar now serves a "
                           r"tampered build, same size \(\d+ bytes\), sha256 ([0-9a-f]{12})\.\.\.; "
                           r"the reviewed YAML pins ([0-9a-f]{12})\.\.\.", swap)
    assert swapped and swapped[1] != swapped[2], swap
    mismatch = re.fullmatch(rf"1\.1\.0: wave 2 {second} failed: job \S+ failed: http://127\.0\.0\.1:\d+/"
                            r"northwind-probe-1\.1\.0\.tar: sha256 mismatch: got ([0-9a-f]{64}), the package pins "
                            r"([0-9a-f]{64}) .*; on disk: 1\.0\.0 \(its probe says 1\.0\.0\)", wave2)
    assert mismatch, wave2
    assert mismatch[1].startswith(swapped[1]) and mismatch[2].startswith(swapped[2]), (wave2, swap)
    assert bad == ("1.1.0: halted in wave 2: 1 of 2 devices failed in waves 1-2 "
                   "(more than the 10% failure threshold)"), bad
    assert re.fullmatch(r"Alert #\d+ \[critical\] controller.rollout-halted: rollout of probe-on-linux halted "
                        r"in wave 2: 1 of 2 devices failed .+", halt_alert), halt_alert
    assert re.fullmatch(rf"Rollback job \S+ on {canary} \(action upgrade\): northwind-probe 1\.1\.0 -> 1\.0\.0, "
                        r"succeeded", rollback_job), rollback_job
    assert rollback.startswith(f"Rollback: {', '.join(sorted((canary, second)))} back on 1.0.0; rolled back at "), (
        rollback)
    wave_of = {name: wave for wave, name in started[:3]}
    assert sorted(final) == sorted(
        f"{name} (wave {wave}): northwind-probe 1.0.0, "
        + ("halted" if name == third else "rolled-back") + "; on disk: 1.0.0 (its probe says 1.0.0)"
        for name, wave in wave_of.items()), final
    probe = tmp_path / "demo" / "agents" / canary / "software" / "northwind-probe" / "1.0.0" / "bin" / "northwind-probe"
    assert 'echo "northwind-probe 1.0.0:' in probe.read_text()  # read here, not only through the demo's lines
    assert any(alert.startswith("[critical] msp: rollout of probe-on-linux halted in wave 2")
               for alert in result.alerts), result.alerts
