"""The run manifest: ``runs/<run id>/manifest.json``, what a pipeline run tested, with what, and the verdict.

One schema, written and read here only. The dataclasses below are the
schema: their fields, types and ``metadata`` (required, non-empty, minimum)
drive both the reader's checks and :func:`json_schema`, the JSON Schema
other tools may validate against.

Versions. ``format`` changes only when a reader of the previous format
would misread a manifest (a field renamed, removed or given a new meaning).
New optional fields are added without a new format: readers take their
default when a field is absent, and keep fields they do not know (``extra``)
so a manifest read and written again loses nothing. Older formats are
migrated on read; a newer format is refused with the fix (a newer
collection). Format 1 was written in Jinja by pipeline.yml up to 0.1; format
2 adds ``build_failed``, ``tested_hash_is_older``, ``tested_hash_note``,
``reasons``, ``votes`` and Tempest's ``success`` and outcome details.

Why the checks are hand-written rather than done by ``jsonschema``: this
runs inside modules on the repo server, where only the standard library and
ansible-core can be assumed. ``tests/unit/test_run_manifest.py`` proves the
checks agree with ``jsonschema`` on :func:`json_schema` for every hostile
input it tries.

Writing is atomic (a temporary file beside the manifest, fsync, rename) and
idempotent: the same run written again leaves the file untouched.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import typing
from pathlib import Path, PurePosixPath
from typing import Any, Dict, Iterable, List, Literal, Mapping, Optional, Sequence, Union

from .._common.errors import InputError
from .._common.files import write_atomic_if_changed
from . import verdict as rule

FORMAT = 2
READS = (1, 2)
FIX = "restore the manifest the run wrote, or correct the field as docs/run_manifest.md describes"
NOT_A_MANIFEST = "give the runs/<run id>/manifest.json a pipeline run wrote"
REPRODUCE = "ansible-playbook distroforge.openstack.reproduce -e distroforge_manifest={path}"
# Keys of tempest_run_summary the manifest keeps (the rest: slowest tests, failure excerpts... stay in the reports).
TEMPEST_SUMMARY_KEYS = (
    "total",
    "passed",
    "failed",
    "skipped",
    "flaky",
    "xfail",
    "uxsuccess",
    "success",
    "timed_out",
    "corrupt",
    "failed_phases",
    "reason",
    "reports",
)

REQUIRED = {"required": True}
NON_EMPTY = {"required": True, "non_empty": True}
COUNT = {"minimum": 0}
KEEP = {"extra": True}  # where unknown keys are kept
INTERNAL = {"internal": True}  # never read nor written


@dataclasses.dataclass(frozen=True)
class Deploy:
    """The deploy of the tested hash on the node (test_hash.yml's ``distroforge_deploy``)."""

    status: str = dataclasses.field(default="not run", metadata=NON_EMPTY)  # passed, failed or not run
    scenario: Optional[str] = None
    keystone_version: Optional[str] = None
    message: Optional[str] = None
    phases: List[Dict[str, Any]] = dataclasses.field(default_factory=list)
    extra: Dict[str, Any] = dataclasses.field(default_factory=dict, metadata=KEEP)


@dataclasses.dataclass(frozen=True)
class Tempest:
    """Tempest's counts, its own verdict and how the tests were selected."""

    total: int = dataclasses.field(default=0, metadata=COUNT)
    passed: int = dataclasses.field(default=0, metadata=COUNT)
    failed: int = dataclasses.field(default=0, metadata=COUNT)
    skipped: int = dataclasses.field(default=0, metadata=COUNT)
    flaky: int = dataclasses.field(default=0, metadata=COUNT)
    xfail: int = dataclasses.field(default=0, metadata=COUNT)
    uxsuccess: int = dataclasses.field(default=0, metadata=COUNT)
    # tempest_results' verdict: no failure, failed phase or damaged stream, and not timed out.
    success: bool = False
    timed_out: bool = False
    corrupt: bool = False
    failed_phases: List[str] = dataclasses.field(default_factory=list)
    reason: Optional[str] = None
    reports: Dict[str, str] = dataclasses.field(default_factory=dict)
    failure: Optional[str] = None  # why the Tempest step itself failed (tempest.yml's distroforge_tempest_failure)
    selection: Dict[str, Any] = dataclasses.field(default_factory=dict)
    extra: Dict[str, Any] = dataclasses.field(default_factory=dict, metadata=KEEP)

    @property
    def ran(self) -> int:
        """Tests that ran: a skipped test did not."""
        return max(self.total - self.skipped, 0)


@dataclasses.dataclass(frozen=True)
class Vote:
    """A CI job's vote on the tested hash, in DLRN's words (written by the voting step, not yet built)."""

    job_id: str = dataclasses.field(default="", metadata=NON_EMPTY)
    success: bool = dataclasses.field(default=False, metadata=REQUIRED)
    timestamp: int = dataclasses.field(default=0, metadata={**REQUIRED, **COUNT})
    in_progress: bool = False
    url: Optional[str] = None
    notes: Optional[str] = None
    user: Optional[str] = None
    extra: Dict[str, Any] = dataclasses.field(default_factory=dict, metadata=KEEP)


@dataclasses.dataclass(frozen=True)
class Label:
    """A label after the run's promotion step: where it points, and whether this run moved it there."""

    label: str = dataclasses.field(default="", metadata=NON_EMPTY)
    repo_hash: Optional[str] = None
    moved: bool = False
    previous_hash: Optional[str] = None
    reason: Optional[str] = None
    extra: Dict[str, Any] = dataclasses.field(default_factory=dict, metadata=KEEP)


@dataclasses.dataclass(frozen=True)
class DepsRepo:
    """A repository the node had beside the tested one (test_hash.yml's ``distroforge_test_deps_repos``).

    RDO's dependencies repository plays this part: libraries built apart from the
    tested hash, configured on the node by label or hash, signed and pinned the same way.
    """

    name: str = dataclasses.field(default="", metadata=NON_EMPTY)
    base_url: str = dataclasses.field(default="", metadata=NON_EMPTY)
    label: Optional[str] = None
    hash: Optional[str] = None
    key_fingerprints: List[str] = dataclasses.field(default_factory=list, metadata=NON_EMPTY)
    extra: Dict[str, Any] = dataclasses.field(default_factory=dict, metadata=KEEP)


@dataclasses.dataclass(frozen=True)
class Manifest:
    """A run manifest (format 2); fields in the order they are written."""

    format: int = dataclasses.field(default=FORMAT, metadata=REQUIRED)
    run_id: str = dataclasses.field(default="", metadata=NON_EMPTY)
    release: str = dataclasses.field(default="", metadata=NON_EMPTY)
    backend: str = dataclasses.field(default="", metadata=NON_EMPTY)
    pkgdb: Optional[str] = None
    workdir: Optional[str] = None
    repos_dir: Optional[str] = None
    # The tested repository: <commit_hash>_<distro_hash[:8]>, its directory under repos/ and its URL.
    repo_hash: str = dataclasses.field(default="", metadata=NON_EMPTY)
    repo_path: str = dataclasses.field(default="", metadata=NON_EMPTY)
    repo_url: str = dataclasses.field(default="", metadata=NON_EMPTY)
    # Fingerprints of the key that signs it: a node trusts the downloaded key only if it is this one.
    key_fingerprints: List[str] = dataclasses.field(default_factory=list)
    # Repositories configured on the node beside the tested one (a reproduction configures them again).
    deps_repos: List[DepsRepo] = dataclasses.field(default_factory=list)
    packages: List[str] = dataclasses.field(default_factory=list, metadata=NON_EMPTY)  # its versions.csv lines
    built_this_run: List[str] = dataclasses.field(default_factory=list)
    build_failed: List[str] = dataclasses.field(default_factory=list)
    tested_hash_is_older: bool = False
    tested_hash_note: Optional[str] = None
    deploy: Deploy = dataclasses.field(default_factory=Deploy)
    tempest: Tempest = dataclasses.field(default_factory=Tempest)
    verdict: Literal["passed", "failed"] = dataclasses.field(default="failed", metadata=REQUIRED)
    reasons: List[str] = dataclasses.field(default_factory=list)
    votes: List[Vote] = dataclasses.field(default_factory=list)
    labels: List[Label] = dataclasses.field(default_factory=list)
    steps_not_built: List[str] = dataclasses.field(default_factory=list)
    reproduce: Dict[str, str] = dataclasses.field(default_factory=dict)
    extra: Dict[str, Any] = dataclasses.field(default_factory=dict, metadata=KEEP)
    migrated_from: Optional[int] = dataclasses.field(default=None, compare=False, metadata=INTERNAL)

    @property
    def repo_base_url(self) -> str:
        """URL of the run's ``repos/`` (the repository URL without its path)."""
        return self.repo_url.rsplit("/" + self.repo_path, 1)[0]

    @property
    def outcome(self) -> rule.Verdict:
        """The recorded verdict as the verdict rule's record."""
        note = self.tested_hash_note if self.tested_hash_is_older else None
        return rule.Verdict(self.verdict, tuple(self.reasons), note)


# -- building a manifest from a run -------------------------------------------------------------


def build(
    path: Union[str, "os.PathLike[str]"],
    *,
    run_id: str,
    release: str,
    backend: str,
    repo_path: str,
    repo_base_url: str,
    packages: Sequence[str],
    pkgdb: Optional[str] = None,
    workdir: Optional[str] = None,
    repos_dir: Optional[str] = None,
    build_results: Iterable[Mapping[str, Any]] = (),
    deploy: Optional[Mapping[str, Any]] = None,
    tempest: Optional[Mapping[str, Any]] = None,
    tempest_failure: Optional[str] = None,
    tempest_selection: Optional[Mapping[str, Any]] = None,
    steps_not_built: Sequence[str] = (),
    key_fingerprints: Sequence[str] = (),
    votes: Sequence[Mapping[str, Any]] = (),
    labels: Sequence[Mapping[str, Any]] = (),
    deps_repos: Sequence[Mapping[str, Any]] = (),
    source: str = "run_manifest",
) -> Manifest:
    """The manifest of a run at ``path``, from what the pipeline's steps left, with the verdict.

    ``build_results`` are build_record's ``recorded`` rows, ``deploy`` is
    test_hash.yml's ``distroforge_deploy`` and ``tempest`` the node's
    ``tempest_run_summary``; errors in them name ``source`` and the field.
    """
    results = list(build_results)
    repo_hash = PurePosixPath(repo_path).name
    deploy_record = deploy_from_fact(deploy, source)
    tempest_record = tempest_from_summary(tempest, tempest_failure, tempest_selection, source)
    failed = rule.build_failures(results)
    outcome = rule.judge(deploy_record, tempest_record, build_failed=failed, repo_hash=repo_hash)
    reproduce = reproduce_command(path)
    return Manifest(
        run_id=run_id,
        release=release,
        backend=backend,
        pkgdb=pkgdb,
        workdir=workdir,
        repos_dir=repos_dir,
        repo_hash=repo_hash,
        repo_path=repo_path,
        repo_url=f"{repo_base_url.rstrip('/')}/{repo_path}",
        key_fingerprints=list(key_fingerprints),
        deps_repos=[_deps_repo(repo, i, source) for i, repo in enumerate(deps_repos)],
        packages=list(packages),
        built_this_run=list(dict.fromkeys(str(row.get("project")) for row in results if row.get("project"))),
        build_failed=failed,
        tested_hash_is_older=outcome.tested_hash_is_older,
        tested_hash_note=outcome.tested_hash_note,
        deploy=deploy_record,
        tempest=tempest_record,
        verdict=outcome.verdict,  # type: ignore[arg-type]
        reasons=list(outcome.reasons),
        steps_not_built=list(steps_not_built),
        votes=[_decode(Vote, dict(vote), f"votes[{i}]", source, VOTE_FIX) for i, vote in enumerate(votes)],
        labels=[_decode(Label, dict(label), f"labels[{i}]", source, LABEL_FIX) for i, label in enumerate(labels)],
        reproduce={
            "rebuild": f"{reproduce} -e distroforge_reproduce=build",
            "retest": f"{reproduce} -e distroforge_reproduce=test",
        },
    )


VOTE_FIX = "give the votes vote_info returns for the tested hash"
LABEL_FIX = "give each label's name, repo_hash and whether this run moved it (repo_promote's result)"
DEPS_FIX = "give each repository's name, base_url, label or hash and key_fingerprints (distroforge_test_deps_repos)"


# A DepsRepo field and the repo_configure option test_hash.yml hands it to.
DEPS_REPO_OPTIONS = {
    "name": "repo_configure_name",
    "base_url": "repo_configure_base_url",
    "label": "repo_configure_label",
    "hash": "repo_configure_hash",
    "key_fingerprints": "repo_configure_key_fingerprints",
}


def deps_repo_options(repo: DepsRepo) -> Dict[str, Any]:
    """``repo`` as one item of test_hash.yml's ``distroforge_test_deps_repos`` (repo_configure's words)."""
    values = {"label": repo.label or "", "hash": repo.hash or "", "key_fingerprints": list(repo.key_fingerprints)}
    return {option: values.get(field, getattr(repo, field)) for field, option in DEPS_REPO_OPTIONS.items()}


def _deps_repo(repo: Mapping[str, Any], index: int, source: str) -> DepsRepo:
    """One of ``distroforge_test_deps_repos``, checked: a label or a hash, not both, not neither."""
    where = f"deps_repos[{index}]"
    data = dict(repo) if isinstance(repo, Mapping) else repo
    if isinstance(data, dict):
        # test_hash.yml takes repo_configure's words; the manifest keeps the short ones.
        for short, long in DEPS_REPO_OPTIONS.items():
            if long in data:
                data.setdefault(short, data.pop(long))
        if isinstance(data.get("key_fingerprints"), str):
            data["key_fingerprints"] = [data["key_fingerprints"]]
        data = {key: value for key, value in data.items() if value not in ("", None)}
    found = _decode(DepsRepo, data, where, source, DEPS_FIX)
    if bool(found.label) == bool(found.hash):
        raise InputError(f"{source}: field '{where}' needs exactly one of label and hash; {DEPS_FIX}")
    return found


def deploy_from_fact(deploy: Optional[Mapping[str, Any]], source: str = "run_manifest") -> Deploy:
    """The deploy record from test_hash.yml's ``distroforge_deploy`` fact (None: the deploy did not run)."""
    fix = "give the distroforge_deploy fact test_hash.yml sets on the node"
    data = {"status": "not run"} if deploy is None else deploy
    return _decode(Deploy, dict(data) if isinstance(data, Mapping) else data, "deploy", source, fix)


def tempest_from_summary(
    summary: Optional[Mapping[str, Any]],
    failure: Optional[str] = None,
    selection: Optional[Mapping[str, Any]] = None,
    source: str = "run_manifest",
) -> Tempest:
    """The Tempest record from the node's facts.

    ``tempest_run_summary``, ``distroforge_tempest_failure`` (tempest.yml) and ``tempest_run_selection``.
    """
    fix = "give the tempest_run_summary fact the tempest_run role sets on the node"
    if summary is not None and not isinstance(summary, Mapping):
        return _decode(Tempest, summary, "tempest", source, fix)  # fails naming the field
    data = {key: value for key, value in (summary or {}).items() if key in TEMPEST_SUMMARY_KEYS}
    data.update(failure=failure, selection=selection if selection is not None else {})
    return _decode(Tempest, data, "tempest", source, fix)


def versions_lines(repos_dir: Union[str, "os.PathLike[str]"], repo_path: str) -> List[str]:
    """The tested repository's ``versions.csv``, line by line."""
    where = Path(repos_dir) / repo_path / "versions.csv"
    try:
        lines = where.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InputError(
            f"{where}: cannot read the tested repository's versions.csv ({exc.strerror});"
            " give repos_dir and repo_path of a published repository"
        ) from None
    except UnicodeDecodeError:
        raise InputError(f"{where}: not UTF-8; the publisher writes versions.csv in UTF-8: publish it again") from None
    if not lines:
        raise InputError(f"{where}: empty; the publisher writes a header and one line per package: publish it again")
    return lines


# -- reading and writing ------------------------------------------------------------------------


def load(path: Union[str, "os.PathLike[str]"]) -> Manifest:
    """The manifest at ``path`` (any format this collection reads), migrated to the current one."""
    where = os.fspath(path)
    try:
        data = Path(where).read_bytes()
    except FileNotFoundError:
        raise InputError(f"{where}: no such manifest; {NOT_A_MANIFEST}") from None
    except OSError as exc:
        raise InputError(f"{where}: cannot read the manifest ({exc.strerror}); {NOT_A_MANIFEST}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{where}: not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start});"
            f" a run manifest is UTF-8 JSON: {NOT_A_MANIFEST}"
        ) from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{where}: not JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); {NOT_A_MANIFEST}"
        ) from None
    except RecursionError:
        raise InputError(f"{where}: not a run manifest (JSON nested too deeply); {NOT_A_MANIFEST}") from None
    return parse(raw, where)


