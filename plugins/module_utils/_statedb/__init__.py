"""The state DB: commits and their builds, votes, promotions, API users (SQLite, or PostgreSQL for a farm).

Owns the schema and its migrations (:mod:`.schema`), every read and write
(:mod:`.db`, ``StateDB``; the API's read-only queries run through its
``reader()``) and the engines (:mod:`.backends`: what differs between
SQLite and PostgreSQL). The concurrency contract is in :mod:`.db`'s
docstring.

May import: _common.
"""
