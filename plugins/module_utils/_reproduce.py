"""Reproduce a pipeline run from its manifest: what to rebuild, and whether the rebuild matched.

A run's ``manifest.json`` (written and read by :mod:`._runs.manifest`) names the
repository hash it tested, the packages in it (DLRN's ``versions.csv`` rows)
and how the tests were selected. Each package's build directory holds the
``buildinfo.json`` its builder wrote: upstream and distgit URLs and commits,
backend, settings, toolchain and the sha256 of every output. That is all a
rebuild needs, and all a comparison needs.

Plain Python (ansible.module_utils.urls only for HTTP, as ansible-test
asks): the ``reproduce_plan`` module and the ``buildinfo_compare`` filter are
thin wrappers around these functions.

A top layer: nothing in the engine imports this module.

May import: _common, _build (its backends' settings), _runs (the manifest),
_versions.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import urllib.error
from typing import Any, Mapping, Sequence

from ansible.module_utils.urls import ConnectionError as UrlConnectionError
from ansible.module_utils.urls import SSLValidationError, open_url

from ._build import backends
from ._common.errors import InputError
from ._common.files import sha256_file
from ._runs import manifest as run_manifest
from ._runs.manifest import Manifest, Tempest
from ._versions.nvr import repo_path

VERSIONS_COLUMNS = ("Project", "Source Sha", "Dist Sha", "Status", "Component", "Pkg NVR")
# Build metadata, not packages: dpkg's .buildinfo lists the builder's installed
# packages and .changes carries the .buildinfo's checksum, so both change with
# the builder's toolchain even when every package is bit-identical.
METADATA_SUFFIXES = backends.metadata_suffixes()
FETCH_TIMEOUT = 30
REPOS_HINT = "give the run's repos/ directory or its URL (reproduce.yml: -e distroforge_reproduce_repos=<dir or URL>)"


def package_rows(manifest: Manifest, path: str) -> list[dict[str, Any]]:
    """The manifest's ``packages`` (``versions.csv`` lines) as dicts with each build's directory."""
    reader = csv.DictReader(io.StringIO("\n".join(manifest.packages)))
    missing = [column for column in VERSIONS_COLUMNS if column not in (reader.fieldnames or [])]
    if missing:
        raise InputError(f"{path}: field 'packages' lacks the versions.csv column(s) {', '.join(missing)}")
    components = manifest.repo_path.startswith("component/")
    rows = []
    for number, row in enumerate(reader, start=2):
        if not row["Project"] or not row["Source Sha"] or not row["Dist Sha"]:
            raise InputError(f"{path}: packages line {number} has no Project, Source Sha or Dist Sha")
        component = row["Component"] if row["Component"] not in ("", "None") else None
        rows.append(
            {
                "project": row["Project"],
                "commit_hash": row["Source Sha"],
                "distro_hash": row["Dist Sha"],
                "status": row["Status"],
                "component": component,
                "nvr": row["Pkg NVR"],
                "build_dir": repo_path(row["Source Sha"], row["Dist Sha"], component=component if components else None),
            }
        )
    return rows


def select_rows(rows: Sequence[Mapping[str, Any]], wanted: Sequence[str], path: str) -> list[Mapping[str, Any]]:
    """The rows named in ``wanted`` (every successful build when it is empty)."""
    if not wanted:
        return [row for row in rows if row["status"] == "SUCCESS"]
    known = {row["project"]: row for row in rows}
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise InputError(
            f"packages: {', '.join(unknown)} not in the tested repository of {path};"
            f" choose from {', '.join(sorted(known))}"
        )
    return [known[name] for name in wanted]


def read_buildinfo(repos: str, build_dir: str) -> dict[str, Any]:
    """``<repos>/<build_dir>/buildinfo.json``; ``repos`` is a directory or an http(s) URL."""
    if repos.startswith(("http://", "https://")):
        where = f"{repos.rstrip('/')}/{build_dir}/buildinfo.json"
        try:
            with open_url(where, timeout=FETCH_TIMEOUT) as response:
                text = response.read().decode("utf-8")
        except (urllib.error.URLError, OSError, ValueError, UrlConnectionError, SSLValidationError) as exc:
            raise InputError(f"{where}: cannot fetch the build's buildinfo.json ({exc}); {REPOS_HINT}") from None
    else:
        where = os.path.join(repos, build_dir, "buildinfo.json")
        try:
            with open(where, encoding="utf-8") as handle:
                text = handle.read()
        except OSError as exc:
            raise InputError(
                f"{where}: cannot read the build's buildinfo.json ({exc.strerror}); {REPOS_HINT}"
            ) from None
    try:
        info = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{where}: not JSON ({exc.msg} at line {exc.lineno})") from None
    for field in ("backend", "inputs", "outputs", "project", "name"):
        if field not in info:
            raise InputError(f"{where}: field '{field}' missing; this buildinfo.json was not written by package_build")
    return info


def rewrite_url(url: str, rewrites: Mapping[str, str]) -> str:
    """``url`` with the longest matching prefix of ``rewrites`` replaced (repositories moved since the run)."""
    for old in sorted(rewrites, key=len, reverse=True):
        if url.startswith(old):
            return rewrites[old] + url[len(old) :]
    return url


def job_from_buildinfo(info: Mapping[str, Any], rewrites: Mapping[str, str]) -> dict[str, Any]:
    """The package_build job that rebuilds what ``info`` describes."""
    inputs = info["inputs"]
    return {
        "project": info["project"],
        "name": info["name"],
        "upstream": rewrite_url(inputs["upstream"], rewrites),
        "distgit": rewrite_url(inputs["distgit"], rewrites),
        "commit_hash": inputs["commit_hash"],
        # buildinfo.json written before the state DB's migration 5 names it distgit_hash
        "distro_hash": inputs.get("distro_hash") or inputs["distgit_hash"],
    }


def plan(
    manifest_path: str,
    *,
    packages: Sequence[str] = (),
    repos: str | None = None,
    rewrites: Mapping[str, str] | None = None,
    download_dir: str | None = None,
    check_mode: bool = False,
) -> dict[str, Any]:
    """Everything reproduce.yml needs from a manifest: rebuild jobs and the test settings.

    ``check_mode`` writes nothing: a package to fetch is checked, not saved in ``download_dir``.
    """
    manifest = run_manifest.load(manifest_path)
    all_rows = package_rows(manifest, manifest_path)
    rows = select_rows(all_rows, packages, manifest_path)
    # Where a build's earlier-wave packages may be: the tested repo, then every build directory.
    package_dirs = [manifest.repo_path] + [row["build_dir"] for row in all_rows]
    if repos is None:
        local = manifest.repos_dir
        repos = local if local and os.path.isdir(local) else manifest.repo_base_url
    rebuilds = []
    for row in rows:
        info = read_buildinfo(repos, row["build_dir"])
        rebuilds.append(
            {
                "job": job_from_buildinfo(info, rewrites or {}),
                "backend": info["backend"],
                **_rebuild_options(info, row["build_dir"]),
                "extra_packages": [
                    find_package(item, info["project"], repos, package_dirs, download_dir, check_mode=check_mode)
                    for item in info["inputs"].get("build_against") or []
                ],
                "nvr": info.get("nvr", row["nvr"]),
                "build_dir": row["build_dir"],
                "recorded": {"outputs": info["outputs"], "toolchain": info.get("toolchain", {})},
            }
        )
    return {
        "run_id": manifest.run_id,
        "release": manifest.release,
        "repo_hash": manifest.repo_hash,
        "repo_path": manifest.repo_path,
        "repos": repos,
        "repo_base_url": manifest.repo_base_url,
        "key_fingerprints": list(manifest.key_fingerprints),
        # test_hash.yml's distroforge_test_deps_repos, in repo_configure's words
        "deps_repos": [run_manifest.deps_repo_options(repo) for repo in manifest.deps_repos],
        "verdict": manifest.verdict,
        "reasons": manifest.reasons,
        "tested_hash_is_older": manifest.tested_hash_is_older,
        "deploy": {"scenario": manifest.deploy.scenario or "scenario001"},
        "tempest": _tempest_settings(manifest.tempest),
        "rebuilds": rebuilds,
        "batches": batches(rebuilds),
    }


def _rebuild_options(info: Mapping[str, Any], build_dir: str) -> dict[str, Any]:
    """package_build's backend options (None: not set) that rebuild with the recorded settings."""
    backend = backends.get(info["backend"], where=f"{build_dir}/buildinfo.json: field 'backend'")
    options = backend.rebuild_options(info.get("settings") or {})
    return {name: options.get(name) for name in backends.module_options()}


