"""Plans and proposal reviews rendered for people (text, markdown) and programs (json).

Pure functions of planner output; used by ``fleetward plan``, the proposal planner, the
API and the status branch.
"""
