"""Build jobs on one builder: source, backend, buildinfo, results — many at once.

A builder is stateless: it gets jobs (package, commits, backend), fetches
the commits into its own mirrors, builds each job in a scratch directory
and leaves, per job, a result directory holding the artifacts, the complete
``build.log`` and ``buildinfo.json``.  The state DB is the repo server's
business; the caller records the results there.  A failing job never stops
the others.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import time
import traceback
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from .._common.errors import DistroforgeError, InputError
from .._common.files import rename_into_place, sha256_file
from .._sources import git as srcgit
from .._statedb.schema import RETRY, SUCCESS
from .._versions.pbr import PackageVersion
from . import archive, backends, privs
from .backends.base import Backend, PackageKind
from .buildlog import BuildLog
from .classify import Verdict, classify, compile_patterns
from .contain import MIB, Refused, regular_file
from .progress import ProgressFile
from .sandbox import base_env
from .source import BuildInputs, make_source

BUILDINFO_FORMAT = 1
# What a build may write (build directory and log), in MiB: generous for any
# OpenStack package (a build takes tens to hundreds of MiB), small enough
# that a runaway build cannot fill a builder.
DEFAULT_DISK_LIMIT = 8192
# A job not built because a project it build-depends on did not build in this
# run (FAILED, RETRY or BLOCKED itself). Not a state DB status: the commit
# stays queued for the next run (build_record leaves it alone).
BLOCKED = "BLOCKED"


@dataclass(frozen=True)
class BuildJob:
    """One package at one (upstream, distgit) commit pair."""

    project: str
    name: str
    upstream: str
    distgit: str
    commit_hash: str
    distro_hash: str
    commit_id: int | None = None
    # A release build: the commit must carry a version tag, the package gets
    # that final version and the packaging's own Release (see tagged_version).
    release_build: bool = False
    # Projects of the same run this one build-depends on (build_queue's needs):
    # when one of them does not build, this job is BLOCKED, not built.
    needs: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """``<commit_hash>_<distgit8>``, DLRN's name for a build."""
        return f"{self.commit_hash}_{self.distro_hash[:8]}"

    @property
    def result_key(self) -> str:
        """The result directory's name: a release build of a commit never replaces its snapshot build."""
        return f"{self.key}.release" if self.release_build else self.key


@dataclass
class BuildSettings:
    """How this builder builds."""

    backend: str
    workdir: str
    mirror_dir: str
    timeout: float = 3600
    disk_limit: int = DEFAULT_DISK_LIMIT  # MiB the build directory and log may take, per build
    retry_patterns: Sequence[str] = ()
    max_retries: int = 3
    keep_build_dir: bool = False
    # Binary packages (.deb/.rpm) of the distro to build against: earlier
    # build waves, from this builder or (copied here) from the others.
    extra_packages: Sequence[str] = ()
    # The backends' own settings (rpm_nodeps, rpm_dist, sbuild_cache, ...: see each
    # backend's options_type): a backend takes the keys that are its settings, None meaning the default.
    options: Mapping[str, Any] = field(default_factory=dict)

    def backend_class(self) -> type[Backend]:
        """The registered backend of ``backend``; InputError naming the choices."""
        return backends.get(self.backend)

    def make_backend(self) -> Backend:
        """A backend object for one build, with its settings from ``options``."""
        cls = self.backend_class()
        return cls(cls.parse_options(self.options), self.workdir)

    def validate(self) -> None:
        """Raise InputError naming the bad setting."""
        cls = self.backend_class()
        unknown = sorted(set(self.options) - backends.option_names())
        if unknown:
            raise InputError(
                f"options: '{unknown[0]}' is not a setting of any build backend; "
                f"use one of {', '.join(sorted(backends.option_names()))}"
            )
        cls.parse_options(self.options)
        if self.timeout <= 0:
            raise InputError("timeout: must be a positive number of seconds")
        if self.disk_limit <= 0:
            raise InputError("disk_limit: must be a positive number of MiB")
        if self.max_retries < 0:
            raise InputError("max_retries: must be 0 or more")
        for index, path in enumerate(self.extra_packages):
            if not is_binary_package(path):
                kinds = " or ".join(sorted(kind.binary_suffix for kind in backends.kinds()))
                raise InputError(f"extra_packages[{index}]: '{path}' is not a binary {kinds}")
            if not os.path.isfile(path):
                raise InputError(f"extra_packages[{index}]: '{path}' does not exist on this builder")

    def packages_for(self, kind: PackageKind) -> list[str]:
        """The extra packages of one kind (RPM or DEB), sorted by file name."""
        return sorted((p for p in self.extra_packages if kind.is_binary(p)), key=os.path.basename)


