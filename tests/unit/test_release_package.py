"""distroforge-release-<release>: built reproducibly, installs the repository configuration and key, and a
node with nothing else configured reads the signed repository through it (and refuses one signed otherwise).

DEB: installed with ``dpkg --root``; ``apt-get update`` runs in a bubblewrap
namespace where the node's ``/etc/apt``, ``/usr/share/keyrings`` and apt's
state are that root's. RPM: ``rpm -qlp``, then ``dnf --installroot``
installs it and, through the ``.repo`` it installed, a package from the
served repository with ``gpgcheck=1`` and ``repo_gpgcheck=1``.
The full scenario001 + Tempest from the release package on a fresh podman node: playbooks/release_install.yml
(the slow lane's release day).
"""

from __future__ import annotations

import functools
import http.server
import json
import re
import shutil
import subprocess
import threading
from pathlib import Path

import pytest
import yaml

from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import InputError
from ansible_collections.distroforge.openstack.plugins.module_utils._publish import debrepo, rpmrepo
from ansible_collections.distroforge.openstack.plugins.module_utils._publish.signing import Signer
from ansible_collections.distroforge.openstack.plugins.module_utils._release import release_package as rp

from .ansible_run import run_playbook
from .pkgfactory import build_deb, build_rpm, make_signing_key, stop_gpg_agent

pytestmark = pytest.mark.slow
BASEURL = "http://127.0.0.1:8088/repos/zed/release"


@pytest.fixture(scope="module")
def signers(tmp_path_factory):
    """Two signing keys: the repository's, and another one."""
    found = {}
    for name in ("good", "other"):
        home = tmp_path_factory.mktemp(f"gnupg-{name}")
        found[name] = Signer(home, make_signing_key(home))
    yield found
    for signer in found.values():
        stop_gpg_agent(signer.home)


@pytest.fixture(scope="module")
def key(signers) -> bytes:
    return signers["good"].public_key(armor=True)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def serve():
    """Serve directories over HTTP on loopback; yields a function giving the base URL of one."""
    servers = []

    def start(directory: Path) -> str:
        handler = functools.partial(_Quiet, directory=str(directory))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def deb_repo(workdir: Path, signer: Signer) -> Path:
    """A flat repository of one package, signed as repo_publish signs it (InRelease, Release.gpg)."""
    repo = workdir / "deb-repo"
    repo.mkdir()
    shutil.copy2(build_deb(workdir, "python3-alpha", "1.0-1"), repo)
    # as a published release stage says it (release_stage publish): what the package's pin matches
    debrepo.write_deb_metadata(repo, origin="distroforge", label="distroforge", suite="zed-release")
    signer.clearsign(repo / "Release", repo / "InRelease")
    signer.detach_sign(repo / "Release", armor=False, output=repo / "Release.gpg")
    return repo


def rpm_repo(workdir: Path, signer: Signer) -> Path:
    """An RPM repository of one signed package with a signed repomd.xml."""
    repo = workdir / "rpm-repo"
    repo.mkdir()
    for path in build_rpm(workdir, "python3-alpha"):
        if not path.name.endswith(".src.rpm"):
            shutil.copy2(path, repo)
    signer.sign_rpms(sorted(repo.glob("*.rpm")))
    rpmrepo.write_rpm_metadata(repo, cache_dir=None)
    signer.detach_sign(repo / "repodata" / "repomd.xml")
    return repo


def build(key: bytes, fmt: str, baseurl: str = BASEURL, **kwargs) -> rp.Built:
    return rp.build(rp.ReleasePackage(release="zed", baseurl=baseurl, key=key, fmt=fmt, **kwargs))


# -- building -------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["deb", "rpm"])
def test_the_same_inputs_give_the_same_bytes_and_others_do_not(key, fmt, monkeypatch):
    first = build(key, fmt)
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")  # another host's clock setting changes nothing
    again = build(key, fmt)
    assert first.data == again.data and first.file_name == again.file_name
    assert build(key, fmt, baseurl=BASEURL + "/other").data != first.data
    assert build(key, fmt, source_date_epoch=1_700_000_000).data != first.data