def find_package(
    item: Mapping[str, str],
    project: str,
    repos: str,
    dirs: Sequence[str],
    download_dir: str | None,
    *,
    check_mode: bool = False,
) -> str:
    """A local path of the package ``item`` (``{name, sha256}``) a build was made against.

    Searched in ``dirs`` under ``repos`` (a directory, or a URL whose copy goes
    to ``download_dir``); only a file with the recorded sha256 will do.
    """
    name, digest = item["name"], item["sha256"]
    seen_other = False
    for directory in dict.fromkeys(dirs):
        if repos.startswith(("http://", "https://")):
            data = _fetch_optional(f"{repos.rstrip('/')}/{directory}/{name}")
            if data is None:
                continue
            if hashlib.sha256(data).hexdigest() != digest:
                seen_other = True
                continue
            if not download_dir:
                raise InputError(f"{name}: {project} was built against it; give download_dir to fetch it from {repos}")
            path = os.path.join(download_dir, name)
            if check_mode:  # checked, and where it would go
                return path
            os.makedirs(download_dir, exist_ok=True)
            with open(path, "wb") as handle:
                handle.write(data)
            return path
        path = os.path.join(repos, directory, name)
        if os.path.isfile(path):
            if sha256_file(path) == digest:
                return path
            seen_other = True
    state = "only with another sha256" if seen_other else "nowhere"
    raise InputError(
        f"{name} (sha256 {digest[:12]}...), which {project} was built against, is {state} in the run's build"
        f" directories under {repos}; the rebuild cannot use the same inputs"
    )


