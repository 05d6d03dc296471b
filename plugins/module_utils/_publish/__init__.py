"""Publishing: DLRN-layout repositories, signed, crash-safe; status pages; purge.

Owns the repository layout (:mod:`.layout`), RPM and DEB metadata
(:mod:`.rpmrepo`, :mod:`.debrepo`), signing (:mod:`.signing`), the
repository lock (:mod:`.atomic`; the crash-safe file primitives it uses are
``_common.files``), the publish step itself (:mod:`.publisher`), status
reports (:mod:`.report`), purging old builds (:mod:`.purge`) and the
options the repository modules share (:mod:`.options`).

May import: _common, _statedb, _versions.
"""
