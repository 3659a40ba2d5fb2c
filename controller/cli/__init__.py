"""The ``fleetward`` command line: the only place that reads the environment and argv."""