def is_binary_package(path: str) -> bool:
    """A binary package some backend builds (a .deb, or a binary not source .rpm)."""
    return backends.is_binary_package(path)


@dataclass
class BuildResult:
    """What one job produced."""

    project: str
    name: str
    commit_hash: str
    distro_hash: str
    commit_id: int | None
    backend: str
    status: str
    result_dir: str
    log: str
    buildinfo: str | None = None
    nvr: str | None = None
    version: dict[str, Any] = field(default_factory=dict)
    artifacts: list[str] = field(default_factory=list)
    packages: list[str] = field(default_factory=list)  # the binary packages among the artifacts
    error: str | None = None
    blocked_by: list[str] = field(default_factory=list)  # BLOCKED: the needs that did not build
    retry_pattern: str | None = None
    log_tail: str | None = None
    attempts: int = 1
    duration: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """Plain data for a module result, with ``files``: everything in the result directory."""
        data = asdict(self)
        data["files"] = [
            *self.artifacts,
            *([self.log] if self.log else []),
            *([self.buildinfo] if self.buildinfo else []),
        ]
        return data


# Tools every build uses, whatever the backend; backends add theirs (Backend.toolchain_probes).
COMMON_PROBES: dict[str, tuple[str, ...]] = {
    "python3": ("/usr/bin/python3", "--version"),
    "bwrap": ("bwrap", "--version"),
    "git": ("git", "--version"),
}
_PROBED: dict[str, str] = {}


def toolchain(probes: Mapping[str, Sequence[str]] | None = None) -> dict[str, str]:
    """Versions of the tools a build uses: the common ones and ``probes`` (each asked once per process)."""
    wanted = {**COMMON_PROBES, **(probes or {})}
    for name, argv in wanted.items():
        if name in _PROBED:
            continue
        try:
            out = subprocess.run(list(argv), capture_output=True, text=True, check=False, timeout=30).stdout
        except (OSError, subprocess.TimeoutExpired):
            out = ""
        _PROBED[name] = out.splitlines()[0].strip() if out.strip() else "absent"
    found = {name: _PROBED[name] for name in wanted}
    found["os"] = platform.freedesktop_os_release().get("PRETTY_NAME", platform.platform())
    found["arch"] = platform.machine()
    return found


def _export(mirror: str, commit: str, dest: str, where: str = "") -> None:
    """The files of ``commit`` (no history), as a plain directory.

    A member that would land outside ``dest`` is refused before anything is
    written (archive.py): a symlink out of the tree, ``..`` — the engine reads
    and edits packaging files (debian/changelog) and must not follow one to a
    file of the builder.
    """
    os.makedirs(dest, exist_ok=True)
    tar_path = f"{dest}.tar"
    with open(tar_path, "wb") as out:
        archive_run = subprocess.run(
            ["git", "--git-dir", mirror, "archive", "--format=tar", commit],
            stdout=out,
            stderr=subprocess.PIPE,
            check=False,
        )
    if archive_run.returncode != 0:
        detail = archive_run.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["?"]
        raise InputError(f"git archive {commit} of {mirror} failed: {detail[0]}")
    scope = archive.Scope(
        where=where or mirror,
        what="distgit file",
        inside="the distgit",
        advice="packaging must be self-contained (commit the file instead)",
    )
    try:
        with archive.open_tar(tar_path, scope) as tar:
            archive.extract(tar, dest, scope)
    finally:
        os.unlink(tar_path)


def _distgit_files(distgit_dir: str) -> dict[str, str]:
    files = {}
    for root, _dirs, names in os.walk(distgit_dir):
        for name in sorted(names):
            path = os.path.join(root, name)
            if os.path.isfile(path) and not os.path.islink(path):
                files[os.path.relpath(path, distgit_dir)] = sha256_file(path)
    return dict(sorted(files.items()))


