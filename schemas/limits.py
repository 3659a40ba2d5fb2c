"""Size caps both sides enforce. Every input that crosses a trust boundary has one."""

MAX_YAML_FILE_BYTES = 1024 * 1024
"""A fleet repository file larger than this is rejected unread."""

MAX_YAML_NODES = 100_000
"""Nodes a file may expand to once aliases are followed (stops "billion laughs")."""

MAX_REQUEST_BYTES = 64 * 1024
"""Default cap for an agent or operator request body."""

MAX_INVENTORY_BYTES = 8 * 1024 * 1024
"""Cap for an inventory report, which carries the whole software list."""

MAX_JOB_OUTPUT_CHARS = 16 * 1024
"""Output an agent sends back with a job result (the tail is kept)."""

MAX_ARTIFACT_BYTES = 4 * 1024 * 1024 * 1024
"""An artifact without a declared size is still cut off here."""

MAX_LABELS = 64
MAX_LABEL_VALUE_CHARS = 253
