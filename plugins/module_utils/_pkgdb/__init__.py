"""The package database in rdoinfo's format (read through distroinfo's rules).

Owns loading a database (imports kept inside its folder, duplicate keys and
wrong types refused in one line), package templates (``conf``), release tags,
and the parse cache.

May import: _common.
"""
