"""The state DB: commits and their builds, votes, promotions, API users (SQLite, one writer).

Owns the schema and its migrations (:mod:`.schema`) and every read and write
(:mod:`.db`, ``StateDB``); nothing else runs SQL on it. The concurrency
contract is in :mod:`.db`'s docstring.

May import: _common.
"""