def parse(raw: Any, source: str) -> Manifest:
    """A manifest from its decoded JSON; ``source`` names it in errors."""
    if not isinstance(raw, dict):
        raise InputError(f"{source}: a manifest is a JSON object, found {_json_type(raw)}; {NOT_A_MANIFEST}")
    if "format" not in raw:
        raise InputError(f"{source}: field 'format' is missing; {NOT_A_MANIFEST}")
    fmt = raw["format"]
    if not _is_int(fmt):
        raise InputError(f"{source}: field 'format' must be an integer, found {_found(fmt)}; {NOT_A_MANIFEST}")
    fmt = int(fmt)
    if fmt > FORMAT:
        raise InputError(
            f"{source}: field 'format' is {fmt}, newer than this collection reads"
            f" ({', '.join(map(str, READS))}): read it with the newer distroforge.openstack that wrote it"
        )
    if fmt not in READS:
        formats = " or ".join(map(str, READS))
        raise InputError(f"{source}: field 'format' is {fmt}; run manifests have format {formats}: {NOT_A_MANIFEST}")
    if fmt == 1:
        return _from_format_1(raw, source)
    return _decode(Manifest, raw, "", source, FIX)


def as_dict(manifest: Manifest) -> Dict[str, Any]:
    """The manifest as its JSON object (what :func:`render` writes)."""
    return _encode(manifest)


