"""A distgit's packaging: the spec and ``debian/`` read for versions and dependencies, and edited for a bump.

Edits are made on the text, line by line, so that a bump changes only the
lines it means to (``Version:``, ``Release:``, a literal ``Source0`` and a
new changelog entry) and the diff a reviewer sees is exactly that.

Dependencies of a spec are read by the build's spec reader
(``_build/specread.py``: rpm itself in the build sandbox, or a minimal
reader where rpm is missing); the tests hold both equal to ``rpmspec -q
--requires`` and ``--buildrequires`` on the example distro's specs.
``debian/control`` is read with python-debian (``deb822``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path

from .._build import specread
from .._common.errors import InputError

try:
    from debian import deb822
    from debian.changelog import Changelog, ChangelogParseError
except ImportError:  # pragma: no cover - python-debian is a dependency of the collection
    deb822 = None
    Changelog = None  # type: ignore[assignment,misc]
    ChangelogParseError = ValueError  # type: ignore[assignment,misc]

# Values DLRN fills in: a spec with them states no version of its own.
PLACEHOLDERS = frozenset({"XXX", ""})
_TAG = re.compile(r"^(?P<tag>Version|Release|Epoch|Source0?)(?P<sep>:\s*)(?P<value>.*?)\s*$", re.IGNORECASE)
_CHANGELOG_HEADER = re.compile(r"^\*\s+(?P<date>\w{3}\s+\w{3}\s+\d{1,2}\s+\d{4})\s+(?P<who>.*?)\s*$")


@dataclass(frozen=True)
class Dependency:
    """One packaged dependency: a name (or Debian alternatives) and version constraints."""

    names: tuple[str, ...]
    constraints: tuple[tuple[str, str], ...] = ()  # (op, version): op in <, <=, =, >=, >

    @property
    def name(self) -> str:
        return self.names[0]

    def text(self) -> str:
        """How the packaging writes it, e.g. ``python3-six >= 1.10.0``."""
        shown = " | ".join(self.names)
        return " ".join([shown, *(f"{op} {version}" for op, version in self.constraints)])


@dataclass
class Dependencies:
    """Runtime and build dependencies of one packaging format, and the binary packages it makes."""

    runtime: list[Dependency] = field(default_factory=list)
    build: list[Dependency] = field(default_factory=list)
    provides: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class PackagedVersion:
    """The version a packaging states: epoch (or None), upstream version, release/revision."""

    epoch: str | None
    version: str
    release: str

    @property
    def evr(self) -> str:
        """``[epoch:]version-release``."""
        return f"{self.epoch + ':' if self.epoch else ''}{self.version}-{self.release}"


# -- RPM -------------------------------------------------------------------------------------------


def find_spec(distgit: Path, where: str) -> Path:
    """The one ``*.spec`` at the top of a distgit checkout."""
    specs = sorted(distgit.glob("*.spec"))
    if len(specs) != 1:
        found = ", ".join(spec.name for spec in specs) or "none"
        raise InputError(f"{where}: the distgit must hold exactly one .spec at its top (found {found})")
    return specs[0]


def spec_version(text: str, where: str) -> PackagedVersion:
    """The version a spec states: its ``Version:``/``Release:`` when literal, else its newest changelog entry's.

    RDO's trunk specs say ``Version: XXX`` (DLRN fills it in); their
    changelog's top entry (``* Fri Apr 05 2024 Name <mail> - 1:5.0.1-1``)
    then names the version packaged last.
    """
    tags: dict[str, str] = {}
    for line in text.splitlines():
        match = _TAG.match(line)
        if match and match["tag"].lower() not in tags:
            tags[match["tag"].lower()] = match["value"]
        if line.startswith("%package"):
            break
    epoch = tags.get("epoch") or None
    version, release = tags.get("version", ""), tags.get("release", "")
    if version not in PLACEHOLDERS and "%" not in version:
        return PackagedVersion(epoch, version, re.sub(r"%\{\?dist\}$", "", release) or "1")
    for entry in _changelog_headers(text):
        evr = entry.rsplit(">", 1)[-1].strip().lstrip("-").strip()
        match = re.fullmatch(r"(?:(\d+):)?([^\s:-]+)-(\S+)", evr)
        if match:
            return PackagedVersion(match[1] or epoch, match[2], match[3])
        break
    raise InputError(
        f"{where}: states no version (Version: {version or 'missing'} and no '[epoch:]version-release' "
        "at the end of its newest %changelog entry); add one to the changelog"
    )


def _changelog_matches(text: str) -> list[re.Match[str]]:
    lines = text.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == "%changelog")
    except StopIteration:
        return []
    return [match for line in lines[start + 1 :] if (match := _CHANGELOG_HEADER.match(line))]


def _changelog_headers(text: str) -> list[str]:
    return [match["who"] for match in _changelog_matches(text)]


def spec_changelog_time(text: str) -> int | None:
    """The day of the spec's newest ``%changelog`` entry (00:00 UTC, epoch seconds); None without entries."""
    for match in _changelog_matches(text)[:1]:
        try:
            day = datetime.strptime(" ".join(match["date"].split()), "%a %b %d %Y")
        except ValueError:
            return None
        return int(day.replace(tzinfo=timezone.utc).timestamp())
    return None


