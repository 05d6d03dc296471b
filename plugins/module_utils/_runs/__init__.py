"""Pipeline runs: what a run tested, with what, and the verdict.

Owns the run manifest (``runs/<run id>/manifest.json``): its versioned
schema, writing and reading it, migrating older formats on read, and the
summary lines a run prints (:mod:`.manifest`); and the verdict rule, the one
place that decides whether a run passed (:mod:`.verdict`).

May import :mod:`.._common` (errors, and the write-aside-and-rename
primitive of :mod:`.._common.files`); nothing else of the engine. Its
adapters are the ``run_manifest`` module (pipeline.yml), ``_reproduce``
(the ``reproduce_plan`` module) and the ``run_verdict`` filter
(reproduce.yml); playbooks never write or judge a run in Jinja.
"""
