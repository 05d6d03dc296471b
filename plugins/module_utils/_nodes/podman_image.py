"""Build test-node images locally: mmdebstrap a rootfs, ``podman import`` it.

No registry is reachable from our CI machines, so node images come from the
Debian mirror.  The image tag carries a hash of every input that shapes the
rootfs; an image whose tag exists is never rebuilt, and changing any input
gives a new tag.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Sequence

from .._common.errors import CommandError, InputError
from .._common.files import sha256_file
from .._common.proc import run

# apt's words for a mirror that failed this time but may answer the next: such an
# mmdebstrap run is tried again (MMDEBSTRAP_ATTEMPTS in all), a wrong mirror URL or
# package name is not.
TRANSIENT_FETCH = re.compile(
    r"Failed to fetch|Temporary failure|Could not connect|Connection (?:failed|timed out|reset)"
    r"|Hash Sum mismatch|Undetermined Error|Unable to fetch some archives"
)
MMDEBSTRAP_ATTEMPTS = 3
RETRY_DELAY = 10.0

# Bump when the way images are made changes (hooks, import options), so that
# every cached image is rebuilt once.
RECIPE_VERSION = 3


# Where an image's Debian comes from: node_image and vm_image take these options (documented once by the
# distroforge.openstack.debian_image doc fragment; tests/unit/test_doc_fragments.py keeps the two equal).
DEBIAN_IMAGE_OPTIONS: Dict[str, Dict[str, Any]] = {
    "suite": {"type": "str", "default": "bookworm"},
    "mirror": {"type": "str", "default": "http://deb.debian.org/debian"},
    "variant": {"type": "str", "default": "minbase"},
    "components": {"type": "list", "elements": "str", "default": ["main"]},
}


@dataclass(frozen=True)
class ImageSpec:
    """Inputs of one node image."""

    name: str
    suite: str = "bookworm"
    mirror: str = "http://deb.debian.org/debian"
    variant: str = "minbase"
    packages: Sequence[str] = field(default_factory=tuple)
    components: Sequence[str] = ("main",)
    # PEM files (on the controller) the nodes trust besides Debian's CAs.
    ca_certificates: Sequence[str] = field(default_factory=tuple)

    def validate(self, where: str) -> None:
        """Raise InputError naming ``where`` and the bad field."""
        if not self.name.replace("-", "").replace("_", "").isalnum():
            raise InputError(f"{where}: image name '{self.name}' must use only letters, digits, '-' and '_'")
        if not self.mirror.startswith(("http://", "https://", "file://")):
            raise InputError(f"{where}.mirror: '{self.mirror}' is not an http(s):// or file:// URL")
        if self.variant not in (
            "extract",
            "custom",
            "essential",
            "apt",
            "required",
            "minbase",
            "buildd",
            "important",
            "debootstrap",
            "standard",
        ):
            raise InputError(f"{where}.variant: '{self.variant}' is not an mmdebstrap variant (use minbase)")
        if not self.suite:
            raise InputError(f"{where}.suite: must name a Debian suite such as bookworm")
        for path in self.ca_certificates:
            if not os.path.isfile(path):
                raise InputError(f"{where}.ca_certificates: {path} is not a file; give PEM CA certificates")
            with open(path, "rb") as handle:
                if b"-----BEGIN CERTIFICATE-----" not in handle.read():
                    raise InputError(f"{where}.ca_certificates: {path} holds no PEM certificate")

    def inputs_hash(self) -> str:
        """Hash of everything that shapes the rootfs."""
        data = asdict(self)
        data.pop("name")
        data["packages"] = sorted(set(self.packages))
        data["components"] = list(self.components)
        # the certificates' content, not their paths, shapes the image
        data["ca_certificates"] = sorted(sha256_file(path) for path in self.ca_certificates)
        data["recipe"] = RECIPE_VERSION
        blob = json.dumps(data, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()

    @property
    def reference(self) -> str:
        """The local image reference ``localhost/distroforge/<name>:<hash12>``."""
        return f"localhost/distroforge/{self.name}:{self.inputs_hash()[:12]}"


def image_exists(reference: str) -> bool:
    """True when podman has ``reference`` locally."""
    return run(["podman", "image", "exists", reference], check=False).rc == 0


def mmdebstrap_argv(spec: ImageSpec, target: str) -> list[str]:
    """The mmdebstrap command line that writes ``spec``'s rootfs to ``target``."""
    argv = [
        "mmdebstrap",
        # Not --quiet: apt's "E: Failed to fetch" line is the root cause users need.
        f"--variant={spec.variant}",
        f"--components={','.join(spec.components)}",
        # An image is data, not a machine: no machine-id, no apt lists.
        '--customize-hook=rm -f "$1/etc/machine-id"; touch "$1/etc/machine-id"',
        # No apt lists either, and an update stamp from 1970: Ansible's apt
        # cache_valid_time reads that stamp (else the lists directory's mtime, which
        # mmdebstrap's own cleanup sets to the build time after every hook), so a
        # node made within the hour would otherwise never update its empty index.
        '--customize-hook=rm -rf "$1"/var/lib/apt/lists/*; mkdir -p "$1"/var/lib/apt/periodic;'
        ' touch -d @0 "$1"/var/lib/apt/periodic/update-success-stamp',
    ]
    packages = sorted(set(spec.packages))
    if packages:
        argv.append(f"--include={','.join(packages)}")
    if spec.ca_certificates:
        # update-ca-certificates only reads *.crt; the names keep their order stable.
        argv.append('--customize-hook=mkdir -p "$1/usr/local/share/ca-certificates/distroforge"')
        for index, path in enumerate(sorted(spec.ca_certificates)):
            argv.append(f"--customize-hook=copy-in {shlex.quote(path)} /usr/local/share/ca-certificates/distroforge/")
            name = os.path.basename(path)
            installed = f"{index:02d}-{os.path.splitext(name)[0]}.crt"
            argv.append(
                '--customize-hook=mv "$1/usr/local/share/ca-certificates/distroforge/'
                f'{name}" "$1/usr/local/share/ca-certificates/distroforge/{installed}"'
            )
        argv.append('--customize-hook=chroot "$1" update-ca-certificates --fresh')
    argv += [spec.suite, target, spec.mirror]
    return argv