def debian_changelog_time(text: str) -> int | None:
    """When ``debian/changelog``'s top entry was made (epoch seconds); None if it has no usable date."""
    _need_debian()
    try:
        date = Changelog(text, max_blocks=1).date
        return int(parsedate_to_datetime(date).timestamp()) if date else None
    except (ChangelogParseError, ValueError, TypeError):
        return None


def rpm_changelog_date(seconds: int) -> str:
    """``Fri Sep 02 2022``: rpm's changelog date, in UTC."""
    return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%a %b %d %Y")


def bump_spec(text: str, *, old: PackagedVersion, version: str, date: int, author: str) -> str:
    """``text`` with ``Version: version``, ``Release: 1%{?dist}``, a new changelog entry (and Source0 if literal)."""
    lines = text.splitlines(keepends=True)
    done: set[str] = set()
    for index, line in enumerate(lines):
        if line.startswith("%package"):
            break
        match = _TAG.match(line.rstrip("\n"))
        if not match:
            continue
        tag = match["tag"].lower()
        end = "\n" if line.endswith("\n") else ""
        if tag == "version" and tag not in done:
            lines[index] = f"{match['tag']}{match['sep']}{version}{end}"
        elif tag == "release" and tag not in done:
            lines[index] = f"{match['tag']}{match['sep']}1%{{?dist}}{end}"
        elif tag in ("source", "source0") and old.version and old.version in match["value"]:
            lines[index] = f"{match['tag']}{match['sep']}{match['value'].replace(old.version, version)}{end}"
        done.add(tag)
    epoch = f"{old.epoch}:" if old.epoch else ""
    entry = f"* {rpm_changelog_date(date)} {author} - {epoch}{version}-1\n- Update to {version}\n\n"
    for index, line in enumerate(lines):
        if line.strip() == "%changelog":
            lines.insert(index + 1, entry)
            break
    else:
        lines.append(("" if not lines or lines[-1].endswith("\n") else "\n") + "\n%changelog\n" + entry)
    return "".join(lines)


def spec_dependencies(text: str, where: str) -> Dependencies:
    """Runtime (``Requires``) and build (``BuildRequires``) dependencies of a spec, rpm's reading when possible."""
    return _dependencies(specread.read(text, where))


# Only tests call this: it is spec_dependencies' path on hosts without rpm's bindings, reachable on hosts
# with them too, so test_release_reqcheck can hold it against rpmspec. Keep it while that fallback exists.
def spec_dependencies_minimal(text: str) -> Dependencies:
    """The same from the spec's own lines, for hosts without rpm's bindings (see specread.minimal)."""
    return _dependencies(specread.minimal(text))


def _op(flags: int) -> str:
    less, greater, equal = flags & specread.LESS, flags & specread.GREATER, flags & specread.EQUAL
    return ("<" if less else ">" if greater else "") + ("=" if equal else "")


