"""The ``index.html`` of one node's collected logs: every file with its sizes and what was cut."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from .stage import Limits, Stage

STYLE = (
    "body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}"
    "td,th{padding:.2em .6em;border-bottom:1px solid #ddd;text-align:left}"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}.cut{color:#a40}"
)


def human(size: int) -> str:
    """Bytes as a short human size (``1.5 MiB``)."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover


def render(title: str, stage: Stage, limits: Limits) -> str:
    """Render the listing; links are relative, so the directory can be served or browsed anywhere."""
    esc = html.escape
    rows = []
    for item in sorted(stage.files, key=lambda f: f.dest):
        notes = []
        if item.redactions:
            notes.append(f"{item.redactions} secret(s) masked")
        if item.cut_bytes:
            notes.append(f'<span class="cut">{item.cut_bytes} bytes cut ({esc(item.cut_reason)})</span>')
        if item.gzipped:
            notes.append("gzipped")
        if item.rc:
            notes.append(f"exit status {item.rc}")
        rows.append(
            f'<tr><td><a href="{esc(item.dest, quote=True)}">{esc(item.dest)}</a></td>'
            f'<td>{esc(item.src)}</td><td class="n">{human(item.size)}</td>'
            f'<td class="n">{human(item.stored_size)}</td><td>{"; ".join(notes)}</td></tr>'
        )
    skipped = "".join(f"<li>{esc(s.src)}: {esc(s.reason)}</li>" for s in stage.skipped)
    caps = (
        f"per-file cap {human(limits.max_file_size) if limits.max_file_size else 'none'}, "
        f"total cap {human(limits.max_total_size) if limits.max_total_size else 'none'}, "
        f"gzip above {human(limits.gzip_above) if limits.gzip_above else 'never'}"
    )
    return (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{esc(title)}</title>'
        f"<style>{STYLE}</style></head><body>\n<h1>{esc(title)}</h1>\n"
        f"<p>{len(stage.files)} files, {human(stage.total_size)} of text "
        f"({human(sum(f.stored_size for f in stage.files))} stored); {caps}. "
        "Secrets are masked with <code>***</code> on the node before anything is fetched.</p>\n"
        "<table><thead><tr><th>file</th><th>source</th><th>size</th><th>stored</th><th>notes</th></tr></thead>"
        f"<tbody>\n{chr(10).join(rows)}\n</tbody></table>\n"
        + (f"<h2>Not collected</h2><ul>{skipped}</ul>\n" if skipped else "")
        + "</body></html>\n"
    )
