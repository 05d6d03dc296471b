"""Build backends: one module per backend, and this registry of them (name -> class).

Everything backend-specific lives in the backend's own module: the runner,
package_build's ``backend`` choices, build_queue (which packaging files to
read) and reproduce (which recorded settings a rebuild passes back) ask this
registry.  Adding a backend is one module with a :class:`~.base.Backend`
subclass, one line in ``_BUILTIN`` below and its tests (docs/development.md).

May import: ``_build`` (sandbox, source, deb, rpm, deps, buildlog),
``_common``, ``_versions``.  Imported by ``_build.runner``, ``_build.queue``,
``_reproduce`` and the package_build module.
"""

from __future__ import annotations

from ..._common.errors import InputError
from .base import Backend, PackageKind, interface_problems
from .dpkg import DpkgBackend
from .mock import MockBackend
from .rpmbuild import RpmbuildBackend
from .sbuild import SbuildBackend

# package_build's choices, in this order.
_BUILTIN: tuple[type[Backend], ...] = (RpmbuildBackend, DpkgBackend, SbuildBackend, MockBackend)

REGISTRY: dict[str, type[Backend]] = {}


def register(cls: type[Backend]) -> type[Backend]:
    """Add ``cls`` to the registry; TypeError when it does not implement the whole interface."""
    problems = interface_problems(cls)
    if problems:
        raise TypeError(f"build backend {cls!r}: {'; '.join(problems)}")
    if REGISTRY.get(cls.name, cls) is not cls:
        raise TypeError(f"build backend {cls!r}: the name {cls.name!r} is taken by {REGISTRY[cls.name]!r}")
    REGISTRY[cls.name] = cls
    return cls


for _cls in _BUILTIN:
    register(_cls)


def names() -> tuple[str, ...]:
    """The backends' names, package_build's ``backend`` choices."""
    return tuple(REGISTRY)


def get(name: str, where: str = "backend") -> type[Backend]:
    """The backend called ``name``; InputError naming ``where`` and the choices for another name."""
    try:
        return REGISTRY[name]
    except (KeyError, TypeError):
        raise InputError(f"{where}: '{name}' is not one of {', '.join(names())} on this builder") from None


def kinds() -> list[PackageKind]:
    """The packaging kinds the registered backends build, each once."""
    found: dict[str, PackageKind] = {}
    for cls in REGISTRY.values():
        found.setdefault(cls.kind.name, cls.kind)
    return list(found.values())


def is_binary_package(path: str) -> bool:
    """A binary package of some backend's kind (a .deb, or a binary not source .rpm)."""
    return any(kind.is_binary(path) for kind in kinds())


def metadata_suffixes() -> tuple[str, ...]:
    """Suffixes of outputs that are build metadata, not packages, for every kind."""
    return tuple(suffix for kind in kinds() for suffix in kind.metadata_suffixes)


def option_names() -> set[str]:
    """Every setting some backend takes (BuildSettings.options keys)."""
    return {name for cls in REGISTRY.values() for name in cls.option_names()}


def module_options() -> tuple[str, ...]:
    """package_build options that are backend settings: what buildinfo records and a rebuild passes back."""
    return tuple(dict.fromkeys(name for cls in REGISTRY.values() for name in cls.rebuild_settings))


__all__ = [
    "REGISTRY",
    "Backend",
    "PackageKind",
    "get",
    "is_binary_package",
    "kinds",
    "metadata_suffixes",
    "module_options",
    "names",
    "option_names",
    "register",
]
