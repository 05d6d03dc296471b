"""Stable releases: tagged builds, stages as data, and what ships on release day.

Owns builds of upstream tags with final versions and the store of released
NVRs, where an NVR once built never changes content (:mod:`.tagged`), and
the per-release stages ``candidate``, ``testing`` and ``release``: files
mapping each package to an NVR, validated, diffed, moved with a recorded
reason and published as signed repositories (:mod:`.stages`).

Also owns new upstream versions and requirement checks: proposing a new tag's
packaging as a commit on a new branch of the distgit (:mod:`.bump`, what
``rdopkg new-version -b`` does), reqcheck (:mod:`.reqcheck`: upstream
requirements at a tag against the packaging's dependencies, as ``rdopkg
reqcheck`` does), the Python requirement → package name map kept as data
(:mod:`.pymod`, ``pymod2pkg.yml``), reading and editing specs and ``debian/``
(:mod:`.pkgfiles`) and the scratch git work behind them (:mod:`.gitwork`).

Also owns installability (:mod:`.closure`: every dependency of a repository
resolves within it plus the base, by dose-debcheck and dnf repoclosure) and
the ``distroforge-release-<release>`` package that configures a node for a
release's repository (:mod:`.release_package`).

May import: _common, _versions, _pkgdb, _sources, _build, _publish.
"""
