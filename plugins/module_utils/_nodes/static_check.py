"""Is each static host ready: reachable, with Python 3, able to become root?

The role probes every host with two ``raw`` tasks (they need no Python on
the host) and hands the registered loop results here; this turns them into
one line per host that is not ready, after all hosts were probed, so a
user fixes every host in one go instead of one per run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

FIX_REACH = "fix its address, port, user or key in the inventory (ansible_host, ansible_port, ansible_user)"
FIX_PYTHON = "install python3 on it or point ansible_python_interpreter at a Python 3"
FIX_BECOME = "let its user run sudo without a password or give ansible_become_password"


@dataclass
class HostReadiness:
    """What one static host lacks."""

    name: str
    address: str
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        return f"node_provision_nodes: static host '{self.name}' ({self.address}) is not ready: " + "; ".join(
            self.problems
        )


def _lines(text: Any) -> list[str]:
    return [line.strip().removeprefix("Task failed: ") for line in str(text or "").splitlines() if line.strip()]


def _first_line(*texts: Any) -> str:
    for text in texts:
        lines = _lines(text)
        if lines:
            return lines[0]
    return "no output"


def _reason(msg: Any) -> str:
    """Why a host is unreachable: ssh puts its warnings first and the cause last."""
    lines = _lines(msg)
    return lines[-1] if lines else "no reason given"


def _python_ok(result: Mapping[str, Any]) -> bool:
    return result.get("rc") == 0 and str(result.get("stdout", "")).strip().splitlines()[-1:] == ["3"]


def _become_ok(result: Mapping[str, Any]) -> bool:
    return result.get("rc") == 0 and str(result.get("stdout", "")).strip().splitlines()[-1:] == ["0"]


def static_problems(
    python_results: Iterable[Mapping[str, Any]],
    become_results: Iterable[Mapping[str, Any]],
    addresses: Mapping[str, Any] | None = None,
) -> list[str]:
    """One line per host that is not ready, in the order of the node list.

    ``python_results``: a loop over the plan running ``python3 -c 'print(3)'``-like
    probes (``item`` is the plan entry, ``ansible_host`` the address reached).
    ``become_results``: a loop over those results running ``id -u`` with
    become, skipped for unreachable hosts. ``addresses``: where each host was
    reached (the inventory's address for hosts given without one).
    """
    addresses = addresses or {}
    become_by_name = {}
    for result in become_results:
        item = result.get("item") or {}
        name = (item.get("item") or {}).get("name")
        if name and not result.get("skipped"):
            become_by_name[name] = result
    lines = []
    for result in python_results:
        item = result.get("item") or {}
        name = str(item.get("name", "?"))
        host = HostReadiness(name=name, address=str(addresses.get(name) or item.get("ip") or name))
        if result.get("unreachable"):
            host.problems.append(f"unreachable ({_reason(result.get('msg'))}) - {FIX_REACH}")
        else:
            if not _python_ok(result):
                output = _first_line(result.get("stdout"), result.get("stderr"), result.get("msg"))
                host.problems.append(f"no Python 3 ({output}) - {FIX_PYTHON}")
            become = become_by_name.get(name)
            if become is None:
                host.problems.append(f"become was not tried - {FIX_BECOME}")
            elif become.get("unreachable"):
                host.problems.append(
                    f"unreachable while becoming root ({_first_line(become.get('msg'))}) - {FIX_REACH}"
                )
            elif not _become_ok(become):
                output = _first_line(become.get("msg") if become.get("rc") is None else "", become.get("stdout"))
                host.problems.append(f"cannot become root ({output}) - {FIX_BECOME}")
        if host.problems:
            lines.append(host.line())
    return lines
