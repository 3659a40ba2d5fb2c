"""Policy automation on the controller: what each agent must check, and what the fleet reports back.

* :mod:`bundling` - the signed bundle of policies and scripts each agent fetches, and its version;
* :mod:`assigning` - which agents each Policy targets (the planner's targeting, with baselines,
  overrides and exclusions resolved by :mod:`controller.planning.inheriting`), kept in SQL;
* :mod:`compliance` - roll-ups per device, group, client and policy, as aggregate SQL.

Results are ingested by :mod:`controller.store.policies`; the HTTP routes are in
``controller.api.agent_routes`` (agents) and ``controller.api.policy_routes`` (operators).
"""
