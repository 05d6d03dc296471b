"""The DLRN-compatible REST API over the state DB.

DLRN 0.26.1's paths, methods, parameters, status codes and JSON, so the
``dlrnapi`` CLI, its Ansible module, promoters and CI jobs work unchanged
(deliberate differences are listed in docs/api.md).

* :mod:`.passwords`, :mod:`.users` - API users with salted scrypt hashes in
  the state DB, and the per-process check of HTTP basic credentials;
* :mod:`.params` - DLRN's parameter rules (booleans, integers, unknown
  fields refused) as one-line :class:`.errors.ApiError` messages;
* :mod:`.queries` - the read side (votes, last tested repo, promotions,
  build metrics) in one snapshot per request;
* :mod:`.service` - one function per endpoint, each one transaction,
  writing through the vote and promotion engine (:mod:`.._promote`);
* :mod:`.wsgi` - the WSGI application (Werkzeug) that gunicorn serves.

Only :mod:`.wsgi` and :mod:`.metrics` need third-party libraries; the rest is
plain Python usable from modules (``api_user``).

May import: _common, _statedb, _promote, _publish (the repository lock and
layout); it is the top of the engine, nothing imports it but modules.
"""
