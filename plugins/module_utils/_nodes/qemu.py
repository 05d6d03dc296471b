"""Run test nodes as qemu VMs, without libvirt.

libvirt needs its daemon, which needs systemd as PID 1 to be started the
Debian way; the hosts this driver is made for (CI containers) have neither,
so qemu runs directly: one daemonized ``qemu-system-x86_64`` per node, its pid file, overlay,
serial console log and SSH known_hosts in ``<vm_dir>/<name>/`` (the
node's directory: what ``absent`` removes, with the process and its tap).

Networking: each VM has two NICs.

* qemu's user-mode network (slirp): the way out (the Debian mirror, by
  DHCP, DNS at 10.0.2.3); the controller's own addresses answer there too
  (10.0.2.2 is its loopback).
* a tap on a bridge of ours (``bridge``, the gateway address of
  ``subnet`` on the host): the node's fixed address, which the controller
  (SSH, the repo server on the gateway address) and the other nodes reach.

Acceleration: KVM where it works, TCG otherwise - found by booting the
image's kernel once with KVM (:func:`detect_accel`), since a ``/dev/kvm``
that opens can still fail to run a guest.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

from .._common.errors import CommandError, InputError
from .._common.files import fsync_path, rename_into_place, sha256_file, write_atomic
from .._common.proc import run
from .vm_image import VmImage

QEMU = "qemu-system-x86_64"
USER_NET_MAC_PREFIX = "56:54:00"
NODE_NET_MAC_PREFIX = "52:54:00"
# A kernel that boots prints this within seconds with KVM; without a root it then panics.
PROBE_MARKERS = ("Kernel panic", "VFS: Unable to mount root", "Run /init", "Freeing unused kernel")
PROBE_TIMEOUT = 20.0


@dataclass(frozen=True)
class NodeSpec:
    """One VM as the user asked for it."""

    name: str
    ip: str
    memory: int  # MiB
    cpus: int
    disk: int  # GiB
    image: str  # the image directory
    where: str = "node_provision_nodes"

    def recorded(self, image_hash: str) -> dict[str, object]:
        """What ``node.json`` keeps: a running node with other values is refused, not silently kept."""
        data = asdict(self)
        data.pop("where")
        data["image"] = image_hash
        return data


@dataclass(frozen=True)
class Network:
    """The node bridge: its name and subnet (the host holds the first address)."""

    bridge: str
    subnet: str

    @property
    def network(self) -> ipaddress.IPv4Network:
        net = ipaddress.ip_network(self.subnet)
        if not isinstance(net, ipaddress.IPv4Network):
            raise InputError(f"node_provision_libvirt_subnet: '{self.subnet}' must be an IPv4 subnet")
        return net

    @property
    def gateway(self) -> str:
        return str(self.network.network_address + 1)

    def cidr(self, ip: str) -> str:
        return f"{ip}/{self.network.prefixlen}"


def _digest(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def node_mac(name: str, prefix: str = NODE_NET_MAC_PREFIX) -> str:
    """A stable MAC for ``name`` (locally administered, unicast)."""
    digest = _digest(name)
    return prefix + "".join(f":{digest[i : i + 2]}" for i in (0, 2, 4))


def tap_name(name: str) -> str:
    """The node's tap device: 13 characters, within Linux's 15."""
    return "dft" + _digest(name)[:10]


def node_dir(vm_dir: str | os.PathLike[str], name: str) -> Path:
    return Path(vm_dir) / name


# -- host checks -----------------------------------------------------------------------------------


def free_memory_mib() -> int:
    """MemAvailable of the host, in MiB."""
    with open("/proc/meminfo", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) // 1024
    raise CommandError("cannot read MemAvailable from /proc/meminfo")


def check_memory(nodes: Sequence[NodeSpec], free_mib: int) -> None:
    """Refuse nodes asking for more memory than the host has free, naming the variable."""
    total = 0
    for node in nodes:
        total += node.memory
        if total > free_mib:
            raise InputError(
                f"{node.where}.memory: {node.memory} MiB for '{node.name}' ({total} MiB for the new nodes so far) "
                f"is more than the {free_mib} MiB this host has free; give less memory or fewer nodes"
            )


def check_not_podman(nodes: Iterable[NodeSpec]) -> None:
    """Refuse a name that a podman node (another driver's) already uses."""
    if shutil.which("podman") is None:
        return
    for node in nodes:
        if run(["podman", "container", "exists", node.name], check=False, timeout=60).rc == 0:
            raise InputError(
                f"{node.where}.name: '{node.name}' is a podman container (a node of the podman driver); "
                "choose another name or remove it with node_provision_driver=podman node_provision_state=absent"
            )


# -- acceleration ----------------------------------------------------------------------------------


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
    except OSError:
        return ""


def probe_kvm(kernel: Path, workdir: Path, timeout: float = PROBE_TIMEOUT) -> tuple[bool, str]:
    """Boot ``kernel`` with KVM and no root file system; True when it got as far as looking for one.

    Returns (works, why).  A /dev/kvm that opens can still fail to run a
    guest (KVM's "internal error", a guest that never prints): only a boot
    proves it.
    """
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False, "/dev/kvm is missing or not writable"
    log = workdir / "kvm-probe.log"
    argv = [
        QEMU,
        "-accel",
        "kvm",
        "-machine",
        "q35",
        "-cpu",
        "host",
        "-m",
        "256",
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
        "-no-reboot",
        "-kernel",
        str(kernel),
        "-append",
        "console=ttyS0 panic=-1 root=/dev/distroforge-probe",
        "-serial",
        f"file:{log}",
    ]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
        stderr = proc.stderr.strip().splitlines()
    except subprocess.TimeoutExpired:
        stderr = [f"no panic within {timeout:.0f} s"]
    console = log.read_text(errors="replace") if log.exists() else ""
    log.unlink(missing_ok=True)
    if any(marker in console for marker in PROBE_MARKERS):
        return True, "a kernel booted with KVM"
    why = stderr[-1] if stderr else "the kernel printed nothing"
    return False, f"KVM did not boot a kernel ({why})"


def detect_accel(want: str, kernel: Path, vm_dir: Path, *, check_mode: bool = False) -> tuple[str, str]:
    """``kvm`` or ``tcg`` (and why): ``want`` auto probes once per host boot, qemu and kernel."""
    if want in ("kvm", "tcg"):
        return want, f"asked for {want}"
    key = {"boot_id": _boot_id(), "qemu": shutil.which(QEMU) or "", "kernel": sha256_file(kernel)}
    cache = vm_dir / "accel.json"
    try:
        cached = json.loads(cache.read_text())
        if cached.get("key") == key:
            return cached["accel"], cached["why"] + " (cached)"
    except (OSError, ValueError, KeyError):
        pass
    with tempfile.TemporaryDirectory(prefix="kvm-probe-") as tmp:
        works, why = probe_kvm(kernel, Path(tmp))
    accel = "kvm" if works else "tcg"
    if not check_mode:
        vm_dir.mkdir(parents=True, exist_ok=True)
        write_atomic(cache, json.dumps({"key": key, "accel": accel, "why": why}).encode(), 0o644)
    return accel, why


# -- network ---------------------------------------------------------------------------------------


def _link_exists(name: str) -> bool:
    return Path("/sys/class/net", name).exists()


def ensure_bridge(net: Network) -> bool:
    """Create the node bridge with the gateway address; True when created."""
    if _link_exists(net.bridge):
        return False
    what = f"node_provision_libvirt_bridge: creating bridge {net.bridge} (needs root and CAP_NET_ADMIN)"
    run(["ip", "link", "add", net.bridge, "type", "bridge"], what=what)
    run(["ip", "addr", "add", f"{net.gateway}/{net.network.prefixlen}", "dev", net.bridge], what=what)
    run(["ip", "link", "set", net.bridge, "up"], what=what)
    return True


def remove_bridge_if_unused(net: Network) -> bool:
    """Remove the bridge once no tap is attached to it; True when removed."""
    ports = Path("/sys/class/net", net.bridge, "brif")
    if not ports.is_dir() or any(ports.iterdir()):
        return False
    run(["ip", "link", "del", net.bridge], what=f"removing bridge {net.bridge}")
    return True


def _ensure_tap(name: str, bridge: str) -> None:
    tap = tap_name(name)
    what = f"node '{name}': tap {tap} on bridge {bridge}"
    if not _link_exists(tap):
        run(["ip", "tuntap", "add", "dev", tap, "mode", "tap"], what=what)
    run(["ip", "link", "set", tap, "master", bridge], what=what)
    run(["ip", "link", "set", tap, "up"], what=what)


def _remove_tap(name: str) -> bool:
    tap = tap_name(name)
    if not _link_exists(tap):
        return False
    run(["ip", "link", "del", tap], what=f"node '{name}': removing tap {tap}")
    return True


# -- keys ------------------------------------------------------------------------------------------


def ensure_keypair(vm_dir: Path, *, check_mode: bool = False) -> Path:
    """The controller's key pair for the nodes (``<vm_dir>/id_ed25519``), made once."""
    key = vm_dir / "id_ed25519"
    if not key.exists() and not check_mode:
        vm_dir.mkdir(parents=True, exist_ok=True)
        run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "distroforge-nodes", "-f", str(key)],
            what="ssh-keygen of the node key",
        )
    return key


