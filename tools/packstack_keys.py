"""Extract Packstack's answer-file keys from its source into a data file.

Packstack declares every ``CONFIG_*`` key of its answer file as a dict in
the ``initConfig`` function of a plugin module (``packstack/plugins/*_NNN.py``)
and groups them with ``controller.addGroup``; the usage texts live in
``docs/packstack.rst``.  Importing those modules is not an option (its
``basedefs`` creates and re-links ``/var/tmp/packstack`` at import time), so
this script *reads* them with :mod:`ast`: it follows ``initConfig`` statement
by statement, as far as literal lists, dicts, names and subscripts go, and
records each key the way ``packstack --gen-answer-file`` would write it:
plugins in their number order, groups in ``addGroup`` order, keys in list
order.

Defaults that Packstack computes on the node (the host's address, random
secrets, the hostname) are recorded as ``default: null`` plus the expression
in ``computed_default``; the renderer leaves those keys to Packstack.

Regenerate the committed data file (network: PyPI only)::

    python tools/packstack_keys.py --version 21.0.1

or, from a downloaded sdist::

    python tools/packstack_keys.py --sdist packstack-21.0.1.tar.gz

Packstack 21.x is the Zed release (its ``Puppetfile`` pins ``stable/zed``);
22.x is 2023.1 (Antelope); 26.x is the newest on PyPI.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import re
import subprocess
import sys
import tarfile
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT_DIR = ROOT / "roles" / "deploy_packstack" / "files"
FORMAT_VERSION = 1
# Packstack plugins are named <name>_<three digits>.py and load in number order.
PLUGIN_RE = re.compile(r"^packstack/plugins/(?P<name>[^_/][^/]*_(?P<number>\d{3}))\.py$")
# A key's usage in docs/packstack.rst: **CONFIG_X** then an indented paragraph.
RST_KEY_RE = re.compile(r"^\*\*(?P<key>CONFIG_[A-Z0-9_]+)\*\*\s*$")
# Marks a group dict added to a list inside an ``if`` (not a Packstack key).
_GUARD = "__registered_if__"
# PRE_CONDITION of groups Packstack always uses.
_ALWAYS_RE = re.compile(r"^lambda \w+: 'yes'$")
PUPPETFILE_REF_RE = re.compile(r":ref\s*=>\s*'stable/(?P<release>[^']+)'")


class ExtractError(Exception):
    """The sdist does not look like what this script knows how to read."""


@dataclass(frozen=True)
class Opaque:
    """An expression this reader does not evaluate, kept as its source text."""

    source: str


@dataclass
class Key:
    """One answer-file key as Packstack declares it."""

    name: str
    group: str
    plugin: str
    default: Any
    computed_default: str | None
    options: list[str]
    validators: list[str]
    processors: list[str]
    password: bool
    deprecates: list[str]
    usage: str = ""

    def as_data(self) -> dict[str, Any]:
        """The mapping written to the data file (stable field order)."""
        data: dict[str, Any] = {
            "name": self.name,
            "group": self.group,
            "default": self.default,
        }
        if self.computed_default is not None:
            data["computed_default"] = self.computed_default
        data["options"] = self.options
        data["validators"] = self.validators
        if self.processors:
            data["processors"] = self.processors
        data["password"] = self.password
        if self.deprecates:
            data["deprecates"] = self.deprecates
        data["usage"] = self.usage
        return data


@dataclass
class Group:
    """A Packstack parameter group (``controller.addGroup``)."""

    name: str
    plugin: str
    description: str
    condition: dict[str, Any] | None
    registered_if: str | None
    keys: list[Key] = field(default_factory=list)


class _InitConfigReader:
    """Walks one plugin's ``initConfig`` and collects its ``addGroup`` calls."""

    def __init__(self, plugin: str, source: str, module_env: dict[str, Any]) -> None:
        self.plugin = plugin
        self.source = source
        self.env: dict[str, Any] = dict(module_env)
        self.groups: list[Group] = []
        # Conditions of the enclosing ``if`` statements, as source text.
        self.guards: list[str] = []

    def value(self, node: ast.AST) -> Any:  # noqa: PLR0911 - one return per expression kind
        """Evaluate a literal-ish expression; anything else becomes :class:`Opaque`."""
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, (ast.List, ast.Tuple)):
            return [self.value(item) for item in node.elts]
        if isinstance(node, ast.Dict):
            out: dict[Any, Any] = {}
            for key_node, value_node in zip(node.keys, node.values, strict=True):
                if key_node is None:  # {**other}
                    merged = self.value(value_node)
                    if isinstance(merged, dict):
                        out.update(merged)
                    continue
                out[self.value(key_node)] = self.value(value_node)
            return out
        if isinstance(node, ast.Name) and node.id in self.env:
            return self.env[node.id]
        if isinstance(node, ast.Subscript):
            container = self.value(node.value)
            index = self.value(node.slice)
            if isinstance(container, dict) and not isinstance(index, Opaque) and index in container:
                return container[index]
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mod)):
            left, right = self.value(node.left), self.value(node.right)
            if isinstance(left, str) and not _has_opaque(right):
                try:
                    return (
                        left + right
                        if isinstance(node.op, ast.Add)
                        else left % (tuple(right) if isinstance(right, list) else right)
                    )
                except (TypeError, ValueError):
                    pass
        return Opaque(ast.get_source_segment(self.source, node) or ast.dump(node))

    def run(self, body: list[ast.stmt]) -> None:
        """Execute the statements that matter: assignments, loops, ``addGroup`` calls."""
        for stmt in body:
            if isinstance(stmt, ast.Assign):
                value = self.value(stmt.value)
                for target in stmt.targets:
                    if isinstance(target, ast.Name):
                        self.env[target.id] = value
            elif isinstance(stmt, ast.For) and isinstance(stmt.target, ast.Name):
                items = self.value(stmt.iter)
                if isinstance(items, list):
                    for item in items:
                        self.env[stmt.target.id] = item
                        self.run(stmt.body)
            elif isinstance(stmt, ast.If):
                # Both branches run: --gen-answer-file on a multi-node setup
                # registers the RHEL groups, --allinone on CentOS does not;
                # the data file keeps them with the condition.
                test = ast.get_source_segment(self.source, stmt.test) or ast.dump(stmt.test)
                for guard, branch in ((test, stmt.body), (f"not ({test})", stmt.orelse)):
                    self.guards.append(guard)
                    self.run(branch)
                    self.guards.pop()
            elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
                self._call(stmt.value)

    def _call(self, call: ast.Call) -> None:
        func = call.func
        if not isinstance(func, ast.Attribute):
            return
        if func.attr in ("append", "extend") and isinstance(func.value, ast.Name) and len(call.args) == 1:
            target = self.env.get(func.value.id)
            if isinstance(target, list):
                item = self.value(call.args[0])
                for added in item if func.attr == "extend" and isinstance(item, list) else [item]:
                    if self.guards and isinstance(added, dict):
                        added[_GUARD] = " and ".join(self.guards)
                if func.attr == "append":
                    target.append(item)
                elif isinstance(item, list):
                    target.extend(item)
            return
        if func.attr != "addGroup":
            return
        if len(call.args) != 2:
            raise ExtractError(f"{self.plugin}: addGroup with {len(call.args)} arguments at line {call.lineno}")
        group = self.value(call.args[0])
        params = self.value(call.args[1])
        if not isinstance(group, dict) or not isinstance(params, list):
            raise ExtractError(f"{self.plugin}: cannot resolve the addGroup call at line {call.lineno}")
        self.groups.append(self._group(group, params, call.lineno))

    def _group(self, group: dict[str, Any], params: list[Any], lineno: int) -> Group:
        name = group.get("GROUP_NAME")
        if not isinstance(name, str):
            raise ExtractError(f"{self.plugin}: group without a literal GROUP_NAME at line {lineno}")
        condition = None
        pre, match = group.get("PRE_CONDITION"), _plain(group.get("PRE_CONDITION_MATCH"))
        if isinstance(pre, str):
            condition = {"key": pre, "match": match}
        elif isinstance(pre, Opaque) and not _ALWAYS_RE.match(pre.source):
            condition = {"expression": pre.source, "match": match}
        description = group.get("DESCRIPTION")
        out = Group(
            name,
            self.plugin,
            description.strip() if isinstance(description, str) else "",
            condition,
            group.get(_GUARD) or " and ".join(self.guards) or None,
        )
        for param in params:
            if not isinstance(param, dict) or not isinstance(param.get("CONF_NAME"), str):
                raise ExtractError(f"{self.plugin}: group {name} has a parameter that is not a literal dict")
            out.keys.append(self._key(param, name))
        return out

    def _key(self, param: dict[str, Any], group: str) -> Key:
        default = param.get("DEFAULT_VALUE")
        computed = None
        if isinstance(default, Opaque):
            computed, default = default.source, None
        options = param.get("OPTION_LIST") or []
        if not isinstance(options, list) or any(isinstance(item, Opaque) for item in options):
            raise ExtractError(f"{self.plugin}: {param['CONF_NAME']}: OPTION_LIST is not a literal list")
        return Key(
            name=param["CONF_NAME"],
            group=group,
            plugin=self.plugin,
            default=_plain(default),
            computed_default=computed,
            options=[str(item) for item in options],
            validators=_function_names(param.get("VALIDATORS")),
            processors=_function_names(param.get("PROCESSORS")),
            password=bool(param.get("MASK_INPUT")),
            deprecates=[str(item) for item in param.get("DEPRECATES") or []],
        )


