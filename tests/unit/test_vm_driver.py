"""The libvirt driver's engine (qemu directly): what users notice, without booting a VM.

The boot itself (TCG, SSH, idempotence, destroy) is in test_vm_node_boot.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ansible_collections.distroforge.openstack.plugins.module_utils._common.errors import CommandError, InputError
from ansible_collections.distroforge.openstack.plugins.module_utils._nodes import podman_image, qemu, vm_image
from ansible_collections.distroforge.openstack.plugins.module_utils._nodes.podman_image import ImageSpec

NET = qemu.Network("dft-test-br", "10.89.99.0/24")


def node(name: str = "n1", memory: int = 512, where: str = "node_provision_nodes[0]") -> qemu.NodeSpec:
    return qemu.NodeSpec(name, "10.89.99.20", memory, 1, 4, "/images/x", where)


def test_vm_image_hash_covers_the_vm_recipe_and_the_rootfs_inputs():
    base = ImageSpec(name="n", packages=("python3",))
    assert vm_image.inputs_hash(base) == vm_image.inputs_hash(ImageSpec(name="n", packages=("python3", "python3")))
    assert vm_image.inputs_hash(base) != vm_image.inputs_hash(ImageSpec(name="n", packages=("curl",)))
    # a VM image is not the podman image of the same inputs
    assert vm_image.inputs_hash(base) != base.inputs_hash()
    assert vm_image.image_dir(base, "/c").name == f"n-{vm_image.inputs_hash(base)[:12]}"


def test_vm_rootfs_has_a_kernel_sshd_and_the_boot_script():
    argv = vm_image.vm_mmdebstrap_argv(ImageSpec(name="n", packages=("curl",)), "/tmp/rootfs")
    include = next(a for a in argv if a.startswith("--include="))
    for package in ("linux-image-amd64", "openssh-server", "python3", "sudo", "systemd-sysv", "curl"):
        assert package in include.split("=", 1)[1].split(",")
    assert any("distroforge-node.service" in a and "systemctl enable" in a for a in argv)
    assert any("x-systemd.growfs" in a for a in argv)
    assert argv[-3:] == ["bookworm", "/tmp/rootfs", "http://deb.debian.org/debian"]


def test_a_built_image_is_not_rebuilt_and_check_mode_builds_nothing(monkeypatch, tmp_path):
    spec = ImageSpec(name="n")
    monkeypatch.setattr(vm_image, "run", lambda *a, **k: pytest.fail("must not build"))
    result = vm_image.build(spec, str(tmp_path), check_mode=True)
    assert result["changed"] is True and not (tmp_path / "vm").exists()
    directory = vm_image.image_dir(spec, tmp_path)
    directory.mkdir(parents=True)
    for name in ("disk.qcow2", "vmlinuz", "initrd.img"):
        (directory / name).write_text("x")
    assert vm_image.build(spec, str(tmp_path))["changed"] is False


def test_a_failed_image_build_leaves_nothing_in_the_cache(monkeypatch, tmp_path):
    def fail(argv, **kw):
        raise CommandError("VM image 'n': mmdebstrap from http://deb.debian.org/debian failed (rc 1): E: boom")

    monkeypatch.setattr(vm_image, "run", fail)
    monkeypatch.setattr(podman_image, "run", fail)  # mmdebstrap runs through podman_image.run_mmdebstrap
    with pytest.raises(CommandError, match="E: boom"):
        vm_image.build(ImageSpec(name="n"), str(tmp_path))
    # nothing but the image's lock file (kept so that concurrent builds of it wait for each other)
    assert [p.name for p in (tmp_path / "vm").iterdir() if not p.name.endswith(".lock")] == []


def test_an_unknown_image_directory_is_named():
    with pytest.raises(InputError) as err:
        vm_image.check_image("/nonexistent/bookworm-0123", "node_provision_nodes[2].image")
    assert str(err.value) == (
        "node_provision_nodes[2].image: no VM image at /nonexistent/bookworm-0123; "
        "build it with distroforge.openstack.vm_image first"
    )


def test_more_memory_than_free_is_refused_naming_the_variable():
    qemu.check_memory([node("a", 1024, "node_provision_nodes[0]")], 2048)
    with pytest.raises(InputError) as err:
        qemu.check_memory(
            [node("a", 1024, "node_provision_nodes[0]"), node("b", 1536, "node_provision_nodes[1]")], 2048
        )
    assert str(err.value) == (
        "node_provision_nodes[1].memory: 1536 MiB for 'b' (2560 MiB for the new nodes so far) is more than "
        "the 2048 MiB this host has free; give less memory or fewer nodes"
    )


def test_a_podman_container_of_that_name_is_refused(monkeypatch):
    monkeypatch.setattr(qemu.shutil, "which", lambda name: "/usr/bin/" + name)
    monkeypatch.setattr(qemu, "run", lambda argv, **k: type("R", (), {"rc": 0 if argv[-1] == "web" else 1})())
    qemu.check_not_podman([node("db")])
    with pytest.raises(InputError) as err:
        qemu.check_not_podman([node("db"), node("web", where="node_provision_nodes[1]")])
    assert str(err.value).startswith("node_provision_nodes[1].name: 'web' is a podman container")


def test_kvm_is_probed_once_and_the_result_kept_per_host_boot(monkeypatch, tmp_path):
    kernel = tmp_path / "vmlinuz"
    kernel.write_bytes(b"kernel")
    calls = []

    def probe(kernel, workdir, timeout=0):
        calls.append(kernel)
        return False, "KVM did not boot a kernel (kvm_buf_set_msrs: Assertion failed)"

    monkeypatch.setattr(qemu, "probe_kvm", probe)
    assert qemu.detect_accel("auto", kernel, tmp_path)[0] == "tcg"
    accel, why = qemu.detect_accel("auto", kernel, tmp_path)
    assert (accel, len(calls)) == ("tcg", 1) and why.endswith("(cached)")
    assert qemu.detect_accel("kvm", kernel, tmp_path) == ("kvm", "asked for kvm")
    kernel.write_bytes(b"another kernel")
    qemu.detect_accel("auto", kernel, tmp_path)
    assert len(calls) == 2
    # check mode probes but keeps nothing
    (tmp_path / "accel.json").unlink()
    qemu.detect_accel("auto", kernel, tmp_path, check_mode=True)
    assert not (tmp_path / "accel.json").exists()


def test_ssh_that_never_comes_up_is_one_line_naming_the_node_and_its_console(monkeypatch, tmp_path):
    directory = tmp_path / "n1"
    directory.mkdir()
    (directory / "console.log").write_text("[  3.1] Run /init\n[ 40.2] Reached target basic.target\n\n")
    monkeypatch.setattr(qemu, "running_pid", lambda d: 4242)
    monkeypatch.setattr(qemu, "ssh_ready", lambda vm_dir, n: False)
    monkeypatch.setattr(qemu.time, "sleep", lambda s: None)
    ticks = iter(range(0, 1000, 10))
    with pytest.raises(CommandError) as err:
        qemu.wait_for_ssh([node()], tmp_path, 30, clock=lambda: float(next(ticks)))
    assert str(err.value) == (
        "node_provision_nodes[0]: SSH on node 'n1' (10.89.99.20) did not come up within 30 s "
        "(node_provision_libvirt_timeout); last console line: '[ 40.2] Reached target basic.target'"
    )


def test_qemu_command_line(tmp_path):
    image = vm_image.VmImage(Path("/images/x"))
    argv = qemu.qemu_argv(node(), image, NET, tmp_path / "n1", accel="tcg", key="ssh-ed25519 AAAA key")
    joined = " ".join(argv)
    assert "q35,accel=tcg" in joined and "-m 512" in joined and "-smp 1" in joined
    assert f"file={tmp_path / 'n1' / 'overlay.qcow2'},if=virtio" in joined
    assert f"ifname={qemu.tap_name('n1')}" in joined and len(qemu.tap_name("n1")) <= 15
    append = argv[argv.index("-append") + 1]
    assert "distroforge.ip=10.89.99.20/24" in append and f"distroforge.mac={qemu.node_mac('n1')}" in append
    assert qemu.node_mac("n1") != qemu.node_mac("n2")


@pytest.fixture
def fake_image(tmp_path):
    """An image whose 'kernel' is not one: qemu refuses to start it."""
    if shutil.which("qemu-img") is None or os.geteuid() != 0:
        pytest.fail("needs qemu-utils and root (make bootstrap installs requirements/debian.txt)")
    directory = tmp_path / "images" / "bad-000000000000"
    directory.mkdir(parents=True)
    (directory / "vmlinuz").write_bytes(b"not a kernel" * 100)
    (directory / "initrd.img").write_bytes(b"")
    qemu.run(["qemu-img", "create", "-q", "-f", "qcow2", str(directory / "disk.qcow2"), "64M"])
    return directory


def test_a_node_that_fails_to_start_leaves_nothing_behind(fake_image, tmp_path):
    vm_dir = tmp_path / "vms"
    net = qemu.Network("dft-fail-br", "10.89.98.0/24")
    spec = qemu.NodeSpec("df-bad-node", "10.89.98.20", 256, 1, 1, str(fake_image), "node_provision_nodes[0]")
    images = {str(fake_image): (vm_image.VmImage(fake_image), fake_image.name)}
    with pytest.raises(CommandError, match="node 'df-bad-node': starting qemu failed"):
        qemu.present([spec], images, net, vm_dir, accel="tcg", timeout=30)
    assert not (vm_dir / "df-bad-node").exists()
    assert not Path("/sys/class/net", qemu.tap_name("df-bad-node")).exists()
    assert not Path("/sys/class/net", net.bridge).exists()
    # the key stays: it is the controller's, not the node's
    assert (vm_dir / "id_ed25519").exists()


def test_a_running_node_with_other_settings_is_refused_and_an_unchanged_one_left_alone(monkeypatch, tmp_path):
    spec = node()
    images = {spec.image: (vm_image.VmImage(Path(spec.image)), "x-000000000000")}
    monkeypatch.setattr(qemu, "running_pid", lambda directory: 4242)
    monkeypatch.setattr(qemu, "run", lambda *a, **k: pytest.fail("a running node must not be touched"))
    monkeypatch.setattr(qemu.shutil, "which", lambda name: None)
    (tmp_path / "n1").mkdir()
    (tmp_path / "id_ed25519").write_text("the controller's key, made by an earlier run\n")
    (tmp_path / "n1" / "node.json").write_text(json.dumps(spec.recorded("x-000000000000")))
    result = qemu.present([spec], images, NET, tmp_path, accel="tcg")
    assert result["changed"] is False and result["nodes"]["n1"]["created"] is False
    bigger = qemu.NodeSpec("n1", spec.ip, 4096, 2, spec.disk, spec.image, spec.where)
    with pytest.raises(InputError) as err:
        qemu.present([bigger], images, NET, tmp_path, accel="tcg")
    assert str(err.value) == (
        "node_provision_nodes[0]: node 'n1' runs with other cpus, memory than asked; "
        "remove it first (node_provision_state=absent)"
    )


def test_an_ssh_login_slower_than_its_timeout_is_not_ready_yet_not_a_failure(monkeypatch, tmp_path):
    def slow(argv, **kw):
        raise CommandError(f"{argv[0]}: timed out after {kw['timeout']:.0f} s")

    monkeypatch.setattr(qemu, "run", slow)
    assert qemu.ssh_ready(tmp_path, node()) is False


def test_cpu_seconds_of_a_process():
    assert qemu.cpu_seconds(os.getpid()) >= 0
    assert qemu.cpu_seconds(None) is None


def test_the_ssh_command_reaches_the_remote_shell_as_given(tmp_path):
    # ssh hands the node's shell one line; what it runs must be the argv we meant.
    argv = qemu.ssh_argv(tmp_path, "n1", "10.89.99.20", ["python3", "-c", "print('ok')"])
    remote = argv[argv.index("root@10.89.99.20") + 1 :]
    assert len(remote) == 1
    assert subprocess.run(["sh", "-c", remote[0]], capture_output=True, text=True, check=False).stdout == "ok\n"