def test_the_deb_holds_the_sources_and_the_keyring(key, signers, tmp_path):
    built = build(key, "deb")
    assert built.file_name == "distroforge-release-zed_1-1_all.deb"
    package = tmp_path / built.file_name
    package.write_bytes(built.data)
    listing = subprocess.run(["dpkg-deb", "-c", str(package)], check=True, capture_output=True, text=True).stdout
    assert "./etc/apt/sources.list.d/distroforge-zed.sources" in listing
    assert "./usr/share/keyrings/distroforge-zed-archive-keyring.gpg" in listing
    assert "./etc/apt/preferences.d/distroforge-zed.pref" in listing
    assert all(" root/root " in line for line in listing.splitlines())
    conffiles = subprocess.run(
        ["dpkg-deb", "-f", str(package), "Package", "Version", "Architecture"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert conffiles.split() == ["Package:", "distroforge-release-zed", "Version:", "1-1", "Architecture:", "all"]
    assert list(built.fingerprints) == [signers["good"].fingerprint]
    unpinned = build(key, "deb", priority=0)
    assert "/etc/apt/preferences.d/distroforge-zed.pref" not in unpinned.files and len(unpinned.files) == 2


def test_the_rpm_holds_the_repo_file_and_the_key(key, tmp_path):
    built = build(key, "rpm")
    assert built.file_name == "distroforge-release-zed-1-1.noarch.rpm"
    package = tmp_path / built.file_name
    package.write_bytes(built.data)
    listing = subprocess.run(["rpm", "-qlp", str(package)], check=True, capture_output=True, text=True).stdout
    assert listing.split() == ["/etc/pki/rpm-gpg/RPM-GPG-KEY-distroforge-zed", "/etc/yum.repos.d/distroforge-zed.repo"]
    configs = subprocess.run(["rpm", "-qcp", str(package)], check=True, capture_output=True, text=True).stdout
    assert configs.split() == ["/etc/yum.repos.d/distroforge-zed.repo"]


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("release", "Zed Release", r"^release: 'Zed Release' is not valid here"),
        ("baseurl", "http://x/ y", r"^baseurl: .* is not valid here"),
        ("baseurl", "http://x/\n[evil]\ngpgcheck=0", r"^baseurl: .* is not valid here"),
        ("baseurl", "ftp://x/", r"^baseurl: .* is not valid here"),
        ("version", "1-2", r"^version: '1-2' is not valid here"),
        ("revision", "1-2", r"^revision: '1-2' is not valid here"),
        ("reponame", "../etc", r"^reponame: '../etc' is not valid here"),
        ("maintainer", "nobody", r"^maintainer: 'nobody' is not valid here"),
        ("fmt", "tar", r"^format: 'tar' is not one of deb, rpm"),
        ("key", b"not a key", r"^key: give the ASCII-armored public key"),
        ("key", b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nAAAA\n-----END PGP PUBLIC KEY BLOCK-----\n", r"^key: "),
        ("source_date_epoch", -1, r"^source_date_epoch: -1 is negative"),
        ("origin", "distro forge", r"^origin: 'distro forge' is not valid here"),
        ("suite", "zed,o=evil", r"^suite: 'zed,o=evil' is not valid here"),
        ("priority", -1, r"^priority: -1 is not an apt pin priority"),
    ],
)
def test_bad_input_is_refused_in_one_line_naming_the_field(key, field, value, expected):
    fields = {"release": "zed", "baseurl": BASEURL, "key": key, "fmt": "deb", field: value}
    with pytest.raises(InputError, match=expected) as caught:
        rp.build(rp.ReleasePackage(**fields))
    assert "\n" not in str(caught.value)


# -- installing and using it ----------------------------------------------------------------------


def _apt_root(root: Path) -> None:
    """A node's dpkg and apt state with nothing installed or configured."""
    for sub in ("var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/apt/lists/partial",
                "var/cache/apt/archives/partial", "etc/apt/sources.list.d", "etc/apt/apt.conf.d",
                "etc/apt/preferences.d", "etc/apt/trusted.gpg.d", "usr/share/keyrings"):  # fmt: skip
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "var/lib/dpkg/status").touch()