def _attempt(job: BuildJob, settings: BuildSettings, scratch: str, log: BuildLog) -> tuple[list[str], Any, dict]:
    """One build attempt; returns (artifacts, version, extra buildinfo).

    ``scratch`` holds the log, the distgit's files and ``build``, the build
    directory (``/build`` in the sandbox): what the build's code can change
    is only the latter.
    """
    backend = settings.make_backend()
    build_dir = os.path.join(scratch, "build")
    upstream_mirror = srcgit.ensure_commit(settings.mirror_dir, job.upstream, job.commit_hash)
    distgit_mirror = srcgit.ensure_commit(settings.mirror_dir, job.distgit, job.distro_hash)
    distgit_dir = os.path.join(scratch, "distgit")
    _export(distgit_mirror, job.distro_hash, distgit_dir, job.project)
    extra: dict[str, Any] = {"distgit_files": _distgit_files(distgit_dir)}
    packaging = backend.kind.read_packaging(distgit_dir, job.project)  # fail early, before the sdist
    backend.prepare(log)
    source = make_source(upstream_mirror, job.commit_hash, build_dir, log, epoch=packaging.epoch, project=job.project)
    if job.release_build:
        release = tagged_version(source.version, job.project)
        source = replace(source, version=backend.kind.release_version(packaging, release, job.project))
        log.write(f"==> release build of tag {release.tag}: {source.version.rpm_evr} / {source.version.deb_version}")
    extra["source_tarball"] = {"name": os.path.basename(source.tarball), "sha256": source.sha256}
    inputs = BuildInputs(build_dir, distgit_dir, source, log, job.project, job.distro_hash, job.release_build)
    against = settings.packages_for(backend.kind)
    extra["build_against"] = [{"name": os.path.basename(p), "sha256": sha256_file(p)} for p in against]
    if against:
        log.write("==> building against the distro's own packages: " + ", ".join(os.path.basename(p) for p in against))
    backend.build(inputs, packaging, against)
    # the engine copies the outputs with the builder's rights: never a symlink to one of its files
    artifacts = [regular_file(build_dir, path, job.project, "output") for path in backend.collect(inputs, packaging)]
    extra["nvr"] = backend.kind.nvr(packaging, source.version, artifacts)
    extra["settings"] = backend.describe()
    return artifacts, source.version, extra


def tagged_version(version: PackageVersion, project: str) -> PackageVersion:
    """The version of a release build: the commit must carry a version tag (pbr's distance 0).

    The Release (rpm) and Debian revision are left to the packaging
    (``PackageKind.release_version``); a snapshot suffix never appears.
    """
    if version.tag is None or version.distance != 0:
        raise InputError(
            f"{project}: commit {version.commit_hash[:12]} carries no version tag (pbr version "
            f"{version.upstream_version}); a release build needs a tag: "
            "pin one with source-branch in tags/<release>.yml"
        )
    return version


def _publish_result(result_dir: str, files: list[str], log_path: str, buildinfo: dict[str, Any]) -> list[str]:
    """Put the artifacts, log and buildinfo in place, replacing an older result atomically."""
    tmp = f"{result_dir}.tmp.{os.getpid()}"
    if os.path.exists(tmp):
        shutil.rmtree(tmp)
    os.makedirs(tmp)
    names = []
    for path in files:
        shutil.copy2(path, os.path.join(tmp, os.path.basename(path)))
        names.append(os.path.basename(path))
    shutil.copy2(log_path, os.path.join(tmp, "build.log"))
    buildinfo["outputs"] = [
        {"name": name, "sha256": sha256_file(os.path.join(tmp, name)), "size": os.path.getsize(os.path.join(tmp, name))}
        for name in names
    ]
    with open(os.path.join(tmp, "buildinfo.json"), "w", encoding="utf-8") as handle:
        json.dump(buildinfo, handle, indent=2, sort_keys=True)
        handle.write("\n")
    # An older result is moved aside next to it (same file system), then deleted once the new one is in place.
    rename_into_place(tmp, result_dir, os.path.dirname(result_dir))
    return [os.path.join(result_dir, name) for name in names]