# -- processes -------------------------------------------------------------------------------------


def running_pid(directory: Path) -> int | None:
    """The pid of the node's qemu when it runs (its command line names the node directory)."""
    try:
        pid = int((directory / "qemu.pid").read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if str(directory).encode() in cmdline else None


def qemu_argv(node: NodeSpec, image: VmImage, net: Network, directory: Path, *, accel: str, key: str) -> list[str]:
    """The qemu command line of ``node``."""
    append = " ".join(
        [
            "root=/dev/vda",
            "rw",
            "console=ttyS0",
            "quiet",
            # A throwaway test node: no speculative-execution mitigations, which cost most under TCG.
            "mitigations=off",
            "panic=-1",
            f"distroforge.hostname={node.name}",
            f"distroforge.ip={net.cidr(node.ip)}",
            f"distroforge.mac={node_mac(node.name)}",
            f"distroforge.key={base64.b64encode(key.encode()).decode()}",
        ]
    )
    return [
        QEMU,
        "-name",
        f"{node.name},process=df-{node.name}",
        "-machine",
        f"q35,accel={accel}",
        "-cpu",
        # Under TCG a plain model boots faster than "max" (no AVX2/AES paths to emulate).
        "host" if accel == "kvm" else "qemu64",
        "-smp",
        str(node.cpus),
        "-m",
        str(node.memory),
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
        "-kernel",
        str(image.kernel),
        "-initrd",
        str(image.initrd),
        "-append",
        append,
        "-drive",
        f"file={directory / 'overlay.qcow2'},if=virtio,format=qcow2,discard=unmap",
        "-netdev",
        "user,id=out",
        "-device",
        f"virtio-net-pci,netdev=out,mac={node_mac(node.name, USER_NET_MAC_PREFIX)}",
        "-netdev",
        f"tap,id=nodes,ifname={tap_name(node.name)},script=no,downscript=no",
        "-device",
        f"virtio-net-pci,netdev=nodes,mac={node_mac(node.name)}",
        "-device",
        "virtio-rng-pci",
        "-serial",
        f"file:{directory / 'console.log'}",
        "-qmp",
        f"unix:{directory / 'qmp.sock'},server=on,wait=off",
        "-pidfile",
        str(directory / "qemu.pid"),
        "-daemonize",
    ]


def start(node: NodeSpec, image: VmImage, image_hash: str, net: Network, vm_dir: Path, *, accel: str) -> None:
    """Create the node's overlay (unless it has one) and tap, and start its qemu."""
    directory = node_dir(vm_dir, node.name)
    directory.mkdir(parents=True, exist_ok=True)
    overlay = directory / "overlay.qcow2"
    if not overlay.exists():
        run(
            [
                "qemu-img",
                "create",
                "-q",
                "-f",
                "qcow2",
                "-F",
                "qcow2",
                "-b",
                str(image.disk),
                str(overlay) + ".part",
                f"{node.disk}G",
            ],
            what=f"{node.where}.disk: creating the overlay of '{node.name}' (is {vm_dir} full?)",
        )
        # qemu-img wrote the overlay aside; flushed, it takes its name in one step
        fsync_path(str(overlay) + ".part")
        rename_into_place(str(overlay) + ".part", overlay, directory)
    write_atomic(directory / "node.json", json.dumps(node.recorded(image_hash), sort_keys=True).encode(), 0o644)
    (directory / "known_hosts").unlink(missing_ok=True)
    (directory / "console.log").unlink(missing_ok=True)
    _ensure_tap(node.name, net.bridge)
    public = (vm_dir / "id_ed25519.pub").read_text().strip()
    run(
        qemu_argv(node, image, net, directory, accel=accel, key=public),
        timeout=60,
        what=f"node '{node.name}': starting qemu",
    )


def _console_tail(directory: Path) -> str:
    try:
        lines = [ln.strip() for ln in (directory / "console.log").read_text(errors="replace").splitlines()]
    except OSError:
        return "no console output"
    lines = [ln for ln in lines if ln]
    return f"last console line: {lines[-1][:200]!r}" if lines else "no console output"


def cpu_seconds(pid: int | None) -> float | None:
    """CPU seconds (user + system) a process has used, from /proc/<pid>/stat."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return round((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), 1)


def ssh_argv(vm_dir: Path, name: str, ip: str, command: Sequence[str]) -> list[str]:
    """ssh to a node as root with the node key and the node's own known_hosts."""
    return [
        "ssh",
        "-i",
        str(vm_dir / "id_ed25519"),
        "-o",
        "BatchMode=yes",
        "-o",
        # sshd on a TCG node of a busy host can take many seconds to send its banner
        "ConnectTimeout=30",
        "-o",
        "StrictHostKeyChecking=accept-new",
        "-o",
        f"UserKnownHostsFile={node_dir(vm_dir, name) / 'known_hosts'}",
        "-o",
        "LogLevel=ERROR",
        f"root@{ip}",
        # ssh joins its arguments into one line for the remote shell: quote them as one.
        shlex.join(command),
    ]


def ssh_ready(vm_dir: Path, node: NodeSpec) -> bool:
    """True when the node answers over SSH and runs Python."""
    argv = ssh_argv(vm_dir, node.name, node.ip, ["python3", "-c", "print('ok')"])
    try:
        # A TCG node on a busy host can take a minute to log in: not ready yet, not a failure.
        return run(argv, check=False, timeout=90).stdout.strip() == "ok"
    except CommandError:
        return False


def wait_for_ssh(
    nodes: Sequence[NodeSpec],
    vm_dir: Path,
    timeout: float,
    *,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, tuple[float, float | None]]:
    """Wait until every node answers over SSH; seconds each took, and its qemu's CPU seconds by then.

    On a shared host the CPU seconds tell the boot's cost apart from the
    wait for a core.  One line naming the node when one does not come up.
    """
    started = clock()
    waiting = {node.name: node for node in nodes}
    took: dict[str, float] = {}
    cpu: dict[str, float | None] = {}
    while waiting:
        for name, node in list(waiting.items()):
            directory = node_dir(vm_dir, name)
            if running_pid(directory) is None:
                raise CommandError(f"node '{name}': qemu stopped while booting; {_console_tail(directory)}")
            if ssh_ready(vm_dir, node):
                took[name] = round(clock() - started, 1)
                cpu[name] = cpu_seconds(running_pid(directory))
                del waiting[name]
        if waiting and clock() - started > timeout:
            name = sorted(waiting)[0]
            raise CommandError(
                f"{waiting[name].where}: SSH on node '{name}' ({waiting[name].ip}) did not come up within "
                f"{timeout:.0f} s (node_provision_libvirt_timeout); {_console_tail(node_dir(vm_dir, name))}"
            )
        if waiting:
            time.sleep(2)
    return {name: (seconds, cpu.get(name)) for name, seconds in took.items()}


def destroy(vm_dir: Path, name: str, *, check_mode: bool = False) -> bool:
    """Stop the node's qemu, remove its tap and its directory (overlay, logs); True when something was there."""
    directory = node_dir(vm_dir, name)
    pid = running_pid(directory)
    there = pid is not None or directory.exists() or _link_exists(tap_name(name))
    if check_mode or not there:
        return there
    if pid is not None:
        _stop(pid, directory)
    _remove_tap(name)
    if directory.exists():
        shutil.rmtree(directory)
    return True


def _stop(pid: int, directory: Path) -> None:
    """SIGTERM (qemu exits at once; the node is a throwaway), then SIGKILL."""
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if running_pid(directory) != pid:
                return
            time.sleep(0.1)
    raise CommandError(f"qemu pid {pid} of {directory.name} did not stop after SIGKILL")


def recorded(vm_dir: Path, name: str) -> dict[str, object] | None:
    try:
        return json.loads((node_dir(vm_dir, name) / "node.json").read_text())
    except (OSError, ValueError):
        return None


def present(
    nodes: Sequence[NodeSpec],
    images: dict[str, tuple[VmImage, str]],
    net: Network,
    vm_dir: Path,
    *,
    accel: str = "auto",
    timeout: float = 600,
    check_mode: bool = False,
) -> dict[str, object]:
    """Make every node run and answer over SSH; remove what this call created when one fails."""
    result: dict[str, object] = {"changed": False, "nodes": {}}
    running, new = [], []
    for node in nodes:
        directory = node_dir(vm_dir, node.name)
        if running_pid(directory) is not None:
            before = recorded(vm_dir, node.name)
            want = node.recorded(images[node.image][1])
            if before != want:
                diff = sorted(k for k in want if before is None or before.get(k) != want[k])
                raise InputError(
                    f"{node.where}: node '{node.name}' runs with other {', '.join(diff)} than asked; "
                    "remove it first (node_provision_state=absent)"
                )
            running.append(node)
        else:
            new.append(node)
    check_not_podman(new)
    check_memory(new, free_memory_mib())
    if not new:
        accel_used = "running"
    else:
        first_kernel = images[new[0].image][0].kernel
        accel_used, why = detect_accel(accel, first_kernel, vm_dir, check_mode=check_mode)
        result["accel_reason"] = why
    result["accel"] = accel_used
    if check_mode:
        result["changed"] = bool(new)
        result["nodes"] = {n.name: {"ip": n.ip, "created": n in new} for n in nodes}
        return result
    key = ensure_keypair(vm_dir)
    created: list[str] = []
    bridge_created = False
    try:
        if new:
            bridge_created = ensure_bridge(net)
        for node in new:
            created.append(node.name)
            image, image_hash = images[node.image]
            start(node, image, image_hash, net, vm_dir, accel=accel_used)
        took = wait_for_ssh(new, vm_dir, timeout)
    except BaseException:
        for name in created:
            destroy(vm_dir, name)
        if bridge_created:
            remove_bridge_if_unused(net)
        raise
    result["changed"] = bool(new)
    result["private_key"] = str(key)
    result["nodes"] = {
        n.name: {
            "ip": n.ip,
            "created": n in new,
            "boot_seconds": took[n.name][0] if n.name in took else None,
            "boot_cpu_seconds": took[n.name][1] if n.name in took else None,
            "known_hosts": str(node_dir(vm_dir, n.name) / "known_hosts"),
        }
        for n in nodes
    }
    return result


def absent(names: Sequence[str], net: Network, vm_dir: Path, *, check_mode: bool = False) -> dict[str, object]:
    """Destroy the nodes (processes, taps, overlays, logs); the bridge goes with its last tap."""
    removed = [name for name in names if destroy(vm_dir, name, check_mode=check_mode)]
    bridge_removed = False
    if not check_mode:
        bridge_removed = remove_bridge_if_unused(net)
    return {"changed": bool(removed) or bridge_removed, "removed": removed}