def render(manifest: Manifest) -> str:
    """The manifest's JSON text, fields in schema order, as written to disk."""
    return json.dumps(as_dict(manifest), indent=2, ensure_ascii=False) + "\n"


def write(path: Union[str, "os.PathLike[str]"], manifest: Manifest) -> bool:
    """Write ``manifest`` to ``path`` atomically; False (nothing written) when it already holds it."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        return write_atomic_if_changed(target, render(manifest))
    except OSError as exc:
        raise InputError(
            f"{target}: cannot write the run manifest ({exc.strerror}); make its directory writable"
        ) from None


# -- format 1 -----------------------------------------------------------------------------------


def _from_format_1(raw: Mapping[str, Any], source: str) -> Manifest:
    """Format 1 (pipeline.yml's Jinja) as format 2.

    Format 1 recorded no build failures and no Tempest ``success``: the run's
    verdict is kept as recorded (history is not rewritten), Tempest's success
    is what that verdict implied, and a failed verdict gets its reasons from
    the recorded deploy and counts.
    """
    data = dict(raw, format=FORMAT)
    tempest = raw.get("tempest")
    if isinstance(tempest, dict) and "success" not in tempest:
        data["tempest"] = dict(tempest, success=raw.get("verdict") == rule.PASSED)
    manifest = _decode(Manifest, data, "", source, FIX)
    reasons: List[str] = []
    if manifest.verdict != rule.PASSED:
        found = rule.judge(manifest.deploy, manifest.tempest, build_failed=(), repo_hash=manifest.repo_hash)
        reasons = list(found.reasons) or ["recorded as failed (format 1 did not record why)"]
    return dataclasses.replace(manifest, reasons=reasons, migrated_from=1)


# -- the summary --------------------------------------------------------------------------------


def reproduce_command(path: Union[str, "os.PathLike[str]"]) -> str:
    """The command that reproduces the run whose manifest is at ``path``."""
    return REPRODUCE.format(path=os.fspath(path))


def verdict_line(manifest: Manifest) -> str:
    """The run's verdict in one line (the summary's last line, without the steps not built)."""
    return rule.headline(
        manifest.verdict,
        manifest.reasons,
        manifest.tested_hash_note if manifest.tested_hash_is_older else None,
        manifest.repo_hash,
    )


def summary_lines(manifest: Manifest, path: Union[str, "os.PathLike[str]"]) -> List[str]:
    """The run summary pipeline.yml prints, from the manifest at ``path``."""
    run_dir = Path(path).parent
    built = ", ".join(name for name in manifest.built_this_run if name not in manifest.build_failed)
    built = built or ("none" if manifest.build_failed else "nothing new")
    if manifest.build_failed:
        built += f"; build failed: {', '.join(manifest.build_failed)}"
    deploy = manifest.deploy
    deploy_line = f"deploy: {deploy.status}"
    if deploy.status == rule.PASSED:
        deploy_line += f", keystone {deploy.keystone_version or '?'} on the node"
    elif deploy.message:
        deploy_line += f" ({deploy.message})"
    tempest = manifest.tempest
    lines = [
        f"built this run: {built}",
        f"repository tested: {manifest.repo_hash} ({manifest.repo_url})",
        *(
            f"beside it on the node: {repo.name} ({repo.base_url.rstrip('/')}/{repo.label or repo.hash})"
            for repo in manifest.deps_repos
        ),
        deploy_line,
        f"tempest: {tempest.ran} ran, {tempest.passed} passed, {tempest.failed} failed, {tempest.skipped} skipped,"
        f" {tempest.flaky} flaky; report {tempest.reports.get('html', 'none')}",
        f"run page: {run_dir / 'index.html'} (verdict, versions, phases, counts, stages; links to ARA, logs, reports)",
        f"logs and reports: {run_dir / 'artifacts' / 'index.html'}",
    ]
    if manifest.repos_dir:
        lines.append(f"status page: {Path(manifest.repos_dir) / 'status_report.html'}")
    lines += [
        f"run manifest: {os.fspath(path)}",
        f"reproduce it: {reproduce_command(path)}  (-e distroforge_reproduce=build or =test for one half)",
    ]
    if manifest.votes:
        lines.append(
            "votes: "
            + ", ".join(
                f"{vote.job_id} {'in progress' if vote.in_progress else 'success' if vote.success else 'failure'}"
                for vote in manifest.votes
            )
        )
    for label in manifest.labels:
        if label.moved:
            lines.append(f"promoted: {label.label} -> {label.repo_hash} (was {label.previous_hash or 'unset'})")
        else:
            where = label.repo_hash or "unset"
            lines.append(f"label {label.label}: stays at {where}" + (f" ({label.reason})" if label.reason else ""))
    last = verdict_line(manifest)
    if manifest.steps_not_built:
        last += f"; not built yet: {', '.join(manifest.steps_not_built)}"
    return [*lines, last]


# -- the schema machinery -----------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _hints(cls: type) -> Dict[str, Any]:
    return typing.get_type_hints(cls)


def _fields(cls: type) -> List[dataclasses.Field]:
    return [f for f in dataclasses.fields(cls) if not f.metadata.get("internal") and not f.metadata.get("extra")]


def _kind(hint: Any) -> str:
    """What the reader and the JSON Schema make of a field's type hint."""
    origin = typing.get_origin(hint)
    if hint is Any:
        return "any"
    if dataclasses.is_dataclass(hint):
        return "record"
    kinds = {Union: "optional", Literal: "literal", list: "list", dict: "dict", str: "str", bool: "bool", int: "int"}
    kind = kinds.get(origin or hint)
    if kind is None:
        raise TypeError(f"manifest schema: no reader for {hint!r}")  # a bug in the schema, not the user's
    return kind


