"""Status written back to git: a snapshot of the fleet, rendered to files, committed in batches.

``snapshot`` holds the plain data, ``rendering`` turns it into files with jinja2
(deterministically: sorted, no wall-clock noise, so an unchanged fleet makes no
commit), ``collecting`` reads a snapshot from the store, and ``publishing`` commits
and pushes the files to the status branch at most once per interval.
"""
