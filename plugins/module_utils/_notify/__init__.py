"""Notifications: a package that fails to build, its fix, a promotion that stalls.

Owns deriving events from the state DB (:mod:`.events`: what changed in the
builds and labels, each event with a stable id), writing them as messages
with every secret masked (:mod:`.message`), delivering them by SMTP and by
webhook (:mod:`.deliver`), and one run's bookkeeping (:mod:`.run`: which
events were sent, throttling, retrying what failed, never sending twice).

May import: _common, _statedb, _logs.
"""
