"""What a Python project states about itself, read from its sdist or its source tree.

The readers are the libraries' own: ``packaging.metadata`` parses the
sdist's ``PKG-INFO`` (the email-header format of the core metadata),
``configparser`` reads ``setup.cfg`` (pbr's ``[metadata]``, ``[files]`` and
``[entry_points]``, and an sdist's ``*.egg-info/entry_points.txt``),
``ast`` finds ``setup_requires`` in ``setup.py`` without running it and
``tomllib`` reads ``pyproject.toml``'s ``[build-system]``.  A source tree
(a git checkout) has no ``PKG-INFO``: its ``setup.cfg`` says the same, and
its version comes from git as pbr computes it (``_versions/pbr.py``).

Nothing is unpacked or executed: members are read into memory, each at
most :data:`MAX_MEMBER` bytes, which keeps a hostile sdist from doing more
than fail the generation.

Two things are stated here in pbr's words because pbr only applies them to
a tree on disk (while ``setup.py`` runs): the default top-level package and
the expansion of ``data_files`` globs (:func:`data_files`), which decides
which files an install puts under ``/usr`` and so what the spec's
``%files`` must list.
"""

from __future__ import annotations

import ast
import configparser
import fnmatch
import os
import posixpath
import tarfile
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Optional

from .._common.errors import InputError
from .._common.proc import run
from .._versions import pbr

try:
    import tomllib
except ImportError:  # Python < 3.11: pyproject.toml's build requirements are not read
    tomllib = None  # type: ignore[assignment]

try:
    from packaging.metadata import parse_email
except ImportError:  # ansible-test imports modules without it; need_packaging() says so when used
    parse_email = None  # type: ignore[assignment]

MAX_MEMBER = 4 << 20  # bytes read of any one file of the source
# Top-level directories that are never installed packages, whatever holds an __init__.py.
NOT_PACKAGES = frozenset({"test", "tests", "doc", "docs", "releasenotes", "tools", "examples", "playbooks"})
LICENSE_NAMES = ("LICENSE", "LICENSE.txt", "LICENCE", "COPYING")
README_NAMES = ("README.rst", "README.md", "README.txt", "README")


@dataclass(frozen=True)
class ProjectMetadata:
    """A project's name, version, descriptions, requirements and what its install puts where."""

    name: str  # the distribution name (sdist name), e.g. oslo.config
    version: str
    summary: str = ""
    description: str = ""  # the long description, as written (reST or Markdown)
    home_page: str = ""
    license: str = ""  # the License field, or "" when only classifiers say it
    classifiers: tuple[str, ...] = ()
    author: str = ""
    requirements: str = ""  # requirements.txt as written; "" when the project has none
    requires_dist: tuple[str, ...] = ()  # PKG-INFO's Requires-Dist (used when there is no requirements.txt)
    setup_requires: tuple[str, ...] = ()  # setup.py's setup_requires and pyproject.toml's build requirements
    is_pbr: bool = False
    packages: tuple[str, ...] = ()  # top-level import packages installed
    modules: tuple[str, ...] = ()  # top-level modules installed
    namespace_packages: tuple[str, ...] = ()
    console_scripts: tuple[str, ...] = ()  # entry-point scripts, by name
    scripts: tuple[str, ...] = ()  # plain scripts ([files] scripts), by name
    data_files: tuple[tuple[str, str], ...] = ()  # (target directory under the prefix, file name)
    entry_points: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (group, names), e.g. (tempest.test_plugins, (x,))
    license_files: tuple[str, ...] = ()
    doc_files: tuple[str, ...] = ()
    bash_completions: tuple[str, ...] = ()  # tools/<command>.bash_completion, by path in the source
    has_extensions: bool = False
    license_text: str = ""  # the license file's text, for a license debian/copyright must quote
    source_time: int = 0  # when the sdist was made (its PKG-INFO's mtime) or the checkout's commit time
    where: str = ""  # the sdist or tree read, for messages

    def entry_point_names(self, group: str) -> list[str]:
        """The names of entry point ``group`` (``tempest.test_plugins``: the plugins Tempest loads)."""
        return [name for found, names in self.entry_points if found == group for name in names]

    @property
    def egg_info_name(self) -> str:
        """The name setuptools gives the ``.egg-info`` directory: ``oslo.config``, ``python_keystoneclient``.

        ``pkg_resources.to_filename(safe_name(name))``: runs of characters
        other than letters, digits and ``.`` become ``-``, then ``-`` becomes
        ``_`` (setuptools 53 on EL9 and 66 on Debian 12 agree).
        """
        safe = "".join(c if c.isalnum() or c == "." else "-" for c in self.name)
        while "--" in safe:
            safe = safe.replace("--", "-")
        return safe.replace("-", "_")


