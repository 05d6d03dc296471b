"""Pin the zed-libs example's releases: ``projects.yml`` → ``upstreams.json``.

Usage: ``python3 examples/zed-libs/pin_releases.py [--releases N]``

For every project of ``projects.yml`` it asks PyPI's JSON API which sdists
the project has and keeps the last ``N`` (default 3) final releases up to
its Zed version, oldest first, whose upload times grow with the version
(a later commit must not be older: pbr and DLRN order commits by time).
The result has the shape of ``examples/distro/upstreams.json`` (file name,
URL, sha256, size, upload time), so ``make_zed_libs.py`` imports it the way
the small example imports its own.

Run it by hand when the list changes; its output is committed, so the
example never asks PyPI which releases exist.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import yaml
from packaging.version import InvalidVersion, Version

HERE = Path(__file__).resolve().parent
TOP = HERE.parents[1]

PROJECTS = HERE / "projects.yml"
PINS = HERE / "upstreams.json"
FILES_HOST = "https://files.pythonhosted.org/"


def pypi_json(name: str) -> dict:
    """PyPI's JSON description of ``name`` (a few retries: the API answers 429/5xx under load)."""
    url = f"https://pypi.org/pypi/{urllib.parse.quote(name)}/json"
    error: OSError | None = None
    for attempt in range(5):
        try:
            with urllib.request.urlopen(url, timeout=60) as answer:
                return json.load(answer)
        except (urllib.error.URLError, OSError) as exc:
            error = exc
            time.sleep(2 * (attempt + 1))
    raise SystemExit(f"pin_releases: {url}: {error}")


def file_url(url: str) -> str:
    """The files.pythonhosted.org URL of a release file (some mirrors answer with a relative one)."""
    if url.startswith(FILES_HOST):
        return url
    return FILES_HOST + "packages/" + url.split("packages/packages/", 1)[-1].split("packages/", 1)[-1]


def releases(entry: dict, count: int) -> list[dict]:
    """The last ``count`` final sdist releases up to the Zed version, oldest first, upload times growing."""
    data = pypi_json(entry["pypi"])
    zed = Version(str(entry["zed"]))
    found = []
    for text, files in data["releases"].items():
        try:
            version = Version(text)
        except InvalidVersion:
            continue
        sdists = [f for f in files if f["packagetype"] == "sdist" and not f.get("yanked")]
        if version.is_prerelease or version > zed or len(sdists) != 1:
            continue
        found.append((version, text, sdists[0]))
    found.sort()
    if not found or found[-1][0] != zed:
        raise SystemExit(f"pin_releases: {entry['pypi']} has no sdist of its Zed version {zed} on PyPI")
    chosen: list[dict] = []
    for _version, text, sdist in reversed(found):
        upload = sdist["upload_time_iso_8601"].replace(".000000Z", "Z").split(".")[0].rstrip("Z") + "Z"
        if chosen and upload >= chosen[0]["upload_time"]:
            continue  # uploaded after a newer release (an older series' fix): not part of this history
        chosen.insert(
            0,
            {
                "version": text,
                "filename": sdist["filename"],
                "sha256": sdist["digests"]["sha256"],
                "size": sdist["size"],
                "upload_time": upload,
                "url": file_url(sdist["url"]),
            },
        )
        if len(chosen) == count:
            break
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--releases", type=int, default=3, help="releases per project (default 3)")
    args = parser.parse_args(argv)
    config = yaml.safe_load(PROJECTS.read_text())
    pins = []
    for entry in config["projects"]:
        pins.append(
            {
                "project": entry["project"],
                "repo": entry["repo"],
                "pypi": entry["pypi"],
                "releases": releases(entry, args.releases),
            }
        )
        print(f"{entry['project']}: {', '.join(r['version'] for r in pins[-1]['releases'])}", flush=True)
    comment = (
        "The zed-libs example's releases (pin_releases.py from projects.yml): sdists from PyPI, "
        "pinned by sha256; upload_time dates each commit."
    )
    PINS.write_text(json.dumps({"_comment": comment, "projects": pins}, indent=2) + "\n")
    print(f"wrote {PINS.relative_to(TOP)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
