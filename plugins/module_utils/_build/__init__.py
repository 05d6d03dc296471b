"""Builds: from a commit and its packaging to packages, isolated and bit-for-bit reproducible.

Owns the build queue and its dependency waves (:mod:`.queue`, :mod:`.deps`),
one build attempt from source to outputs and buildinfo (:mod:`.runner`,
:mod:`.source`, :mod:`.sandbox`, :mod:`.privs`), what keeps a hostile build in
its box (:mod:`.archive`: archives checked before unpacking; :mod:`.contain`:
the engine's own paths, disk and processes), build logs and failure
classes (:mod:`.buildlog`, :mod:`.classify`), how far a run of builds is (:mod:`.progress`), and the build backends, one
file each behind one registry (:mod:`.backends`).

May import: _common, _statedb, _versions, _sources.
"""
