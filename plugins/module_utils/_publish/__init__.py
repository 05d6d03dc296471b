"""Publishing: DLRN-layout repositories, signed, crash-safe; status pages; purge.

Owns the repository layout (:mod:`.layout`), RPM and DEB metadata
(:mod:`.rpmrepo`, :mod:`.debrepo`), signing (:mod:`.signing`), the
write-aside-and-rename discipline for symlinks and files (:mod:`.atomic`),
the publish step itself (:mod:`.publisher`), status reports (:mod:`.report`)
and purging old builds (:mod:`.purge`).

May import: _common, _statedb, _versions.
"""
