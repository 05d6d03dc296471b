"""Triage of red: bisecting a build or test failure to the first bad commit(s).

Owns the bisect plan (:mod:`.bisect`): which package commits lie between a
good and a bad point, in the order they landed, which state to try next,
what each step found, and the verdict naming the culprit with its evidence.
It decides; playbooks build, deploy and test what it names.  A test
bisect's states are published as repositories (:mod:`.state_repo`) by the
release stages' publisher.

May import: _common, _statedb, _sources, _release.
"""
