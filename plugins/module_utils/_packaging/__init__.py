"""Packaging generated from metadata: a new package's distgit (RDO-style spec and ``debian/``) from its sdist.

``metadata`` reads what a project states (PKG-INFO, setup.cfg, setup.py,
requirements.txt) from an sdist or a source tree; ``generate`` maps it
through the requirement map (``_release/pymod.py``) and renders the
templates of a package kind (``kinds/<kind>/``, embedded for modules in
``template_data``); ``debian_base`` reads the versions of the base
distribution a Debian epoch must sort above.

May import: _common, _release, _versions.
"""