def _has_opaque(value: Any) -> bool:
    if isinstance(value, list):
        return any(_has_opaque(item) for item in value)
    return isinstance(value, Opaque)


def _plain(value: Any) -> Any:
    """Data-file form of an evaluated value (no :class:`Opaque`)."""
    if isinstance(value, Opaque):
        return value.source
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _function_names(value: Any) -> list[str]:
    """``[validators.validate_options, ...]`` -> ``['validate_options', ...]``."""
    names = []
    for item in value or []:
        text = item.source if isinstance(item, Opaque) else str(item)
        names.append(text.rsplit(".", 1)[-1])
    return names


def _module_env(tree: ast.Module, source: str) -> dict[str, Any]:
    """Module-level constants (``DEMO_IMAGE_NAME = 'cirros'``) a plugin's defaults refer to."""
    reader = _InitConfigReader("", source, {})
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign):
            value = reader.value(stmt.value)
            for target in stmt.targets:
                if isinstance(target, ast.Name):
                    reader.env[target.id] = value
    return reader.env


def read_plugin(plugin: str, source: str) -> list[Group]:
    """The groups one plugin module adds, with their keys, in ``addGroup`` order."""
    with warnings.catch_warnings():  # Packstack's own regexes have invalid escapes; not ours to fix
        warnings.simplefilter("ignore", SyntaxWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        tree = ast.parse(source)
    for stmt in tree.body:
        if isinstance(stmt, ast.FunctionDef) and stmt.name == "initConfig":
            reader = _InitConfigReader(plugin, source, _module_env(tree, source))
            reader.run(stmt.body)
            return reader.groups
    return []


def read_usage(rst: str) -> dict[str, str]:
    """Usage text per key from ``docs/packstack.rst`` (first definition wins, as in Packstack)."""
    usage: dict[str, str] = {}
    lines = rst.splitlines()
    for number, line in enumerate(lines):
        match = RST_KEY_RE.match(line)
        if not match:
            continue
        paragraph = []
        for following in lines[number + 1 :]:
            if not following.startswith((" ", "\t")) or not following.strip():
                break
            paragraph.append(following.strip())
        usage.setdefault(match["key"], " ".join(paragraph))
    return usage


def _members(sdist: Path) -> dict[str, str]:
    """Text of the sdist's files, keyed by their path below the top directory."""
    texts: dict[str, str] = {}
    with tarfile.open(sdist) as archive:
        for member in archive.getmembers():
            if not member.isfile():
                continue
            relative = member.name.split("/", 1)[-1]
            if relative.startswith("packstack/plugins/") or relative in (
                "docs/packstack.rst",
                "Puppetfile",
                "PKG-INFO",
            ):
                handle = archive.extractfile(member)
                if handle is not None:
                    texts[relative] = handle.read().decode("utf-8-sig")
    return texts


def extract(sdist: Path) -> dict[str, Any]:
    """Read the sdist and return the data file's content."""
    texts = _members(sdist)
    version_match = re.search(r"^Version:\s*(\S+)", texts.get("PKG-INFO", ""), re.MULTILINE)
    if not version_match:
        raise ExtractError(f"{sdist}: no PKG-INFO Version; is this a packstack sdist?")
    plugins = []
    for path in texts:
        match = PLUGIN_RE.match(path)
        if match:
            plugins.append((int(match["number"]), match["name"], path))
    if not plugins:
        raise ExtractError(f"{sdist}: no packstack/plugins/*_NNN.py modules")
    usage = read_usage(texts.get("docs/packstack.rst", ""))
    groups: list[Group] = []
    for _number, name, path in sorted(plugins):
        groups.extend(read_plugin(name, texts[path]))
    seen: dict[str, str] = {}
    for group in groups:
        for key in group.keys:
            if key.name in seen:
                raise ExtractError(f"{key.name} is declared twice (groups {seen[key.name]} and {group.name})")
            seen[key.name] = group.name
            key.usage = usage.get(key.name, "")
    releases = sorted(set(PUPPETFILE_REF_RE.findall(texts.get("Puppetfile", ""))))
    return {
        "format": FORMAT_VERSION,
        "packstack_version": version_match[1],
        "openstack_release": releases[0] if len(releases) == 1 else None,
        "source": sdist.name,
        "sha256": hashlib.sha256(sdist.read_bytes()).hexdigest(),
        "groups": [
            {
                "name": group.name,
                "plugin": group.plugin,
                "description": group.description,
                "condition": group.condition,
                **({"registered_if": group.registered_if} if group.registered_if else {}),
            }
            for group in groups
        ],
        "keys": [key.as_data() for group in groups for key in group.keys],
    }


def download(version: str, dest: Path) -> Path:
    """``pip download`` the sdist of ``packstack==version`` into ``dest``."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--no-deps",
        "--no-binary",
        ":all:",
        f"packstack=={version}",
        "--dest",
        str(dest),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    found = sorted(dest.glob("packstack-*.tar.gz"))
    if not found:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise ExtractError(f"pip download packstack=={version} failed (rc {result.returncode}): {tail[0]}")
    return found[0]


class _Dumper(yaml.SafeDumper):
    """Block-style YAML that yamllint accepts (indented sequences, long strings folded)."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def write(data: dict[str, Any], out: Path) -> None:
    """Write the data file with a header saying where it came from."""
    header = (
        "---\n"
        f"# Packstack {data['packstack_version']} answer-file keys, generated by tools/packstack_keys.py\n"
        f"# from {data['source']} (PyPI); do not edit. Regenerate with:\n"
        f"#   python tools/packstack_keys.py --version {data['packstack_version']}\n"
    )
    body = yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=100, allow_unicode=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(header + body, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Command line: download (or take) an sdist, extract, write the data file."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--version", help="packstack version to download from PyPI, e.g. 21.0.1 (Zed) or 26.0.0")
    source.add_argument("--sdist", type=Path, help="a packstack sdist already downloaded")
    parser.add_argument(
        "--out",
        type=Path,
        help="data file to write (default: roles/deploy_packstack/files/packstack-keys-<version>.yml)",
    )
    args = parser.parse_args(argv)
    try:
        with tempfile.TemporaryDirectory(prefix="packstack-keys-") as tmp:
            sdist = args.sdist or download(args.version, Path(tmp))
            data = extract(sdist)
    except (ExtractError, OSError, tarfile.TarError, SyntaxError) as exc:
        print(f"packstack_keys: {exc}", file=sys.stderr)
        return 1
    out = args.out or DEFAULT_OUT_DIR / f"packstack-keys-{data['packstack_version']}.yml"
    write(data, out)
    print(f"{out}: {len(data['keys'])} keys in {len(data['groups'])} groups from packstack {data['packstack_version']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