def _dependency(name: str, flags: int, version: str) -> Dependency:
    op = _op(flags)
    return Dependency((name,), ((op, version),) if op and version else ())


def _dependencies(found: specread.SpecDeps) -> Dependencies:
    return Dependencies(
        runtime=[_dependency(*dep) for dep in found.requires],
        build=[_dependency(*dep) for dep in found.build_requires],
        provides=set(found.provides),
    )


# -- DEB -------------------------------------------------------------------------------------------


def _need_debian() -> None:
    if Changelog is None:  # pragma: no cover
        raise InputError("python-debian is not installed on this host; run `make` or pip install python-debian")


def debian_version(text: str, where: str) -> tuple[str, PackagedVersion, str]:
    """Source package, version and distribution of ``debian/changelog``'s top entry."""
    _need_debian()
    try:
        log = Changelog(text, max_blocks=1, strict=True)
    except (ChangelogParseError, ValueError) as exc:
        raise InputError(f"{where}: does not parse ({str(exc).splitlines()[0]}); fix the top entry") from None
    if not log.package or log.version is None:
        raise InputError(f"{where}: has no entry; add one naming the source package")
    version = log.version
    packaged = PackagedVersion(version.epoch, version.upstream_version or "", version.debian_revision or "")
    return log.package, packaged, log.distributions or "unstable"


def bump_debian_changelog(
    text: str, *, source: str, old: PackagedVersion, version: str, distribution: str, date: int, author: str
) -> str:
    """``text`` with a new top entry for ``version`` (revision 1, the old epoch), dated ``date``."""
    epoch = f"{old.epoch}:" if old.epoch else ""
    stamp = formatdate(date, localtime=False).replace("-0000", "+0000")
    entry = (
        f"{source} ({epoch}{version}-1) {distribution}; urgency=medium\n\n"
        f"  * New upstream release {version}.\n\n"
        f" -- {author}  {stamp}\n\n"
    )
    return entry + text


def control_dependencies(text: str, where: str) -> Dependencies:
    """Runtime (``Depends``, ``Pre-Depends``) and build (``Build-Depends*``) dependencies of ``debian/control``."""
    _need_debian()
    deps = Dependencies()
    try:
        paragraphs = list(deb822.Deb822.iter_paragraphs(text.splitlines()))
    except Exception as exc:  # python-debian raises several types for broken files
        raise InputError(f"{where}: does not parse ({str(exc).splitlines()[0]}); fix it") from None
    if not paragraphs:
        raise InputError(f"{where}: is empty; it needs a Source paragraph and one per binary package")
    for paragraph in paragraphs:
        if "Package" in paragraph:
            deps.provides.add(paragraph["Package"])
        for fields, target in (
            (("Build-Depends", "Build-Depends-Indep", "Build-Depends-Arch"), deps.build),
            (("Depends", "Pre-Depends"), deps.runtime),
        ):
            for name in fields:
                if name in paragraph:
                    target.extend(_relations(paragraph[name]))
    return deps


# A version given by a substitution variable, "(= ${binary:Version})": the package's own.
_SUBSTVAR_VERSION = re.compile(r"\s*\([^)]*\$\{[^)]*\)")
_DEB_OPS = {">>": ">", "<<": "<", ">=": ">=", "<=": "<=", "=": "="}


def _relations(value: str) -> list[Dependency]:
    out = []
    # Substitution variables (${misc:Depends}) are filled in at build time; python-debian warns on them.
    items = [_SUBSTVAR_VERSION.sub("", item) for item in value.split(",")]
    value = ",".join(item for item in items if item.strip() and not item.strip().startswith("${"))
    for alternatives in deb822.PkgRelation.parse_relations(value):
        names = tuple(alt["name"] for alt in alternatives if alt.get("name") and not alt["name"].startswith("$"))
        if not names:
            continue
        first = alternatives[0].get("version")
        constraints = ((_DEB_OPS.get(first[0], first[0]), first[1]),) if first else ()
        out.append(Dependency(names, constraints))
    return out
