"""Build VM disk images locally: mmdebstrap a rootfs, make it an ext4 qcow2.

No cloud image can be downloaded on our CI machines, so VM disks come from
the Debian mirror like the podman images (:mod:`.podman_image`): the same
inputs (suite, mirror, variant, packages, CA certificates) plus what a VM
needs (a kernel, an initramfs, systemd, sshd), hashed; an image whose
directory exists is never rebuilt.

The disk holds a bare ext4 file system (no partition table, no boot
loader): qemu boots the kernel and initramfs copied out of the rootfs
(``-kernel``/``-initrd``) with ``root=/dev/vda``, so nothing needs a loop
mount or root's block devices, and ``mke2fs -d`` fills the file system
from a directory.  Each node boots from an overlay of it (:mod:`.qemu`).

A node learns its name, address and the controller's public key from the
kernel command line: ``distroforge-node.service`` (written below) turns
them into /etc/hostname, a systemd-networkd file and root's
authorized_keys at every boot, so nothing is written into a disk from the
host and no seed image is needed.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .._common.errors import CommandError, InputError
from .._common.files import fsync_tree, rename_into_place
from .._common.locks import exclusive_lock
from .._common.proc import run
from .podman_image import ImageSpec, mmdebstrap_argv, run_mmdebstrap

# Bump when the way VM disks are made changes (hooks, boot script), so that
# every cached disk is rebuilt once.
VM_RECIPE_VERSION = 1

# What every VM needs on top of the image's own packages.
VM_PACKAGES = (
    "linux-image-amd64",
    "initramfs-tools",
    "systemd",
    "systemd-sysv",
    "udev",
    "dbus",
    "kmod",
    "iproute2",
    "openssh-server",
    "python3",
    "sudo",
)

# Only what a virtio disk with ext4 needs goes into the initramfs: a smaller
# initramfs boots noticeably faster without KVM.
INITRAMFS_CONF = "MODULES=list\nCOMPRESS=gzip\n"
INITRAMFS_MODULES = "virtio_pci\nvirtio_blk\nvirtio_net\next4\n"

# Read at every boot: distroforge.hostname=, distroforge.ip=<addr/prefix>,
# distroforge.mac=<mac of that NIC>, distroforge.key=<base64 of an authorized_keys line>.
NODE_SCRIPT = r"""#!/bin/sh
# Configure this node from the kernel command line (see distroforge-node.service).
set -eu
for word in $(cat /proc/cmdline); do
  case "$word" in
    distroforge.hostname=*) name=${word#*=} ;;
    distroforge.ip=*) ip=${word#*=} ;;
    distroforge.mac=*) mac=${word#*=} ;;
    distroforge.key=*) key=${word#*=} ;;
  esac
done
if [ -n "${name:-}" ]; then
  echo "$name" > /etc/hostname
  hostname "$name"
  printf '127.0.0.1 localhost\n%s %s\n' "${ip%/*}" "$name" > /etc/hosts
fi
mkdir -p /etc/systemd/network
if [ -n "${ip:-}" ] && [ -n "${mac:-}" ]; then
  printf '[Match]\nMACAddress=%s\n\n[Network]\nAddress=%s\nLinkLocalAddressing=no\nIPv6AcceptRA=no\n' \
    "$mac" "$ip" > /etc/systemd/network/10-distroforge-node.network
fi
if [ -n "${key:-}" ]; then
  mkdir -p -m 0700 /root/.ssh
  echo "$key" | base64 -d > /root/.ssh/authorized_keys
  chmod 0600 /root/.ssh/authorized_keys
fi
if [ ! -s /etc/ssh/ssh_host_ed25519_key ]; then
  ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key
fi
"""

NODE_UNIT = """[Unit]
Description=Configure this node from the kernel command line (distroforge)
DefaultDependencies=no
After=local-fs.target
Before=network-pre.target systemd-networkd.service ssh.service
Wants=network-pre.target

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/distroforge-node
RemainAfterExit=yes

[Install]
WantedBy=sysinit.target
"""

# Every other NIC (qemu's user-mode network: the way out to the mirror) takes DHCP.
DHCP_NETWORK = "[Match]\nName=en* eth*\n\n[Network]\nDHCP=ipv4\nLinkLocalAddressing=no\nIPv6AcceptRA=no\n"
SSHD_CONFIG = "PermitRootLogin prohibit-password\nPasswordAuthentication no\nUseDNS no\n"
FSTAB = "/dev/vda / ext4 rw,discard,errors=remount-ro,x-systemd.growfs 0 1\n"
# qemu's user-mode network answers DNS at 10.0.2.3 (no systemd-resolved in bookworm's systemd).
RESOLV_CONF = "nameserver 10.0.2.3\n"

# Units a throwaway test node never needs; under TCG each costs seconds to minutes of boot
# (e2scrub_reap alone took minutes on a loaded host). Masking a unit the image lacks is harmless.
MASKED_UNITS = (
    "systemd-networkd-wait-online.service",
    "e2scrub_reap.service",
    "e2scrub_all.timer",
    "fstrim.timer",
    "apt-daily.timer",
    "apt-daily-upgrade.timer",
    "systemd-binfmt.service",
    "getty@tty1.service",
    "serial-getty@ttyS0.service",
)

# Kernel modules a VM on virtio never loads; leaving them out makes the disk half the size.
UNUSED_MODULE_DIRS = (
    "drivers/gpu",
    "drivers/media",
    "drivers/net/wireless",
    "drivers/net/ethernet",
    "drivers/infiniband",
    "drivers/staging",
    "drivers/bluetooth",
    "drivers/isdn",
    "drivers/iio",
    "drivers/hid",
    "drivers/usb",
    "drivers/input/touchscreen",
    "drivers/scsi",
    "drivers/ata",
    "sound",
    "net/wireless",
    "net/mac80211",
    "net/bluetooth",
)


@dataclass(frozen=True)
class VmImage:
    """A built VM image: its directory and the files qemu boots."""

    directory: Path

    @property
    def disk(self) -> Path:
        return self.directory / "disk.qcow2"

    @property
    def kernel(self) -> Path:
        return self.directory / "vmlinuz"

    @property
    def initrd(self) -> Path:
        return self.directory / "initrd.img"

    def exists(self) -> bool:
        return all(path.is_file() for path in (self.disk, self.kernel, self.initrd))


def vm_spec(spec: ImageSpec) -> ImageSpec:
    """``spec`` with what every VM needs added to its packages."""
    return ImageSpec(
        name=spec.name,
        suite=spec.suite,
        mirror=spec.mirror,
        variant=spec.variant,
        packages=tuple(sorted(set(spec.packages) | set(VM_PACKAGES))),
        components=tuple(spec.components),
        ca_certificates=tuple(spec.ca_certificates),
    )


def inputs_hash(spec: ImageSpec) -> str:
    """Hash of everything that shapes the VM disk (the rootfs inputs and this recipe)."""
    data = {
        "rootfs": vm_spec(spec).inputs_hash(),
        "vm_recipe": VM_RECIPE_VERSION,
        "script": NODE_SCRIPT,
        "unit": NODE_UNIT,
        "network": DHCP_NETWORK,
        "initramfs": [INITRAMFS_CONF, INITRAMFS_MODULES],
        "dropped": list(UNUSED_MODULE_DIRS),
        "masked": list(MASKED_UNITS),
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def image_dir(spec: ImageSpec, cache_dir: str | os.PathLike[str]) -> Path:
    """Where ``spec``'s disk lives: ``<cache_dir>/vm/<name>-<hash12>``."""
    return Path(cache_dir) / "vm" / f"{spec.name}-{inputs_hash(spec)[:12]}"


def _hook_write(path: str, content: str, mode: str = "0644") -> str:
    """An mmdebstrap customize hook writing ``content`` to ``path`` inside the rootfs."""
    # printf %s with the content as one argument: no shell expansion of what the file holds.
    quoted = "'" + content.replace("'", "'\"'\"'") + "'"
    return (
        f'--customize-hook=mkdir -p "$1{os.path.dirname(path)}" && printf %s {quoted} > "$1{path}" '
        f'&& chmod {mode} "$1{path}"'
    )


def vm_mmdebstrap_argv(spec: ImageSpec, target: str) -> list[str]:
    """mmdebstrap's command line for a VM rootfs directory at ``target``."""
    argv = mmdebstrap_argv(vm_spec(spec), target)
    tail = argv[-3:]  # suite, target, mirror
    hooks = [
        # Before the kernel's postinst builds the initramfs: keep it small.
        '--essential-hook=mkdir -p "$1/etc/initramfs-tools/conf.d" "$1/usr/share/initramfs-tools/modules.d"',
        f"--essential-hook=printf '{INITRAMFS_CONF}' > \"$1/etc/initramfs-tools/conf.d/distroforge.conf\"",
        f"--essential-hook=printf '{INITRAMFS_MODULES}' > \"$1/usr/share/initramfs-tools/modules.d/distroforge\"",
        _hook_write("/usr/local/sbin/distroforge-node", NODE_SCRIPT, "0755"),
        _hook_write("/etc/systemd/system/distroforge-node.service", NODE_UNIT),
        _hook_write("/etc/systemd/network/90-distroforge-dhcp.network", DHCP_NETWORK),
        _hook_write("/etc/ssh/sshd_config.d/distroforge.conf", SSHD_CONFIG),
        _hook_write("/etc/fstab", FSTAB),
        '--customize-hook=rm -f "$1/etc/resolv.conf"',
        _hook_write("/etc/resolv.conf", RESOLV_CONF),
        # Every node makes its own host key at first boot (distroforge-node).
        '--customize-hook=rm -f "$1"/etc/ssh/ssh_host_*',
        '--customize-hook=rm -f "$1/etc/hostname"',
        '--customize-hook=chroot "$1" systemctl enable distroforge-node.service systemd-networkd.service ssh.service',
        f'--customize-hook=chroot "$1" systemctl mask {" ".join(MASKED_UNITS)}',
        '--customize-hook=chroot "$1" passwd --lock root',
    ]
    drops = " ".join(f'"$1"/usr/lib/modules/*/kernel/{d}' for d in UNUSED_MODULE_DIRS)
    hooks.append(f"--customize-hook=rm -rf {drops}")
    hooks.append(
        '--customize-hook=chroot "$1" sh -c \'for k in $(ls /usr/lib/modules); do depmod -a "$k"; done; '
        "update-initramfs -u -k all'"
    )
    return argv[:-3] + hooks + tail


def _size_mib(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            full = os.path.join(root, name)
            if not os.path.islink(full):
                total += os.lstat(full).st_size
    return total // (1024 * 1024)


def _unmount_under(path: Path) -> None:
    """Unmount whatever is mounted under ``path``, deepest first.

    mmdebstrap writes a directory as root with /proc, /sys and /dev mounted
    inside it; killed on a timeout, it may leave them there, and deleting
    the directory would then walk into the host's /dev.
    """
    prefix = str(path.resolve()) + os.sep
    mounts = []
    with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as handle:
        for line in handle:
            point = line.split()[4].replace("\\040", " ")
            if point.startswith(prefix):
                mounts.append(point)
    for point in sorted(mounts, key=len, reverse=True):
        run(["umount", "--lazy", point], check=False, timeout=60)


def build(spec: ImageSpec, cache_dir: str, *, timeout: float = 1800, check_mode: bool = False) -> dict[str, object]:
    """Make sure ``spec``'s VM disk exists; build it when it does not.

    Returns ``changed``, ``directory``, ``disk``, ``kernel``, ``initrd``,
    ``inputs_hash`` and, when built, ``duration``.  A failed build leaves
    nothing in the cache.
    """
    image = VmImage(image_dir(spec, cache_dir))
    result: dict[str, object] = {
        "changed": False,
        "directory": str(image.directory),
        "disk": str(image.disk),
        "kernel": str(image.kernel),
        "initrd": str(image.initrd),
        "inputs_hash": inputs_hash(spec),
    }
    if image.exists():
        return result
    result["changed"] = True
    if check_mode:
        return result
    started = time.monotonic()
    image.directory.parent.mkdir(parents=True, exist_ok=True)
    # One build per image at a time; a second caller waits and finds it built.
    with exclusive_lock(f"{image.directory}.lock", None):
        if image.exists():
            result["changed"] = False
            return result
        tmp = tempfile.mkdtemp(prefix=f".{spec.name}-", dir=image.directory.parent)
        try:
            _build_into(spec, Path(tmp), image, timeout)
        finally:
            _unmount_under(Path(tmp))
            shutil.rmtree(tmp, ignore_errors=True)
    result["duration"] = round(time.monotonic() - started, 1)
    return result


def _build_into(spec: ImageSpec, tmp: Path, image: VmImage, timeout: float) -> None:
    """Build in ``tmp``, then rename the finished image into place."""
    rootfs = Path(tmp) / "rootfs"

    def reset() -> None:
        _unmount_under(rootfs)
        shutil.rmtree(rootfs, ignore_errors=True)

    run_mmdebstrap(
        vm_mmdebstrap_argv(spec, str(rootfs)),
        what=f"VM image '{spec.name}': mmdebstrap from {spec.mirror} "
        "(check the mirror URL and that this host reaches it)",
        timeout=timeout,
        reset=reset,
    )
    staged = Path(tmp) / "image"
    staged.mkdir()
    kernels = sorted(glob.glob(str(rootfs / "boot" / "vmlinuz-*")))
    initrds = sorted(glob.glob(str(rootfs / "boot" / "initrd.img-*")))
    if not kernels or not initrds:
        raise CommandError(f"VM image '{spec.name}': no kernel or initramfs in /boot after mmdebstrap")
    shutil.copyfile(kernels[-1], staged / "vmlinuz")
    shutil.copyfile(initrds[-1], staged / "initrd.img")
    # Room for the first package installs; each node's disk grows it further at boot.
    size = _size_mib(rootfs) * 5 // 4 + 512
    raw = Path(tmp) / "disk.raw"
    run(
        ["mke2fs", "-q", "-t", "ext4", "-L", "root", "-d", str(rootfs), str(raw), f"{size}M"],
        timeout=timeout,
        what=f"VM image '{spec.name}': mke2fs -d (is {image.directory.parent} full?)",
    )
    run(
        ["qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", str(raw), str(staged / "disk.qcow2")],
        timeout=timeout,
        what=f"VM image '{spec.name}': qemu-img convert (is {image.directory.parent} full?)",
    )
    (staged / "inputs.json").write_text(
        json.dumps({"name": spec.name, "inputs_hash": inputs_hash(spec), "packages": list(vm_spec(spec).packages)})
        + "\n"
    )
    fsync_tree(staged)
    rename_into_place(staged, image.directory, tmp)


def check_image(directory: str, where: str) -> VmImage:
    """The built image at ``directory``, or InputError naming ``where``."""
    image = VmImage(Path(directory))
    if not image.exists():
        raise InputError(f"{where}: no VM image at {directory}; build it with distroforge.openstack.vm_image first")
    return image