def _in_node(root: Path, *argv: str) -> subprocess.CompletedProcess:
    """Run apt with the node root's /etc/apt, keyrings and apt state (the rest of the host read-only)."""
    binds = []
    for sub in ("etc/apt", "usr/share/keyrings", "var/lib/apt", "var/cache/apt"):
        binds += ["--bind", str(root / sub), f"/{sub}"]
    return subprocess.run(
        [
            "bwrap",
            "--ro-bind",
            "/",
            "/",
            *binds,
            "--dev",
            "/dev",
            "--proc",
            "/proc",
            "--perms",
            "1777",
            "--tmpfs",
            "/tmp",
            *argv,
        ],
        capture_output=True,
        text=True,
        check=False,
    )


def test_a_node_with_only_the_deb_verifies_and_reads_the_repository(signers, key, serve, tmp_path):
    url = serve(deb_repo(tmp_path, signers["good"]))
    built = build(key, "deb", baseurl=url)
    package = tmp_path / built.file_name
    package.write_bytes(built.data)
    root = tmp_path / "node"
    _apt_root(root)
    subprocess.run(["dpkg", f"--root={root}", "--log=/dev/null", "-i", str(package)], check=True, capture_output=True)
    sources = (root / "etc/apt/sources.list.d/distroforge-zed.sources").read_text()
    assert f"URIs: {url}/\n" in sources and "Suites: ./\n" in sources
    assert "Signed-By: /usr/share/keyrings/distroforge-zed-archive-keyring.gpg\n" in sources
    keyring = root / "usr/share/keyrings/distroforge-zed-archive-keyring.gpg"
    assert keyring.read_bytes() == signers["good"].public_key(armor=False)
    update = _in_node(root, "apt-get", "update")
    assert update.returncode == 0 and "W:" not in update.stdout + update.stderr, update.stdout + update.stderr
    policy = _in_node(root, "apt-cache", "policy", "python3-alpha")
    assert "Candidate: 1.0-1" in policy.stdout and url in policy.stdout, policy.stdout
    # pinned above the base distribution (500), so its versions win where the base's are higher
    assert re.search(rf"(?m)^\s+1001 {re.escape(url)} \./ Packages$", policy.stdout), policy.stdout


def test_a_node_with_only_the_deb_refuses_a_repository_signed_by_another_key(signers, key, serve, tmp_path):
    url = serve(deb_repo(tmp_path, signers["other"]))
    package = tmp_path / "release.deb"
    package.write_bytes(build(key, "deb", baseurl=url).data)
    root = tmp_path / "node"
    _apt_root(root)
    subprocess.run(["dpkg", f"--root={root}", "--log=/dev/null", "-i", str(package)], check=True, capture_output=True)
    update = _in_node(root, "apt-get", "update")
    assert update.returncode != 0 and "NO_PUBKEY" in update.stdout + update.stderr, update.stdout + update.stderr
    assert _in_node(root, "apt-cache", "show", "python3-alpha").returncode != 0, "apt took the unverified index"


