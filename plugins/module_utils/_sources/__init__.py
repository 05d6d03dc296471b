"""Upstream and distgit sources: git mirrors, polling for new commits, queueing them.

Owns the bare mirrors under a host's ``mirror_dir`` (:mod:`.git`), polling
many repositories in parallel (:mod:`.poll`) and turning what changed into
queued commits in the state DB (:mod:`.runner`).

May import: _common, _statedb.
"""