@dataclass
class _Source:
    """A source's files by path relative to its top directory, and a reader for them."""

    where: str
    names: list[str]
    read: Callable[[str], Optional[bytes]]
    time: int = 0
    close: Callable[[], None] = lambda: None

    def text(self, name: str) -> Optional[str]:
        data = self.read(name)
        return None if data is None else data.decode("utf-8", errors="replace")

    def top(self, names: Iterable[str]) -> Optional[str]:
        """The first of ``names`` present at the top of the source."""
        present = set(self.names)
        return next((n for n in names if n in present), None)


def need_packaging() -> None:
    """Fail in one line when the ``packaging`` library is missing on this host."""
    if parse_email is None:
        raise InputError(
            "the Python library 'packaging' (21.3 or later) is not installed on this host; pip install packaging"
        )


def _sdist_source(path: Path) -> _Source:
    where = str(path)
    try:
        archive = tarfile.open(path)  # noqa: SIM115 - members are read on demand; read() closes it (close)
    except (tarfile.TarError, EOFError, OSError):
        raise InputError(
            f"source: {path} is not an sdist (a .tar.gz of <name>-<version>/); give the sdist or a checkout"
        ) from None
    members = {}
    tops = set()
    try:
        for member in archive.getmembers():
            parts = member.name.split("/")
            tops.add(parts[0])
            rel = "/".join(parts[1:])
            if rel and (member.isfile() or member.isdir()) and not member.name.startswith("/") and ".." not in parts:
                members[rel] = member
    except (tarfile.TarError, EOFError, OSError):
        archive.close()
        raise InputError(f"source: {path} is a damaged sdist (its tar archive ends early); download it again") from None
    if len(tops) != 1:
        archive.close()
        raise InputError(f"source: {path} holds {len(tops)} top directories; an sdist holds one, <name>-<version>/")

    def read(name: str) -> Optional[bytes]:
        member = members.get(name)
        if member is None or not member.isfile():
            return None
        if member.size > MAX_MEMBER:
            raise InputError(f"source: {path}: {name} is larger than {MAX_MEMBER >> 20} MiB; refused")
        handle = archive.extractfile(member)
        return handle.read() if handle else None

    files = sorted(n for n, m in members.items() if m.isfile())
    pkg_info = members.get("PKG-INFO")
    return _Source(where, files, read, int(pkg_info.mtime) if pkg_info is not None else 0, archive.close)


def _tree_source(path: Path) -> _Source:
    files = []
    for root, dirnames, names in os.walk(path):
        dirnames[:] = sorted(d for d in dirnames if d != ".git")
        for name in sorted(names):
            full = os.path.join(root, name)
            if os.path.isfile(full) and not os.path.islink(full):
                files.append(os.path.relpath(full, path).replace(os.sep, "/"))

    known = set(files)

    def read(name: str) -> Optional[bytes]:
        full = path / name
        if name not in known or not full.is_file():
            return None
        if full.stat().st_size > MAX_MEMBER:
            raise InputError(f"source: {full} is larger than {MAX_MEMBER >> 20} MiB; refused")
        return full.read_bytes()

    return _Source(str(path), files, read, _commit_time(path))


def _commit_time(path: Path) -> int:
    """The checkout's HEAD commit time (0 outside git)."""
    if not (path / ".git").exists():
        return 0
    out = run(["git", "-C", str(path), "log", "-1", "--format=%ct"], what="git log", check=False).stdout.strip()
    return int(out) if out.isdigit() else 0


def _lines(value: str) -> list[str]:
    """A setup.cfg multi-line value's non-empty lines (``a\\n  b`` or ``a, b`` on one line)."""
    return [text for text in (raw.strip() for raw in value.splitlines()) if text and not text.startswith("#")]