def build(spec: ImageSpec, cache_dir: str, *, timeout: float = 900, check_mode: bool = False) -> dict[str, object]:
    """Make sure ``spec``'s image exists; build it when it does not.

    Returns ``changed``, ``image`` (reference), ``inputs_hash`` and, when
    built, ``duration``.  A failed build leaves no partial tarball or image.
    """
    reference = spec.reference
    result: dict[str, object] = {"image": reference, "inputs_hash": spec.inputs_hash(), "changed": False}
    if image_exists(reference):
        return result
    result["changed"] = True
    if check_mode:
        return result
    started = time.monotonic()
    cache = Path(cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{spec.name}-", dir=cache) as tmp:
        tarball = os.path.join(tmp, "rootfs.tar")
        _mmdebstrap(spec, tarball, timeout)
        run(
            [
                "podman",
                "import",
                "--change",
                "CMD=/sbin/init",
                "--change",
                "STOPSIGNAL=SIGRTMIN+3",
                "--message",
                f"distroforge {spec.name} {spec.suite} {spec.inputs_hash()[:12]}",
                tarball,
                reference,
            ],
            timeout=timeout,
            what=f"podman import of image '{spec.name}'",
        )
    result["duration"] = round(time.monotonic() - started, 1)
    return result


def _mmdebstrap(spec: ImageSpec, tarball: str, timeout: float) -> None:
    """mmdebstrap ``spec``'s rootfs into ``tarball``."""

    def reset() -> None:
        if os.path.exists(tarball):
            os.unlink(tarball)

    run_mmdebstrap(
        mmdebstrap_argv(spec, tarball),
        what=f"node image '{spec.name}': mmdebstrap from {spec.mirror} "
        "(check the mirror URL and that this host reaches it)",
        timeout=timeout,
        reset=reset,
    )


def run_mmdebstrap(argv: list[str], *, what: str, timeout: float, reset: Callable[[], None]) -> None:
    """Run mmdebstrap, again (up to MMDEBSTRAP_ATTEMPTS) while apt's failure reads transient.

    ``reset`` removes what a failed attempt left at the target before the next one.
    """
    for attempt in range(1, MMDEBSTRAP_ATTEMPTS + 1):
        try:
            run(argv, timeout=timeout, what=what)
            return
        except CommandError as exc:
            said = f"{exc} {exc.details.get('stderr_tail', '')} {exc.details.get('stdout_tail', '')}"
            if attempt == MMDEBSTRAP_ATTEMPTS or not TRANSIENT_FETCH.search(said):
                if attempt > 1:
                    raise CommandError(f"{exc} (after {attempt} attempts)", **exc.details) from exc
                raise
            reset()
            time.sleep(RETRY_DELAY * attempt)
