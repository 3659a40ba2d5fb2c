"""``fleetward demo``: the whole loop on one machine, from a git commit to software on three agents."""
