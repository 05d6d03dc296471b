"""Primitives every other engine package uses, and nothing else.

Owns the exception hierarchy every user-facing error goes through
(:mod:`.errors`: one line naming the file, the field and the fix), running
commands (:mod:`.proc`), file primitives (:mod:`.files`), OpenPGP key
fingerprints (:mod:`.openpgp`) and the one place modules meet Ansible
(:mod:`.module`, ``DistroforgeModule``: shared options, check mode, error
translation).

May import: nothing of the engine (``module`` alone, the Ansible adapter,
also opens the state DB: _statedb).
"""