def _cfg(text: Optional[str], where: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    if text:
        try:
            parser.read_string(text, source=where)
        except configparser.Error as exc:
            raise InputError(f"{where}: does not parse ({str(exc).splitlines()[0]}); fix it upstream") from None
    return parser


def _get(parser: configparser.ConfigParser, section: str, *keys: str) -> str:
    """The first of ``keys`` in ``section`` (pbr accepts both ``home_page`` and ``home-page``)."""
    for key in keys:
        for spelling in (key, key.replace("_", "-")):
            if parser.has_option(section, spelling):
                return parser.get(section, spelling)
    return ""


def _setup_call(text: Optional[str]) -> dict[str, object]:
    """The literal keyword arguments of ``setup(...)`` in ``setup.py`` (ast: nothing is run)."""
    if not text:
        return {}
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if name != "setup":
            continue
        found: dict[str, object] = {}
        for keyword in node.keywords:
            if keyword.arg is None:
                continue
            try:
                found[keyword.arg] = ast.literal_eval(keyword.value)
            except ValueError:
                found[keyword.arg] = ...  # stated, but not as a literal
        return found
    return {}


def _build_requires(text: Optional[str], where: str) -> list[str]:
    if not text or tomllib is None:
        return []
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{where}: pyproject.toml does not parse ({exc}); fix it upstream") from None
    requires = (data.get("build-system") or {}).get("requires") or []
    return [str(item) for item in requires if isinstance(item, str)]


def _entry_points(source: _Source, cfg: configparser.ConfigParser) -> dict[str, list[str]]:
    """Entry point group → names: setup.cfg's ``[entry_points]``, else the sdist's ``entry_points.txt``."""
    groups: dict[str, list[str]] = {}
    if cfg.has_section("entry_points"):
        for group, value in cfg.items("entry_points"):
            groups[group] = [line.split("=", 1)[0].strip() for line in _lines(value) if "=" in line]
        return groups
    egg = next((n for n in source.names if n.count("/") == 1 and n.endswith(".egg-info/entry_points.txt")), None)
    parser = _cfg(source.text(egg) if egg else None, f"{source.where}: {egg}")
    for group in parser.sections():
        groups[group] = [name.strip() for name, _value in parser.items(group)]
    return groups


def _discover_packages(source: _Source, name: str) -> list[str]:
    """Top-level packages when setup.cfg names none: pbr's default (the name), else the tree's own."""
    default = name.replace("-", "_")
    if f"{default}/__init__.py" in source.names:
        return [default]
    return sorted(
        n.split("/")[0]
        for n in source.names
        if n.count("/") == 1 and n.endswith("/__init__.py") and n.split("/")[0] not in NOT_PACKAGES
    )


def data_files(value: str, names: Iterable[str]) -> list[tuple[str, str]]:
    """pbr's ``[files] data_files`` as (target directory, file name) pairs, targets relative to the prefix.

    pbr (``pbr/hooks/files.py``, ``expand_globs``): ``target = prefix*``
    installs every file under ``prefix`` (walked recursively) into
    ``target`` plus its path below ``prefix``; any other ``target = a b``
    line, and the indented lines after it, install those files (globs
    matched against the source's files) into ``target`` by their base name.
    Hand-written because pbr applies it only to an unpacked tree while
    setup.py runs; tests hold it equal to pbr's own expansion.
    """
    files = sorted(names)
    out: list[tuple[str, str]] = []
    target: Optional[str] = None
    for line in _lines(value):
        if "=" in line:
            target, _sep, sources = (part.strip() for part in line.partition("="))
            target = target.strip().rstrip("/")
            if sources.endswith("*"):
                prefix = sources[:-1]
                for name in files:
                    if name.startswith(prefix) and (
                        not prefix or prefix.endswith("/") or name[len(prefix) :].startswith("/")
                    ):
                        rest = name[len(prefix) :].lstrip("/")
                        sub = posixpath.dirname(rest)
                        out.append((posixpath.join(target, sub) if sub else target, posixpath.basename(rest)))
                target = None  # pbr starts a new block: what follows belongs to no target
                continue
        else:
            sources = line
        if target is None:
            continue
        for pattern in sources.split():
            matched = [n for n in files if fnmatch.fnmatchcase(n, pattern)] or ([pattern] if pattern in files else [])
            out.extend((target, posixpath.basename(n)) for n in matched)
    return sorted(set(out))


def read(path: Path | str, version: Optional[str] = None) -> ProjectMetadata:
    """The metadata of the sdist or source tree at ``path``.

    ``version`` is required for a tree that is not a git checkout (an sdist
    states its own in PKG-INFO).
    """
    need_packaging()
    path = Path(path)
    if path.is_dir():
        source = _tree_source(path)
    elif path.is_file():
        source = _sdist_source(path)
    else:
        raise InputError(f"source: {path} does not exist; give an sdist (.tar.gz) or a source checkout")
    try:
        return _read(path, source, version)
    finally:
        source.close()


def _read(path: Path, source: _Source, version: Optional[str]) -> ProjectMetadata:
    setup_cfg = _cfg(source.text("setup.cfg"), f"{source.where}: setup.cfg")
    pkg_info_text = source.text("PKG-INFO")
    info: dict = {}
    if pkg_info_text is not None:
        info, _unparsed = parse_email(pkg_info_text)
    meta_name = info.get("name") or _get(setup_cfg, "metadata", "name")
    if not meta_name:
        raise InputError(
            f"source: {source.where} states no name (no PKG-INFO Name, no setup.cfg [metadata] name); give an sdist"
        )
    version = info.get("version") or version or _tree_version(path, source)
    description = _unfold(info.get("description") or "")
    if not description:
        readme = _get(setup_cfg, "metadata", "description_file", "long_description_file")
        description = (source.text(readme.strip()) if readme.strip() else None) or ""
    classifiers = tuple(info.get("classifiers") or _lines(_get(setup_cfg, "metadata", "classifier", "classifiers")))
    setup_py = _setup_call(source.text("setup.py"))
    setup_requires = setup_py.get("setup_requires")
    setup_requires = (
        [setup_requires]
        if isinstance(setup_requires, str)
        else list(setup_requires or [])
        if isinstance(setup_requires, (list, tuple))
        else []
    )
    setup_requires += _build_requires(source.text("pyproject.toml"), source.where)
    files_value = dict(setup_cfg.items("files")) if setup_cfg.has_section("files") else {}
    packages = _lines(files_value.get("packages", "")) or _discover_packages(source, meta_name)
    entry_points = _entry_points(source, setup_cfg)
    author = info.get("author") or _get(setup_cfg, "metadata", "author")
    if not author:
        email = info.get("author_email") or _get(setup_cfg, "metadata", "author_email", "author-email")
        author = email.split("<", 1)[0].strip() if email else ""
    return ProjectMetadata(
        name=meta_name,
        version=version,
        summary=(info.get("summary") or _get(setup_cfg, "metadata", "summary", "description")).strip(),
        description=description,
        home_page=(info.get("home_page") or _get(setup_cfg, "metadata", "home_page", "url")).strip(),
        license=(info.get("license") or _get(setup_cfg, "metadata", "license")).strip(),
        classifiers=classifiers,
        author=author.strip(),
        requirements=source.text("requirements.txt") or "",
        requires_dist=tuple(info.get("requires_dist") or ()),
        setup_requires=tuple(dict.fromkeys(str(item) for item in setup_requires)),
        is_pbr=setup_py.get("pbr") is True or setup_cfg.has_section("pbr") or any("pbr" in r for r in setup_requires),
        packages=tuple(packages),
        modules=tuple(_lines(files_value.get("modules", ""))),
        namespace_packages=tuple(_lines(files_value.get("namespace_packages", ""))),
        console_scripts=tuple(sorted(set(entry_points.get("console_scripts", [])))),
        scripts=tuple(sorted({posixpath.basename(s) for s in _lines(files_value.get("scripts", ""))})),
        data_files=tuple(data_files(files_value.get("data_files", ""), source.names)),
        entry_points=tuple((group, tuple(sorted(names))) for group, names in sorted(entry_points.items())),
        license_files=tuple(n for n in LICENSE_NAMES if n in source.names)[:1],
        doc_files=tuple(n for n in README_NAMES if n in source.names)[:1],
        bash_completions=tuple(
            n for n in source.names if n.startswith("tools/") and n.count("/") == 1 and n.endswith(".bash_completion")
        ),
        has_extensions="ext_modules" in setup_py or setup_cfg.has_section("extension"),
        license_text=next((source.text(n) or "" for n in LICENSE_NAMES if n in source.names), ""),
        source_time=source.time,
        where=source.where,
    )


def _unfold(description: str) -> str:
    """A Description header's text: metadata before 2.1 folds it, continuation lines indented (8 spaces, or ``|``).

    The body form (metadata 2.1) is returned as it is.
    """
    lines = description.splitlines()
    if len(lines) < 2 or not all(not line.strip() or line.startswith((" ", "\t", "|")) for line in lines[1:]):
        return description
    rest = [line[1:] if line.startswith("|") else line for line in lines[1:]]
    return "\n".join([lines[0], *textwrap.dedent("\n".join(rest)).splitlines()])


def _tree_version(path: Path, source: _Source) -> str:
    """A checkout's version as pbr computes it from git."""
    if not (path / ".git").exists():
        raise InputError(f"source: {source.where} is neither an sdist nor a git checkout; give version")
    return pbr.upstream_version(path).version.release_string()