def _optional_arg(hint: Any) -> Any:
    return next(arg for arg in typing.get_args(hint) if arg is not type(None))


@dataclasses.dataclass(frozen=True)
class _Reader:
    """Checks a decoded JSON value against a field's type; errors name ``source``, the field and ``fix``."""

    source: str
    fix: str

    def fail(self, where: str, what: str) -> InputError:
        return InputError(f"{self.source}: field '{where}' {what}; {self.fix}")

    def value(self, hint: Any, value: Any, where: str, meta: Mapping[str, Any]) -> Any:
        return getattr(self, "_" + _kind(hint))(hint, value, where, meta)

    def record(self, cls: type, obj: Any, where: str) -> Any:
        """An instance of the dataclass ``cls`` from ``obj``, every field checked; unknown keys kept in ``extra``."""
        if not isinstance(obj, dict):
            raise self.fail(where, f"must be an object, found {_found(obj)}")
        hints, values, names = _hints(cls), {}, set()
        for spec in _fields(cls):
            names.add(spec.name)
            name = f"{where}.{spec.name}" if where else spec.name
            if spec.name in obj:
                values[spec.name] = self.value(hints[spec.name], obj[spec.name], name, spec.metadata)
            elif spec.metadata.get("required"):
                raise self.fail(name, "is missing")
        if any(spec.metadata.get("extra") for spec in dataclasses.fields(cls)):
            values["extra"] = {key: item for key, item in obj.items() if key not in names}
        return cls(**values)

    def _any(self, _hint: Any, value: Any, _where: str, _meta: Mapping[str, Any]) -> Any:
        return value

    def _record(self, hint: Any, value: Any, where: str, _meta: Mapping[str, Any]) -> Any:
        return self.record(hint, value, where)

    def _optional(self, hint: Any, value: Any, where: str, meta: Mapping[str, Any]) -> Any:
        return None if value is None else self.value(_optional_arg(hint), value, where, meta)

    def _literal(self, hint: Any, value: Any, where: str, _meta: Mapping[str, Any]) -> Any:
        choices = typing.get_args(hint)
        if value not in choices:
            raise self.fail(where, f"must be {' or '.join(map(repr, choices))}, found {_found(value)}")
        return value

    def _str(self, _hint: Any, value: Any, where: str, meta: Mapping[str, Any]) -> str:
        if not isinstance(value, str):
            raise self.fail(where, f"must be a string, found {_found(value)}")
        if meta.get("non_empty") and not value:
            raise self.fail(where, "is empty")
        return value

    def _bool(self, _hint: Any, value: Any, where: str, _meta: Mapping[str, Any]) -> bool:
        if not isinstance(value, bool):
            raise self.fail(where, f"must be true or false, found {_found(value)}")
        return value

    def _int(self, _hint: Any, value: Any, where: str, meta: Mapping[str, Any]) -> int:
        if not _is_int(value):
            raise self.fail(where, f"must be an integer, found {_found(value)}")
        if "minimum" in meta and value < meta["minimum"]:
            raise self.fail(where, f"must be {meta['minimum']} or more, found {_found(value)}")
        return int(value)

    def _list(self, hint: Any, value: Any, where: str, meta: Mapping[str, Any]) -> List[Any]:
        if not isinstance(value, list):
            raise self.fail(where, f"must be a list, found {_found(value)}")
        if meta.get("non_empty") and not value:
            raise self.fail(where, "is empty")
        item_hint = typing.get_args(hint)[0]
        return [self.value(item_hint, item, f"{where}[{index}]", {}) for index, item in enumerate(value)]

    def _dict(self, hint: Any, value: Any, where: str, _meta: Mapping[str, Any]) -> Dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, f"must be an object, found {_found(value)}")
        item_hint = typing.get_args(hint)[1]
        return {key: self.value(item_hint, item, f"{where}.{_key(key)}", {}) for key, item in value.items()}


