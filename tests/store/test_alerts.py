"""Alerts: one open alert per key, refreshed in place, cleared, scoped by client."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from controller.store import Store, clear_alert, clear_alerts_except, list_alerts, raise_alert

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


def test_raise_is_idempotent_per_key_and_clear_closes(database_url):
    store = Store.open(database_url)
    try:
        first, new = raise_alert(store, client="acme", agent_id=None, type="license.over-deployed",
                                 severity="warning", key="license:acme.office", message="26 of 25 seats", now=NOW)
        again, new_again = raise_alert(store, client="acme", agent_id=None, type="license.over-deployed",
                                       severity="critical", key="license:acme.office", message="30 of 25 seats",
                                       now=NOW + timedelta(minutes=1))
        assert new and not new_again and first == again
        (row,) = list_alerts(store, "acme", state="open")
        assert (row.severity, row.message) == ("critical", "30 of 25 seats")
        assert list_alerts(store, "globex") == []
        assert clear_alert(store, "license:acme.office", NOW) and not clear_alert(store, "license:acme.office", NOW)
        assert list_alerts(store, "acme", state="open") == []
        third, new_third = raise_alert(store, client="acme", agent_id=None, type="license.over-deployed",
                                       severity="warning", key="license:acme.office", message="again", now=NOW)
        assert new_third and third != first
    finally:
        store.close()


def test_clear_all_but_the_current_ones(database_url):
    store = Store.open(database_url)
    try:
        for key in ("warranty:A", "warranty:B", "license:x"):
            raise_alert(store, client="acme", agent_id=None, type="t", severity="info", key=key, message=key, now=NOW)
        assert clear_alerts_except(store, "warranty:", {"warranty:B"}, NOW) == 1
        assert sorted(a.key for a in list_alerts(store, None, state="open")) == ["license:x", "warranty:B"]
    finally:
        store.close()
