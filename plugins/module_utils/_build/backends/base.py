"""What the runner asks of a build backend, and of the packaging kind it builds.

A *packaging kind* (RPM, DEB) knows the distgit's packaging files and the
binary packages they make: it reads the packaging before the build (the
epoch the source tarball needs), names the build (NVR), tells binary
packages from sources and build metadata, and reads the build dependencies
build_queue orders waves by.  A *backend* (rpmbuild, mock, dpkg, sbuild)
builds one kind with one tool: it checks its tools and makes its
environment (:meth:`Backend.prepare`), runs the build with the earlier
waves' packages at hand (:meth:`Backend.build`), says which files are the
outputs (:meth:`Backend.collect`) and what buildinfo.json records of its
settings (:meth:`Backend.describe`, with its tools in ``toolchain_probes``).

The runner creates one backend object per build attempt (builds run in
threads), so a backend may keep what :meth:`prepare` found on ``self``.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Protocol

from ..._common.errors import InputError
from ..._versions import pbr
from ..buildlog import BuildLog
from ..deps import Relations
from ..source import BuildInputs

NAME_RE = re.compile(r"^[a-z][a-z0-9_-]*$")


class Packaging(Protocol):
    """What a kind read from the distgit before the build; the runner only needs the epoch."""

    epoch: int | None


class PackageKind(ABC):
    """A packaging format: its files in the distgit and the packages it makes."""

    name: ClassVar[str]  # "rpm", "deb"
    binary_suffix: ClassVar[str]  # binary packages end with this (".rpm", ".deb")
    # Outputs that describe the build rather than being packages (dpkg's .buildinfo
    # and .changes list the builder's installed packages): reproduce reports, never votes on them.
    metadata_suffixes: ClassVar[tuple[str, ...]] = ()

    def is_binary(self, path: str) -> bool:
        """A binary package of this kind (what later build waves build against)."""
        return path.endswith(self.binary_suffix)

    @abstractmethod
    def read_packaging(self, distgit_dir: str, where: str) -> Packaging:
        """The distgit's packaging, checked before the sdist; InputError naming ``where`` when unusable."""

    @abstractmethod
    def nvr(self, packaging: Packaging, version: pbr.PackageVersion, artifacts: Sequence[str]) -> str:
        """The name of this build (RPM name-version-release, or ``<source>_<version>`` for DEB)."""

    def release_version(self, packaging: Packaging, version: pbr.PackageVersion, where: str) -> pbr.PackageVersion:
        """``version`` (a tag's) with the Release the packaging gives it, for a release build."""
        raise InputError(
            f"{where}: {self.name} packaging cannot be built from a tag (no release builds); use rpm or deb"
        )

    @abstractmethod
    def is_packaging_file(self, name: str) -> bool:
        """True for the distgit file (path relative to its top) that declares packages and build dependencies."""

    @abstractmethod
    def relations(self, text: str) -> Relations:
        """Binary packages made and build dependencies, from such a file's text."""


@dataclasses.dataclass(frozen=True)
class NoOptions:
    """Settings of a backend that has none."""


class Backend(ABC):
    """One build backend; subclasses live one per file in this package and are listed in its registry."""

    name: ClassVar[str]  # package_build's `backend` value
    kind: ClassVar[PackageKind]
    # The backend's own settings (a dataclass whose fields all have defaults); the
    # runner passes it the keys of BuildSettings.options that are its fields.
    options_type: ClassVar[type] = NoOptions
    # Commands the backend runs (checked by prepare, before any build step).
    required_tools: ClassVar[tuple[str, ...]] = ()
    # Tools whose version buildinfo.json records: name -> command printing it on its first line.
    toolchain_probes: ClassVar[Mapping[str, Sequence[str]]] = {}
    # Settings of buildinfo.json (describe) that a rebuild passes back to package_build as options.
    rebuild_settings: ClassVar[tuple[str, ...]] = ()

    def __init__(self, options: Any, workdir: str) -> None:
        self.options = options
        self.workdir = workdir

    @classmethod
    def parse_options(cls, raw: Mapping[str, Any]) -> Any:
        """``options_type`` from the keys of ``raw`` that are its fields (None: the default)."""
        known = {field.name for field in dataclasses.fields(cls.options_type)}
        return cls.options_type(**{key: value for key, value in raw.items() if key in known and value is not None})

    @classmethod
    def option_names(cls) -> tuple[str, ...]:
        """Names of the settings this backend takes."""
        return tuple(field.name for field in dataclasses.fields(cls.options_type))

    @classmethod
    def owned_dirs(cls, workdir: str, options: Any) -> list[str]:
        """Directories, beyond results/ and scratch/, the build user must own (see runner.build_as)."""
        return []

    @classmethod
    def rebuild_options(cls, recorded: Mapping[str, Any]) -> dict[str, Any]:
        """package_build options that rebuild with the settings a buildinfo.json recorded."""
        return {key: recorded[key] for key in cls.rebuild_settings if recorded.get(key) is not None}

    def prepare(self, log: BuildLog) -> None:
        """Check the tools and make the build environment; InputError with one line when impossible."""
        for tool in self.required_tools:
            if shutil.which(tool) is None:
                raise InputError(
                    f"backend {self.name}: {tool} is not installed on this builder; run the builder_setup role "
                    f"with {self.name} in builder_setup_backends"
                )

    @abstractmethod
    def build(self, inputs: BuildInputs, packaging: Packaging, against: Sequence[str]) -> None:
        """Build the package from ``inputs`` (sandboxed, no network) with the binary packages ``against`` at hand."""

    @abstractmethod
    def collect(self, inputs: BuildInputs, packaging: Packaging) -> list[str]:
        """The build's outputs (packages and their metadata), sorted; InputError when it made no package."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """The settings this build used, for buildinfo.json's ``settings`` (called after :meth:`build`)."""


def interface_problems(cls: type) -> list[str]:
    """What ``cls`` lacks to be a registered backend (empty when it implements the whole interface)."""
    if not (isinstance(cls, type) and issubclass(cls, Backend)):
        return [f"{cls!r} is not a subclass of Backend"]
    problems = []
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not NAME_RE.match(name):
        problems.append(f"name {name!r} is not a lowercase word")
    if not isinstance(getattr(cls, "kind", None), PackageKind):
        problems.append("kind is not a PackageKind")
    if cls.__abstractmethods__:
        problems.append(f"does not implement {', '.join(sorted(cls.__abstractmethods__))}")
    if not dataclasses.is_dataclass(cls.options_type):
        problems.append("options_type is not a dataclass")
    else:
        try:
            cls.options_type()
        except TypeError:
            problems.append("options_type needs a default for every field")
    probes = cls.toolchain_probes
    if not isinstance(probes, Mapping) or not all(isinstance(argv, (list, tuple)) and argv for argv in probes.values()):
        problems.append("toolchain_probes is not a mapping of tool name to command")
    return problems
