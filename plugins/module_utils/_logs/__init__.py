"""Log collection on a node: sanitised, renamed, capped and indexed copies.

``sanitize`` replaces secrets (patterns given as data) with ``***``,
``stage`` gathers files and command outputs under those rules into one
archive, ``index`` renders the HTML listing of what was kept and cut.
Everything happens on the node, so no secret ever leaves it.

May import: _common.
"""
