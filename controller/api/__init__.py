"""HTTP: the agent protocol under /api/agent/v1 and the operator API under /api (FastAPI)."""