def _fetch_optional(url: str) -> bytes | None:
    """The body at ``url``, or None when it is not there (404)."""
    try:
        with open_url(url, timeout=FETCH_TIMEOUT) as response:
            return response.read()
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise InputError(f"{url}: HTTP {exc.code}; {REPOS_HINT}") from None
    except (urllib.error.URLError, OSError, ValueError, UrlConnectionError, SSLValidationError) as exc:
        raise InputError(f"{url}: cannot fetch ({exc}); {REPOS_HINT}") from None


def batches(rebuilds: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rebuilds grouped by backend and settings: one package_build call each, its builds in parallel."""
    grouped: dict[tuple[Any, ...], dict[str, Any]] = {}
    for rebuild in rebuilds:
        options = {name: rebuild[name] for name in backends.module_options()}
        key = (rebuild["backend"], *options.values(), tuple(rebuild["extra_packages"]))
        batch = grouped.setdefault(
            key,
            {
                "backend": rebuild["backend"],
                **options,
                "extra_packages": list(rebuild["extra_packages"]),
                "jobs": [],
                "rebuilds": [],
            },
        )
        batch["jobs"].append(rebuild["job"])
        batch["rebuilds"].append(rebuild)
    return list(grouped.values())


def _tempest_settings(tempest: Tempest) -> dict[str, Any]:
    """The recorded test selection and counts (empty selection: the run did not record one)."""
    selection = tempest.selection
    return {
        "selection": {
            "include": list(selection.get("include") or []),
            "exclude": list(selection.get("exclude") or []),
            "skips": list(selection.get("skips") or []),
            "concurrency": selection.get("concurrency"),
            "install": selection.get("install"),
        },
        "recorded": {key: getattr(tempest, key) for key in ("total", "passed", "failed", "skipped", "flaky")},
    }


def _kind(name: str) -> str:
    return "metadata" if name.endswith(METADATA_SUFFIXES) else "package"


def compare(rebuilt: Mapping[str, Any], recorded: Mapping[str, Any]) -> dict[str, Any]:
    """Compare a rebuild's buildinfo with the recorded one, output by output.

    ``identical`` is true when every recorded package output (``.deb``,
    ``.rpm``, ``.src.rpm``, ``.dsc``, source tarballs) was rebuilt with the
    same sha256 and no package output appeared or vanished; build metadata
    (``.buildinfo``, ``.changes``) is compared and reported, not voted.
    """
    old = {output["name"]: output["sha256"] for output in recorded.get("outputs", [])}
    new = {output["name"]: output["sha256"] for output in rebuilt.get("outputs", [])}
    outputs = []
    for name in sorted(old.keys() | new.keys()):
        outputs.append(
            {
                "name": name,
                "kind": _kind(name),
                "recorded": old.get(name),
                "rebuilt": new.get(name),
                "same": old.get(name) == new.get(name),
            }
        )
    differ = [o["name"] for o in outputs if o["kind"] == "package" and not o["same"]]
    old_tools, new_tools = recorded.get("toolchain") or {}, rebuilt.get("toolchain") or {}
    toolchain = {
        tool: {"recorded": old_tools.get(tool), "rebuilt": new_tools.get(tool)}
        for tool in sorted(old_tools.keys() | new_tools.keys())
        if old_tools.get(tool) != new_tools.get(tool)
    }
    return {
        "identical": bool(old) and not differ,
        "differ": differ,
        "metadata_differ": [o["name"] for o in outputs if o["kind"] == "metadata" and not o["same"]],
        "outputs": outputs,
        "toolchain_changes": toolchain,
    }
