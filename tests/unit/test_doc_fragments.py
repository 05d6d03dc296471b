"""Shared options are documented once, by a doc fragment, and specified once, by a spec dict the modules take.

- ``state_db`` and ``_common.module.STATE_DB_OPTIONS`` (every module that uses the state DB);
- ``repos`` and ``_publish.options.REPO_OPTIONS`` (repo_publish, repo_purge, repo_promote).
"""

from __future__ import annotations

import ast

import pytest
import yaml

from ansible_collections.distroforge.openstack.plugins.doc_fragments import repos, state_db
from ansible_collections.distroforge.openstack.plugins.module_utils._common.module import STATE_DB_OPTIONS
from ansible_collections.distroforge.openstack.plugins.module_utils._publish.options import REPO_OPTIONS, repo_layout

from .ansible_run import TOP

USERS = ("repo_publish", "repo_purge", "repo_promote")


@pytest.mark.parametrize(
    ("fragment", "spec"),
    [(state_db.ModuleDocFragment, STATE_DB_OPTIONS), (repos.ModuleDocFragment, REPO_OPTIONS)],
    ids=["state_db", "repos"],
)
def test_the_fragment_documents_the_shared_spec(fragment, spec):
    documented = yaml.safe_load(fragment.DOCUMENTATION)["options"]
    assert set(documented) == set(spec)
    for name, option in spec.items():
        doc = documented[name]
        assert doc["type"] == option["type"], name
        assert doc.get("default") == option.get("default"), name
        assert bool(doc.get("required")) == bool(option.get("required")), name


@pytest.mark.parametrize("module", USERS)
def test_each_user_takes_the_fragment_and_the_spec_and_says_neither_again(module):
    text = (TOP / "plugins" / "modules" / f"{module}.py").read_text()
    tree = ast.parse(text)
    doc = yaml.safe_load(
        next(
            node.value.value
            for node in tree.body
            if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "DOCUMENTATION"
        )
    )
    assert "distroforge.openstack.repos" in doc["extends_documentation_fragment"]
    assert not set(REPO_OPTIONS) & set(doc["options"]), f"{module}: documented again"
    assert "**REPO_OPTIONS" in text
    for name in REPO_OPTIONS:
        assert f'"{name}": {{' not in text, f"{module}: {name} specified again"


def test_the_layout_defaults_the_baseurl_to_the_directory(tmp_path):
    params = {"repos_dir": str(tmp_path), "baseurl": None, "reponame": "delorean", "use_components": False}
    assert repo_layout(params).baseurl == f"file://{tmp_path}"
    assert (
        repo_layout({**params, "baseurl": "https://trunk.example.org/zed"}).baseurl == "https://trunk.example.org/zed"
    )