def build_one(job: BuildJob, settings: BuildSettings) -> BuildResult:
    """Build ``job``, retrying RETRY-classified failures up to ``max_retries`` times."""
    patterns = compile_patterns(settings.retry_patterns)
    result_dir = os.path.join(settings.workdir, "results", job.project, job.result_key)
    os.makedirs(os.path.dirname(result_dir), exist_ok=True)
    started = time.monotonic()
    attempts = 0
    while True:
        attempts += 1
        scratch = os.path.join(settings.workdir, "scratch", f"{job.project}-{job.result_key}-{os.getpid()}")
        if os.path.exists(scratch):
            shutil.rmtree(scratch)
        os.makedirs(os.path.join(scratch, "build"))
        log = BuildLog(
            os.path.join(scratch, "build.log"),
            settings.timeout,
            build_dir=os.path.join(scratch, "build"),
            disk_limit=settings.disk_limit * MIB,
        )
        log.write(
            f"distroforge build of {job.project} {job.commit_hash} (distgit {job.distro_hash}) "
            f"with {settings.backend}{' (release build)' if job.release_build else ''}, attempt {attempts}"
        )
        verdict: Verdict | None = None
        try:
            artifacts, version, extra = _attempt(job, settings, scratch, log)
        except Exception as exc:
            if not isinstance(exc, (DistroforgeError, OSError)):
                log.write(traceback.format_exc())
                exc = DistroforgeError(f"internal error in the build engine: {type(exc).__name__}: {exc}")
            log.write(f"\nBUILD FAILED: {exc}")
            log.close()
            verdict = classify(log.text(), patterns, str(exc), decisive=isinstance(exc, Refused))
            if verdict.status == RETRY and attempts <= settings.max_retries:
                shutil.rmtree(scratch, ignore_errors=True)
                continue
            failed_info = {
                "format": BUILDINFO_FORMAT,
                "status": verdict.status,
                "project": job.project,
                "error": verdict.error,
                "toolchain": toolchain(settings.backend_class().toolchain_probes),
            }
            _publish_result(result_dir, [], log.path, failed_info)
            if not settings.keep_build_dir:
                shutil.rmtree(scratch, ignore_errors=True)
            return _result(
                job,
                settings,
                result_dir,
                started=started,
                attempts=attempts,
                status=verdict.status,
                error=verdict.error,
                retry_pattern=verdict.matched,
                log_tail=verdict.log_tail,
            )
        log.write("\nBUILD SUCCEEDED")
        log.close()
        buildinfo = {
            "format": BUILDINFO_FORMAT,
            "status": SUCCESS,
            "project": job.project,
            "name": job.name,
            "backend": settings.backend,
            "inputs": {
                "upstream": job.upstream,
                "distgit": job.distgit,
                "commit_hash": job.commit_hash,
                "distro_hash": job.distro_hash,
                **({"release_build": True} if job.release_build else {}),
                **{k: v for k, v in extra.items() if k in ("source_tarball", "distgit_files", "build_against")},
            },
            "version": version.as_dict(),
            "nvr": extra["nvr"],
            "settings": extra["settings"],
            "environment": base_env(version.commit_time),
            "toolchain": toolchain(settings.backend_class().toolchain_probes),
            "commands": log.commands,
        }
        placed = _publish_result(result_dir, artifacts, log.path, buildinfo)
        if not settings.keep_build_dir:
            shutil.rmtree(scratch, ignore_errors=True)
        return _result(
            job,
            settings,
            result_dir,
            started=started,
            attempts=attempts,
            status=SUCCESS,
            buildinfo=os.path.join(result_dir, "buildinfo.json"),
            nvr=extra["nvr"],
            version=version.as_dict(),
            artifacts=placed,
            packages=[path for path in placed if is_binary_package(path)],
        )


def _result(
    job: BuildJob, settings: BuildSettings, result_dir: str, *, started: float, attempts: int, status: str, **extra: Any
) -> BuildResult:
    """The BuildResult of ``job``, with what every outcome has and ``extra`` (no ``result_dir``: not built)."""
    return BuildResult(
        project=job.project,
        name=job.name,
        commit_hash=job.commit_hash,
        distro_hash=job.distro_hash,
        commit_id=job.commit_id,
        backend=settings.backend,
        status=status,
        result_dir=result_dir,
        log=os.path.join(result_dir, "build.log") if result_dir else "",
        attempts=attempts,
        duration=round(time.monotonic() - started, 1),
        **extra,
    )


