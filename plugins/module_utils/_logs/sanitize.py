"""Replace secrets in text with ``***``, driven by patterns given as data.

Two kinds of pattern (see ``roles/logs_collect/vars/secret_patterns.yml``):

- ``regex`` + ``replace``: a regular expression substituted everywhere,
  ``replace`` using ``\\g<name>`` back-references to keep the harmless part
  (the key, the ``=``, the URL's user);
- ``begin`` + ``end``: a block (a PEM private key) replaced whole by its
  first and last line around ``***``.  A block cut by truncation is still
  replaced: a ``begin`` without ``end`` runs to the end of the text, an
  ``end`` without ``begin`` from the start.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, List, Optional, Tuple

from .._common.errors import InputError

MASK = "***"


@dataclass(frozen=True)
class SecretPattern:
    """One compiled pattern; ``begin``/``end`` set for block patterns."""

    name: str
    regex: Optional[re.Pattern] = None
    replace: str = ""
    begin: Optional[re.Pattern] = None
    end: Optional[re.Pattern] = None

    def apply(self, text: str) -> Tuple[str, int]:
        """Return the text with this pattern's secrets masked and how many were masked."""
        if self.regex is not None:
            return self.regex.subn(self.replace, text)
        return _mask_blocks(text, self.begin, self.end)


def _mask_blocks(text: str, begin: re.Pattern, end: re.Pattern) -> Tuple[str, int]:
    out: List[str] = []
    count = 0
    pos = 0
    first_begin = begin.search(text)
    first_end = end.search(text)
    # Truncation kept the tail of a block only: mask from the start up to its end.
    if first_end is not None and (first_begin is None or first_end.start() < first_begin.start()):
        out.append(f"{MASK}\n{first_end.group(0)}")
        pos = first_end.end()
        count += 1
    while True:
        start = begin.search(text, pos)
        if start is None:
            out.append(text[pos:])
            break
        out.append(text[pos : start.start()])
        stop = end.search(text, start.end())
        count += 1
        if stop is None:
            # Truncation cut the block: mask to the end.
            out.append(f"{start.group(0)}\n{MASK}\n")
            break
        out.append(f"{start.group(0)}\n{MASK}\n{stop.group(0)}")
        pos = stop.end()
    return "".join(out), count


def compile_patterns(entries: Iterable[Any], source: str = "patterns") -> List[SecretPattern]:
    """Compile pattern entries (dicts from YAML); errors name the entry and the field."""
    patterns = []
    for index, entry in enumerate(entries):
        where = f"{source}[{index}]"
        if not isinstance(entry, dict):
            raise InputError(f"{where}: expected a mapping with name and regex/replace or begin/end, got {entry!r}")
        name = str(entry.get("name") or where)
        flags = 0
        for flag in entry.get("flags", []) or []:
            if flag not in ("IGNORECASE", "MULTILINE", "DOTALL"):
                raise InputError(f"{where} ({name}): flags: {flag!r} is not one of IGNORECASE, MULTILINE, DOTALL")
            flags |= getattr(re, flag)
        try:
            if "regex" in entry:
                if "begin" in entry or "end" in entry:
                    raise InputError(f"{where} ({name}): give either regex/replace or begin/end, not both")
                patterns.append(
                    SecretPattern(name, regex=re.compile(entry["regex"], flags), replace=entry.get("replace", MASK))
                )
            elif "begin" in entry and "end" in entry:
                patterns.append(
                    SecretPattern(name, begin=re.compile(entry["begin"], flags), end=re.compile(entry["end"], flags))
                )
            else:
                raise InputError(f"{where} ({name}): give regex (and replace) or begin and end")
        except re.error as exc:
            raise InputError(f"{where} ({name}): invalid regular expression: {exc}") from exc
    return patterns


def sanitize(text: str, patterns: Iterable[SecretPattern]) -> Tuple[str, int]:
    """Mask every secret the patterns find; return the new text and the number of masks applied."""
    total = 0
    for pattern in patterns:
        text, count = pattern.apply(text)
        total += count
    return text, total
