"""Shared options are documented once, by a doc fragment, and specified once, by a spec dict the modules take.

- ``state_db`` and ``_common.module.STATE_DB_OPTIONS`` (every module that uses the state DB);
- ``repos`` and ``_publish.options.REPO_OPTIONS`` (repo_publish, repo_purge, repo_promote);
- ``debian_image`` and ``_nodes.podman_image.DEBIAN_IMAGE_OPTIONS`` (node_image, vm_image).
"""

from __future__ import annotations

import ast

import pytest
import yaml

from ansible_collections.distroforge.openstack.plugins.doc_fragments import debian_image, repos, state_db
from ansible_collections.distroforge.openstack.plugins.module_utils._common.module import STATE_DB_OPTIONS
from ansible_collections.distroforge.openstack.plugins.module_utils._nodes.podman_image import DEBIAN_IMAGE_OPTIONS
from ansible_collections.distroforge.openstack.plugins.module_utils._publish.options import REPO_OPTIONS, repo_layout

from .ansible_run import TOP

USERS = [
    (module, "repos", REPO_OPTIONS, "REPO_OPTIONS") for module in ("repo_publish", "repo_purge", "repo_promote")
] + [(module, "debian_image", DEBIAN_IMAGE_OPTIONS, "DEBIAN_IMAGE_OPTIONS") for module in ("node_image", "vm_image")]


@pytest.mark.parametrize(
    ("fragment", "spec"),
    [
        (state_db.ModuleDocFragment, STATE_DB_OPTIONS),
        (repos.ModuleDocFragment, REPO_OPTIONS),
        (debian_image.ModuleDocFragment, DEBIAN_IMAGE_OPTIONS),
    ],
    ids=["state_db", "repos", "debian_image"],
)
def test_the_fragment_documents_the_shared_spec(fragment, spec):
    documented = yaml.safe_load(fragment.DOCUMENTATION)["options"]
    assert set(documented) == set(spec)
    for name, option in spec.items():
        doc = documented[name]
        assert doc["type"] == option["type"], name
        assert doc.get("default") == option.get("default"), name
        assert bool(doc.get("required")) == bool(option.get("required")), name


@pytest.mark.parametrize(("module", "fragment", "options", "spec_name"), USERS, ids=[user[0] for user in USERS])
def test_each_user_takes_the_fragment_and_the_spec_and_says_neither_again(module, fragment, options, spec_name):
    text = (TOP / "plugins" / "modules" / f"{module}.py").read_text()
    tree = ast.parse(text)
    doc = yaml.safe_load(
        next(
            node.value.value
            for node in tree.body
            if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "DOCUMENTATION"
        )
    )
    assert f"distroforge.openstack.{fragment}" in doc["extends_documentation_fragment"]
    assert not set(options) & set(doc["options"]), f"{module}: documented again"
    assert f"**{spec_name}" in text
    for name in options:
        assert f'"{name}": {{' not in text, f"{module}: {name} specified again"


def test_the_layout_defaults_the_baseurl_to_the_directory(tmp_path):
    params = {"repos_dir": str(tmp_path), "baseurl": None, "reponame": "delorean", "use_components": False}
    assert repo_layout(params).baseurl == f"file://{tmp_path}"
    assert (
        repo_layout({**params, "baseurl": "https://trunk.example.org/zed"}).baseurl == "https://trunk.example.org/zed"
    )
