"""Tempest results: subunit v2 streams to a summary, JSON, JUnit and HTML.

``subunit_parse`` reads the byte streams, ``results`` folds events into one
result per test across the first run and its reruns, ``junit`` and
``html_report`` render them, ``outputs`` writes the files.

May import: _common, and _runs.verdict (the collection's one verdict rule makes the
summary's ``success``).
"""
