"""Votes and promotions: what CI jobs said about a hash, and labels that follow them.

This package owns

* recording a CI job's vote on a commit repository or an aggregate hash
  (:mod:`.votes`), idempotently and only on hashes that exist and were not
  purged;
* moving a label (DLRN's ``promote_name``) to a hash: the relative symlink in
  DLRN's layout, ``previous-<label>``, the promotion row, and with components
  the label's aggregate ``.repo`` — written together, crash-safe, with a
  compare-and-swap on where the label pointed (:mod:`.promote`,
  :mod:`.journal`, :mod:`.aggregate`);
* promotion criteria in the shape RDO's promoter reads and the decision which
  candidate hash a label moves to (:mod:`.criteria`).

Entry points take an open :class:`~.._statedb.db.StateDB` and a
:class:`~.._publish.layout.Layout` and do one transaction per call, so an
HTTP API can call them once per request; errors are :mod:`.errors` classes
carrying the HTTP status DLRN 0.26.1 answers with.

May import ``_common``, ``_statedb``, ``_publish.layout`` and
``_publish.atomic`` (the repository lock); never Ansible, never a module,
never the publisher.
"""
