"""Primitives every other engine package uses, and nothing else.

Owns the exception hierarchy every user-facing error goes through
(:mod:`.errors`: one line naming the file, the field and the fix), running
commands (:mod:`.proc`), the file primitives every package writes, renames,
fsyncs and hashes files with (:mod:`.files`), the lock with a timeout
(:mod:`.locks`), OpenPGP key fingerprints (:mod:`.openpgp`), watching an
Ansible async job and short durations for progress lines (:mod:`.jobs`) and the one
place modules meet Ansible (:mod:`.module`, ``DistroforgeModule``: shared
options, check mode, error translation).

May import: nothing of the engine (``module`` alone, the Ansible adapter,
also opens the state DB: _statedb).
"""
