"""Turn the bytes of one package database file into data, or one line saying why not.

PyYAML does the parsing; this adds what rdoinfo files need on top of it:
the text must be UTF-8, a key given twice in one mapping is refused (PyYAML
silently keeps the last one), and aliases may not expand without bound (an
"alias bomb" is a few hundred bytes that expand to billions of nodes when
the data is copied or written out as JSON).
"""

from __future__ import annotations

import reprlib
from typing import Any

try:
    import yaml
except ImportError:  # reported by loader.load(), on the host that lacks it
    yaml = None  # type: ignore[assignment]
    _Base: type = object
else:
    try:  # the C parser is ~10x faster on the 1,400-package public database
        from yaml import CSafeLoader as _Base
    except ImportError:  # pragma: no cover - PyYAML without libyaml
        from yaml import SafeLoader as _Base  # type: ignore[assignment]

# Nodes that aliases may add on top of the ones written out. The public
# database uses no aliases at all; sharing a repos: list between a few
# releases adds a few hundred.
MAX_ALIAS_NODES = 100_000
_MERGE_TAG = "tag:yaml.org,2002:merge"
_STR_TAG = "tag:yaml.org,2002:str"

_show_repr = reprlib.Repr()
_show_repr.maxstring = 200
_show_repr.maxother = 200


def show(value: object) -> str:
    """A value quoted for a one-line message: escaped (no raw newline) and cut short."""
    return _show_repr.repr(value)


class Refused(Exception):
    """The file is not acceptable; ``line`` is 1-based or None."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


class _StrictLoader(_Base):  # type: ignore[misc,valid-type]
    """PyYAML's safe loader, refusing duplicate keys and alias bombs."""

    def get_single_data(self) -> Any:
        node = self.get_single_node()
        if node is None:
            return None
        if self._may_have_aliases:
            _check_alias_expansion(node)
        return self.construct_document(node)

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            _refuse_duplicate_keys(self, node)
        return super().construct_mapping(node, deep=deep)


def _refuse_duplicate_keys(loader: Any, node: Any) -> None:
    """Before flatten_mapping(): keys merged in with '<<' may be overridden."""
    # Plain string keys, nearly all of them, compare by their text; the
    # others as PyYAML constructs them (1 and 1.0 are the same key).
    keys = [key.value if key.tag == _STR_TAG else None for key, _value in node.value]
    if None not in keys and len(set(keys)) == len(keys):
        return
    seen: dict[Any, Any] = {}
    for key_node, _value in node.value:
        if key_node.tag == _MERGE_TAG or not isinstance(key_node, yaml.ScalarNode):
            continue
        key = key_node.value if key_node.tag == _STR_TAG else loader.construct_object(key_node)
        try:
            first = seen.setdefault(key, key_node)
        except TypeError:  # unhashable: PyYAML reports it
            continue
        if first is not key_node:
            raise Refused(
                f"key {show(key)} is given twice in one mapping (first on line {first.start_mark.line + 1}); keep one",
                key_node.start_mark.line + 1,
            )


def _children(node: Any) -> list[Any]:
    if isinstance(node, yaml.SequenceNode):
        return node.value
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _check_alias_expansion(root: Any) -> None:
    """Refuse recursive aliases and aliases adding more than MAX_ALIAS_NODES nodes.

    Counts the size of the tree the node graph stands for, each shared node
    once (iteratively: a document may nest up to libyaml's 1,000 levels).
    """
    sizes: dict[int, int] = {}
    active: set[int] = set()
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        ident = id(node)
        if done:
            active.discard(ident)
            sizes[ident] = 1 + sum(sizes[id(child)] for child in _children(node))
            continue
        if ident in sizes:
            continue
        if ident in active:  # started, not finished: an ancestor of itself
            raise Refused("an alias refers to a mapping or list it is part of (recursive alias); write it out", None)
        active.add(ident)
        stack.append((node, True))
        for child in _children(node):
            if id(child) in active:
                raise Refused(
                    "an alias refers to a mapping or list it is part of (recursive alias); write it out",
                    child.start_mark.line + 1,
                )
            if id(child) not in sizes:
                stack.append((child, False))
    extra = sizes[id(root)] - len(sizes)
    if extra > MAX_ALIAS_NODES:
        raise Refused(
            f"aliases (*name) expand to {extra} more values than are written out (at most "
            f"{MAX_ALIAS_NODES}); write the values out instead of repeating aliases"
        )


def decode(content: bytes) -> str:
    """The text of a file that must be UTF-8 (a UTF-8 byte order mark is allowed)."""
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = content.count(b"\n", 0, exc.start) + 1
        raise Refused(
            f"not UTF-8 text (byte 0x{content[exc.start]:02x} at offset {exc.start}); save the file as UTF-8",
            line,
        ) from None


def parse(text: str) -> Any:
    """The data of one YAML document, refusing duplicate keys and alias bombs."""
    loader = _StrictLoader(text)
    loader._may_have_aliases = "*" in text  # no '*', no alias: skip the walk on big files
    try:
        return loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        said = [getattr(exc, "context", None), getattr(exc, "problem", None)]
        problem = ", ".join(part for part in said if part) or str(exc).splitlines()[0]
        raise Refused(f"YAML syntax error: {' '.join(problem.split())}", mark.line + 1 if mark else None) from None
    except RecursionError:  # only the pure-Python parser recurses per level
        raise Refused("YAML nested too deeply; flatten it", None) from None
    finally:
        loader.dispose()
