"""tempest_run gives python-tempestconf an image that needs no Internet access.

python-tempestconf finds Tempest's two images in Glance by the file name of ``--image`` or uploads
that file, downloading it first when it is a URL — cirros from the Internet when ``--image`` is not
given, which a CI host that reaches only its package mirrors cannot do (scenario002's Tempest run
failed there with "Name or service not known"). The stand-in below behaves as the real tool does
for that option: no ``--image`` or a URL means a download, which fails offline.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from .ansible_run import play

FAKE_DISCOVER = textwrap.dedent(
    """\
    #!/usr/bin/env python3
    import json, os, sys
    argv = sys.argv[1:]
    with open(os.environ["FAKE_DISCOVER_RECORD"], "w") as record:
        json.dump(argv, record)
    image = argv[argv.index("--image") + 1] if "--image" in argv else "https://download.cirros-cloud.net/0.5.2/x.img"
    if image.startswith(("http:", "https:")):
        sys.exit("Failed to establish a new connection: [Errno -2] Name or service not known")
    if not os.path.isfile(image):
        sys.exit(f"No such file: {image}")
    out = argv[argv.index("--out") + 1]
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as conf:
        conf.write(f"[compute]\\nimage_ref = {os.path.basename(image)}\\n")
    """
)


def run_discover(tmp_path: Path, **role_vars: object):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "discover-tempest-config"
    fake.write_text(FAKE_DISCOVER)
    fake.chmod(0o755)
    workspace = tmp_path / "workspace"
    (workspace / "distroforge").mkdir(parents=True)
    record = tmp_path / "argv.json"
    playbook = tmp_path / "discover.yml"
    playbook.write_text(
        textwrap.dedent(
            """\
            - hosts: localhost
              gather_facts: false
              tasks:
                - name: Write tempest.conf the way tempest_run does
                  ansible.builtin.include_role:
                    name: distroforge.openstack.tempest_run
                    tasks_from: config_discover.yml
            """
        )
    )
    extra = {
        "tempest_run_workspace": str(workspace),
        "tempest_run_auth_url": "http://192.0.2.1:5000/v3",
        "tempest_run_admin_password": "s3cret-pw",
        "__tempest_run_bin": str(bin_dir),
        "__tempest_run_os_env": {"FAKE_DISCOVER_RECORD": str(record)},
        **role_vars,
    }
    proc = play(playbook, extra)
    argv = json.loads(record.read_text()) if record.exists() else []
    return proc, argv, workspace


def option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_by_default_the_image_is_a_local_file_named_like_scenario002s(tmp_path):
    proc, argv, workspace = run_discover(tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:]
    image = Path(option(argv, "--image"))
    assert image == workspace / "distroforge" / "distroforge-tiny"
    assert image.read_text().startswith("distroforge tiny image")
    assert option(argv, "--image-disk-format") == "raw"
    assert "image_ref = distroforge-tiny" in (workspace / "etc" / "tempest.conf").read_text()


def test_a_given_image_is_passed_as_is_and_no_local_one_is_written(tmp_path):
    cirros = tmp_path / "cirros-0.6.2-x86_64-disk.img"
    cirros.write_bytes(b"QFI\xfb")
    proc, argv, workspace = run_discover(tmp_path, tempest_run_image=str(cirros), tempest_run_image_disk_format="qcow2")
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert option(argv, "--image") == str(cirros)
    assert option(argv, "--image-disk-format") == "qcow2"
    assert not (workspace / "distroforge" / "distroforge-tiny").exists()


def test_a_url_image_offline_fails_in_one_message_without_the_password(tmp_path):
    proc, _argv, _workspace = run_discover(tmp_path, tempest_run_image="https://download.example.org/cirros.img")
    assert proc.returncode != 0
    assert "discover-tempest-config exited 1" in proc.stdout
    assert "Name or service not known" in proc.stdout
    assert "s3cret-pw" not in proc.stdout