def _dnf(root: Path, *argv: str) -> subprocess.CompletedProcess:
    """dnf on the node root, seeing that root's /etc/pki as /etc/pki (gpgkey=file:///etc/pki/... as on a node)."""
    (root / "etc/pki").mkdir(parents=True, exist_ok=True)
    isolate = [
        "bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "--tmpfs", "/etc",
        "--ro-bind", "/etc/ld.so.cache", "/etc/ld.so.cache", "--ro-bind", "/etc/dnf", "/etc/dnf",
        "--bind", str(root / "etc/pki"), "/etc/pki", "--bind", str(root), str(root),
    ]  # fmt: skip
    return subprocess.run(
        [*isolate, "dnf", "--installroot", str(root), "--releasever", "1", "--disableplugin=local", "-y", *argv],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize("signed_by", ["good", "other"])
def test_a_node_with_only_the_rpm_installs_from_the_repository_when_its_signature_verifies(
    signers, key, serve, tmp_path, signed_by
):
    url = serve(rpm_repo(tmp_path, signers[signed_by]))
    root = tmp_path / "node"
    package = root / "root" / "distroforge-release-zed-1-1.noarch.rpm"  # downloaded on the node
    package.parent.mkdir(parents=True)
    package.write_bytes(build(key, "rpm", baseurl=url).data)
    # The release package itself comes from a URL or a file the admin trusts (as rdo-release does).
    first = _dnf(root, "--setopt=reposdir=", "--nogpgcheck", "install", str(package))
    assert first.returncode == 0, first.stdout + first.stderr
    repo_file = (root / "etc/yum.repos.d/distroforge-zed.repo").read_text()
    assert "gpgcheck=1\n" in repo_file and "repo_gpgcheck=1\n" in repo_file and f"baseurl={url}/\n" in repo_file
    assert (root / "etc/pki/rpm-gpg/RPM-GPG-KEY-distroforge-zed").read_bytes() == key
    # From here on only what the package installed: the node's own reposdir, its .repo and key.
    second = _dnf(root, "install", "python3-alpha")
    if signed_by == "good":
        assert second.returncode == 0, second.stdout + second.stderr
        assert (root / "usr/share/python3-alpha/VERSION").read_text() == "python3-alpha-1.0\n"
    else:
        assert second.returncode != 0, second.stdout
        assert "GPG" in second.stdout + second.stderr, second.stdout + second.stderr
        assert not (root / "usr/share/python3-alpha").exists()


def test_the_module_and_role_are_idempotent_and_check_mode_writes_nothing(key, tmp_path):
    (tmp_path / "key.asc").write_bytes(key)
    out = tmp_path / "out"
    out.mkdir()
    calls = [
        {"release": "zed", "baseurl": BASEURL, "key_src": str(tmp_path / "key.asc"), "format": fmt, "dest": str(out)}
        for fmt in ("deb", "rpm")
    ]
    build_task = {"distroforge.openstack.release_package": "{{ item }}", "loop": "{{ calls }}"}
    tasks = [
        {"name": "Build in check mode", **build_task, "check_mode": True, "register": "checked"},
        {"name": "List what check mode left", "ansible.builtin.find": {"paths": str(out)}, "register": "left"},
        {"name": "Build", **build_task, "register": "first"},
        {
            "name": "Build them with the role",
            "ansible.builtin.include_role": {"name": "distroforge.openstack.release_package_build"},
            "vars": {
                "release_package_build_release": "zed",
                "release_package_build_baseurl": BASEURL,
                "release_package_build_key_src": str(tmp_path / "key.asc"),
                "release_package_build_dest": str(out),
            },
        },
        {
            "name": "Save",
            "ansible.builtin.copy": {
                "content": "{{ [checked, left, first, release_package_build_results] | to_json }}",
                "dest": "{{ dest }}",
            },
        },
    ]
    playbook = tmp_path / "release.yml"
    playbook.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]))
    run_playbook(playbook, {"calls": calls, "dest": str(tmp_path / "out.json")})
    checked, left, first, role = json.loads((tmp_path / "out.json").read_text())
    assert left["files"] == [], "check mode wrote"
    # check mode: would write; first run: writes; the role's run on the same inputs: same bytes, nothing to do
    assert [item["changed"] for run in (checked, first, role) for item in run["results"]] == [
        True, True, True, True, False, False,
    ]  # fmt: skip
    assert sorted(path.name for path in out.iterdir()) == [
        "distroforge-release-zed-1-1.noarch.rpm",
        "distroforge-release-zed_1-1_all.deb",
    ]
    assert checked["results"][1]["sha256"] == first["results"][1]["sha256"] == role["results"][1]["sha256"]
