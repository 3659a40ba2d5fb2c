"""Jobs as agents receive them: signing keys, and turning stored jobs into signed payloads."""