def _decode(cls: type, obj: Any, where: str, source: str, fix: str) -> Any:
    """An instance of the dataclass ``cls`` from ``obj``, every field checked against its type."""
    return _Reader(source, fix).record(cls, obj, where)


def _encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {spec.name: _encode(getattr(value, spec.name)) for spec in _fields(type(value))}
        for key, item in getattr(value, "extra", {}).items():
            out.setdefault(key, item)
        return out
    if isinstance(value, (list, tuple)):
        return [_encode(item) for item in value]
    if isinstance(value, dict):
        return {key: _encode(item) for key, item in value.items()}
    return value


def json_schema() -> Dict[str, Any]:
    """The JSON Schema (draft 2020-12) of format 2, made from the dataclasses the reader checks against."""
    schema = _schema(Manifest, {})
    schema["properties"]["format"] = {"const": FORMAT}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "distroforge run manifest", **schema}


def _record_schema(cls: type) -> Dict[str, Any]:
    hints = _hints(cls)
    return {
        "type": "object",
        "properties": {spec.name: _schema(hints[spec.name], spec.metadata) for spec in _fields(cls)},
        "required": [spec.name for spec in _fields(cls) if spec.metadata.get("required")],
    }


_SCHEMAS = {
    "any": lambda _hint, _meta: {},
    "record": lambda hint, _meta: _record_schema(hint),
    "optional": lambda hint, meta: {"anyOf": [_schema(_optional_arg(hint), meta), {"type": "null"}]},
    "literal": lambda hint, _meta: {"enum": list(typing.get_args(hint))},
    "str": lambda _hint, meta: {"type": "string", **({"minLength": 1} if meta.get("non_empty") else {})},
    "bool": lambda _hint, _meta: {"type": "boolean"},
    "int": lambda _hint, meta: {"type": "integer", **({"minimum": meta["minimum"]} if "minimum" in meta else {})},
    "list": lambda hint, meta: {
        "type": "array",
        "items": _schema(typing.get_args(hint)[0], {}),
        **({"minItems": 1} if meta.get("non_empty") else {}),
    },
    "dict": lambda hint, _meta: {"type": "object", "additionalProperties": _schema(typing.get_args(hint)[1], {})},
}


def _schema(hint: Any, meta: Mapping[str, Any]) -> Dict[str, Any]:
    return _SCHEMAS[_kind(hint)](hint, meta)


def _is_int(value: Any) -> bool:
    # JSON has one number type: 3.0 is the integer 3 (as JSON Schema says), a boolean is not a number.
    return (isinstance(value, int) and not isinstance(value, bool)) or (isinstance(value, float) and value.is_integer())


_JSON_TYPES = ((bool, "boolean"), ((int, float), "number"), (str, "string"), (list, "list"), (dict, "object"))


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return next((name for types, name in _JSON_TYPES if isinstance(value, types)), type(value).__name__)


def _key(key: str) -> str:
    """A key of the file as it may appear in a one-line message (escaped when it is not plain)."""
    return key if key.isprintable() and len(key) <= 60 else json.dumps(key[:60])


def _found(value: Any) -> str:
    """``value`` in an error message: its JSON type and a short excerpt."""
    text = "" if value is None or isinstance(value, (dict, list)) else json.dumps(value, ensure_ascii=False)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{_json_type(value)} {text}".rstrip()