def build_many(
    jobs: Sequence[BuildJob],
    settings: BuildSettings,
    parallel: int = 1,
    waves: Sequence[int] | None = None,
    *,
    progress: str | None = None,
    failed: Sequence[str] = (),
) -> list[BuildResult]:
    """Build ``jobs`` with ``parallel`` builds at a time, wave after wave; results in job order.

    ``waves`` gives each job's build wave (see build_queue): a wave starts
    when the one before it is done, and builds against the binary packages
    the earlier waves made (on top of ``settings.extra_packages``).  A job
    whose ``needs`` name a project that did not build in an earlier wave —
    here, or on another builder (``failed``: those projects) — is not built:
    its result is BLOCKED, and what needs it is blocked in turn.  Everything
    else builds.  ``progress`` names a file that says, while the builds run,
    how many are done and which are building (:mod:`.progress`).
    """
    settings.validate()
    compile_patterns(settings.retry_patterns)  # a bad pattern fails before any build
    order = list(waves) if waves is not None else [0] * len(jobs)
    results: dict[int, BuildResult] = {}
    against = list(settings.extra_packages)
    not_built = set(failed)
    tracker = ProgressFile(progress, len(jobs))

    def tracked(job: BuildJob, job_settings: BuildSettings) -> BuildResult:
        tracker.start(job.project)
        result = build_one(job, job_settings)
        tracker.finish(job.project, result.status == SUCCESS)
        return result

    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        for wave in sorted(set(order)):
            wave_settings = replace(settings, extra_packages=tuple(against))
            indexes = [i for i, w in enumerate(order) if w == wave]
            to_build = []
            for index in indexes:
                missing = sorted(set(jobs[index].needs) & not_built)
                if missing:
                    results[index] = _blocked(jobs[index], settings, missing)
                    tracker.start(jobs[index].project)
                    tracker.finish(jobs[index].project, False)
                else:
                    to_build.append(index)
            built = pool.map(tracked, [jobs[i] for i in to_build], [wave_settings] * len(to_build))
            for index, result in zip(to_build, built, strict=True):
                results[index] = result
                if result.status == SUCCESS:
                    against += result.packages
            not_built |= {results[i].project for i in indexes if results[i].status != SUCCESS}
    return [results[i] for i in range(len(jobs))]


def _blocked(job: BuildJob, settings: BuildSettings, missing: list[str]) -> BuildResult:
    """The result of a job not built because the projects ``missing`` did not build."""
    return _result(
        job,
        settings,
        "",
        started=time.monotonic(),
        attempts=0,
        status=BLOCKED,
        error=f"not built: it build-depends on {', '.join(missing)}, which did not build in this run",
        blocked_by=missing,
    )


def build_as(
    user_name: str | None,
    jobs: Sequence[BuildJob],
    settings: BuildSettings,
    parallel: int = 1,
    waves: Sequence[int] | None = None,
    *,
    progress: str | None = None,
    failed: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """:func:`build_many` as the build user ``user_name`` (None: as this process); results as dicts.

    Run as root, this gives the directories the engine writes to (results,
    scratch, what the backend names in owned_dirs, a mirror directory not made yet) to
    the user, then builds in a child process that is that user for good.
    """

    def build() -> list[dict[str, Any]]:
        results = build_many(jobs, settings, parallel=parallel, waves=waves, progress=progress, failed=failed)
        return [result.as_dict() for result in results]

    user = privs.lookup(user_name) if user_name else None
    if user is None or not privs.needs_switch(user):
        return build()
    settings.validate()
    owned = [os.path.join(settings.workdir, "results"), os.path.join(settings.workdir, "scratch")]
    cls = settings.backend_class()
    owned += cls.owned_dirs(settings.workdir, cls.parse_options(settings.options))
    if not os.path.exists(settings.mirror_dir):
        owned.append(settings.mirror_dir)
    privs.hand_over(user, owned)
    env = privs.git_config(os.path.join(settings.workdir, "scratch", "gitconfig"))
    return privs.run_as(user, build, cwd=settings.workdir, env=env)
