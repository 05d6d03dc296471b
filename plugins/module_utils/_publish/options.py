"""The options every module of a published repository shares (repo_publish, repo_purge, repo_promote).

Documented once by the ``distroforge.openstack.repos`` doc fragment
(plugins/doc_fragments/repos.py); ``tests/unit/test_doc_fragments.py`` keeps
the two equal.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Mapping

from .layout import Layout
from .publisher import PublishOptions

REPO_OPTIONS: Dict[str, Dict[str, Any]] = {
    "baseurl": {"type": "str"},
    "reponame": {"type": "str", "default": "delorean"},
    "use_components": {"type": "bool", "default": False},
}


def repo_layout(params: Mapping[str, Any]) -> Layout:
    """The layout a module's ``repos_dir`` and :data:`REPO_OPTIONS` describe."""
    return PublishOptions(
        repos_dir=Path(params["repos_dir"]),
        baseurl=params["baseurl"],
        reponame=params["reponame"],
        use_components=params["use_components"],
    ).layout()
