"""Stable releases: tagged builds, stages as data, and what ships on release day.

Owns builds of upstream tags with final versions and the store of released
NVRs, where an NVR once built never changes content (:mod:`.tagged`), and
the per-release stages ``candidate``, ``testing`` and ``release``: files
mapping each package to an NVR, validated, diffed, moved with a recorded
reason and published as signed repositories (:mod:`.stages`).

May import: _common, _versions, _pkgdb, _sources, _build, _publish.
"""
