#!/bin/sh
# Python 3, stdlib only. Run as a shell script, the next line re-executes this file with
# Debian's /usr/bin/python3 (else python3 from PATH); for Python it is only a docstring.
# (ansible-test sanity accepts "#!/bin/sh" but no python3 shebang; keep the quotes as they are.)
# fmt: off
''''exec "$(command -v /usr/bin/python3 || command -v python3)" "$0" "$@" # '''
# fmt: on

# Multi-host test lab in Linux network namespaces (stdlib only, run as root).
#
# Each lab host (default: jerry, bobby, billy, macbook) gets
#
# * its own network namespace, wired to a host-side bridge (default ``octlab0``,
#   198.51.100.1/24) through a veth pair; the host is 198.51.100.<octet>/24;
# * its own mount, UTS, IPC and PID namespaces (``unshare --mount
#   --propagation private``) and a chroot into an overlay root whose lower layer
#   is a cached Debian bookworm minbase image (openssh-server, python3,
#   iproute2) built once with debootstrap;
# * its own sshd (started by this script: apt does not start services here),
#   listening on <address>:22, key-only root login with a key pair generated in
#   the run folder, and a per-host ed25519 host key that is pinned in the run
#   folder's known_hosts file.
#
# Only 198.51.100.0/24 (TEST-NET-2) is used. There is no NAT and no default
# route in the namespaces: traffic goes only to loopback and between the lab
# hosts and this machine. ``up`` refuses to start (exit 2) when any address or
# route on this machine overlaps that range, or when the bridge / namespaces /
# veths already exist without being recorded in this run folder's state file.
#
# Everything ``up`` creates (bridge, namespaces, veths, PIDs and their process
# groups, PID-namespace inodes) is recorded in <workdir>/state.json as soon as
# it exists; ``down`` tears down exactly what that file records and nothing
# else, and is idempotent. Killing a host's saved PID-namespace init makes the
# kernel end every process inside that host (ssh sessions included).

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import ipaddress
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

SCRIPT = Path(__file__).resolve()
REPO_ROOT = SCRIPT.parents[2]
DEFAULT_WORKDIR = REPO_ROOT / ".lab" / "netns"
DEFAULT_CACHE = REPO_ROOT / ".cache" / "netns-image"

SUBNET = ipaddress.ip_network("198.51.100.0/24")
BRIDGE_ADDR = ipaddress.ip_interface("198.51.100.1/24")
# Networks the lab must never touch: 192.0.2.0/24 is this machine's uplink.
FORBIDDEN_NETS = (ipaddress.ip_network("192.0.2.0/24"),)
BRIDGE = "octlab0"
NETNS_PREFIX = "octlab-"
VETH_PREFIX = "octlab0v"
MARKER = "octant.openclaw-netns-harness"

DEFAULT_HOSTS = "jerry=11:homelab,bobby=12:homelab,billy=13:homelab,macbook=14:workstations"

IMAGE_SUITE = "bookworm"
IMAGE_VARIANT = "minbase"
IMAGE_PACKAGES = ("openssh-server", "python3", "iproute2")
IMAGE_FORMAT = 1  # bump when the post-processing below changes
DEFAULT_MIRROR = "http://deb.debian.org/debian"

# command -> Debian package that provides it
REQUIRED_TOOLS = {
    "debootstrap": "debootstrap",
    "ip": "iproute2",
    "ssh": "openssh-client",
    "ssh-keygen": "openssh-client",
    "unshare": "util-linux",
    "nsenter": "util-linux",
    "mount": "mount",
    "umount": "mount",
    "chroot": "coreutils",
}

DESCRIPTION = "Multi-host test lab in Linux network namespaces (stdlib only, run as root)."

EXIT_OK = 0
EXIT_FAIL = 1
EXIT_REFUSED = 2
EXIT_NOT_UP = 3

# Runs as PID 1 of the host's new PID namespace, inside its network, mount,
# UTS and IPC namespaces: mount the overlay root and the API filesystems,
# then become sshd inside the chroot.
HOST_INIT = r"""
set -eu
root=$1 lower=$2 upper=$3 work=$4 name=$5
hostname "$name"
mount -t overlay overlay -o "lowerdir=$lower,upperdir=$upper,workdir=$work" "$root"
mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$root/sys"
mount -t tmpfs -o nosuid,mode=0755,size=4m tmpfs "$root/dev"
for spec in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
  IFS=: read -r n ma mi <<EOF
$spec
EOF
  mknod -m 0666 "$root/dev/$n" c "$ma" "$mi"
done
mkdir -m 0755 "$root/dev/pts"
mkdir -m 1777 "$root/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts "$root/dev/pts"
mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs "$root/dev/shm"
ln -s pts/ptmx "$root/dev/ptmx"
ln -s /proc/self/fd "$root/dev/fd"
ln -s /proc/self/fd/0 "$root/dev/stdin"
ln -s /proc/self/fd/1 "$root/dev/stdout"
ln -s /proc/self/fd/2 "$root/dev/stderr"
mount -t tmpfs -o nosuid,nodev,mode=0755,size=64m tmpfs "$root/run"
mkdir -m 0755 "$root/run/sshd" "$root/run/lock"
exec chroot "$root" /usr/sbin/sshd -D -e -f /etc/ssh/sshd_config.octlab
"""

SSHD_CONFIG = """\
# Written by tests/harness/netns_hosts.py for lab host {name}.
ListenAddress {address}:22
HostKey /etc/ssh/ssh_host_ed25519_key
PidFile none
PermitRootLogin prohibit-password
PubkeyAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
X11Forwarding no
PrintMotd no
UseDNS no
MaxStartups 100:30:200
MaxSessions 64
AcceptEnv LANG LC_*
Subsystem sftp /usr/lib/openssh/sftp-server
"""


class HarnessError(Exception):
    """An error with a user-facing message and an exit code."""

    def __init__(self, message: str, code: int = EXIT_FAIL) -> None:
        super().__init__(message)
        self.code = code


class Interrupted(Exception):
    """SIGTERM/SIGINT/SIGHUP while bringing the lab up."""


class SignalGuard:
    """Turn termination signals into Interrupted, but never between creating an
    object and recording it in the state file (those run inside critical())."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)

    def __init__(self) -> None:
        self.depth = 0
        self.pending: int | None = None
        self.saved: dict = {}

    def handler(self, signum: int, _frame) -> None:
        if self.depth:
            self.pending = signum
        else:
            raise Interrupted(f"signal {signum}")

    def install(self) -> None:
        self.saved = {s: signal.signal(s, self.handler) for s in self.SIGNALS}

    def restore(self) -> None:
        for s, h in self.saved.items():
            signal.signal(s, h)

    @contextlib.contextmanager
    def critical(self, swallow: bool = False):
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1
            if not self.depth and self.pending is not None:
                signum, self.pending = self.pending, None
                if not swallow:
                    raise Interrupted(f"signal {signum}")


GUARD = SignalGuard()


@dataclass(frozen=True)
class HostSpec:
    name: str
    address: ipaddress.IPv4Address
    groups: tuple[str, ...]

    @property
    def netns(self) -> str:
        return NETNS_PREFIX + self.name


def log(msg: str) -> None:
    print(f"[netns_hosts] {msg}", flush=True)


def warn(msg: str) -> None:
    print(f"[netns_hosts] WARNING: {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- helpers


def find_tool(name: str) -> str | None:
    path = os.environ.get("PATH", "") + ":/usr/local/sbin:/usr/sbin:/sbin:/usr/bin:/bin"
    return shutil.which(name, path=path)


def tool(name: str) -> str:
    found = find_tool(name)
    if not found:
        raise HarnessError(f"required command {name!r} not found")
    return found


def run(
    cmd: list[str], *, check: bool = True, capture: bool = True, timeout: float | None = 120, **kw
) -> subprocess.CompletedProcess:
    cmd = [tool(cmd[0]), *cmd[1:]]
    proc = subprocess.run(
        cmd,
        text=True,
        timeout=timeout,
        stdout=subprocess.PIPE if capture else None,
        stderr=subprocess.PIPE if capture else None,
        stdin=subprocess.DEVNULL,
        check=False,
        **kw,
    )
    if check and proc.returncode != 0:
        err = (proc.stderr or "").strip() if capture else ""
        raise HarnessError(f"command failed ({proc.returncode}): {shlex.join(cmd)}\n{err}")
    return proc


def ip_json(*args: str) -> list:
    out = run(["ip", "-j", *args]).stdout.strip()
    return json.loads(out) if out else []


def write_file(path: Path, content: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(content)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def proc_starttime(pid: int) -> int | None:
    """Start time (clock ticks after boot) of a live process, None if gone/zombie."""
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = data[data.rindex(")") + 2 :].split()
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def ns_inode(pid: int, kind: str) -> int | None:
    try:
        return os.stat(f"/proc/{pid}/ns/{kind}").st_ino
    except OSError:
        return None


def same_process(rec: dict) -> bool:
    """True if the saved PID still refers to the process we started."""
    return proc_starttime(rec["pid"]) == rec.get("starttime")


def mounts_under(path: Path) -> list[str]:
    """Mount points in *this* mount namespace at or below path (deepest first)."""
    prefix = str(path.resolve())
    found = []
    with open("/proc/self/mountinfo", encoding="utf-8") as fh:
        for line in fh:
            mp = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), line.split()[4])
            if mp == prefix or mp.startswith(prefix + "/"):
                found.append(mp)
    return sorted(found, key=len, reverse=True)


def remove_tree(path: Path) -> None:
    """rm -rf that never crosses into a mount point (refuses if one is below)."""
    if not path.exists():
        return
    if mounts_under(path):
        raise HarnessError(f"refusing to delete {path}: mount points below it: {mounts_under(path)}")
    run(["rm", "-rf", "--one-file-system", "--", str(path)], timeout=600)


# --------------------------------------------------------------------------- config


def parse_hosts(spec: str) -> list[HostSpec]:
    hosts: list[HostSpec] = []
    for item in filter(None, (s.strip() for s in spec.split(","))):
        m = re.fullmatch(r"([a-z][a-z0-9-]{0,14})=([0-9.]+)(?::([A-Za-z0-9_+]+))?", item)
        if not m:
            raise HarnessError(f"bad host spec {item!r} (want NAME=OCTET[:GROUP[+GROUP]])", EXIT_REFUSED)
        name, addr, groups = m.group(1), m.group(2), m.group(3)
        if "." not in addr:
            addr = str(SUBNET.network_address + int(addr))
        try:
            address = ipaddress.ip_address(addr)
        except ValueError:
            raise HarnessError(f"{item!r}: {addr!r} is not an IPv4 address or octet", EXIT_REFUSED) from None
        if address not in SUBNET or address in (SUBNET.network_address, SUBNET.broadcast_address, BRIDGE_ADDR.ip):
            raise HarnessError(
                f"{item!r}: address must be a free host address in {SUBNET} other than {BRIDGE_ADDR.ip}", EXIT_REFUSED
            )
        hosts.append(HostSpec(name, address, tuple((groups or "ungrouped").split("+"))))
    if not hosts:
        raise HarnessError("no hosts given", EXIT_REFUSED)
    if len({h.name for h in hosts}) != len(hosts) or len({h.address for h in hosts}) != len(hosts):
        raise HarnessError("host names and addresses must be unique", EXIT_REFUSED)
    if len(hosts) > 64:
        raise HarnessError("at most 64 hosts", EXIT_REFUSED)
    return hosts


def check_path_safe(path: Path, what: str) -> None:
    # overlayfs option strings split on ',' and ':'; keep paths simple.
    if re.search(r"[\s,:\\=]", str(path)):
        raise HarnessError(f"{what} path {path} must not contain whitespace, ',', ':', '=' or '\\'", EXIT_REFUSED)


# --------------------------------------------------------------------------- dependencies


def ensure_tools(install: bool) -> None:
    missing = sorted({pkg for cmd, pkg in REQUIRED_TOOLS.items() if not find_tool(cmd)})
    if not missing:
        return
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", *missing]
    if not install:
        raise HarnessError(f"missing Debian packages {missing}; install them with:\n  {shlex.join(cmd)}", EXIT_FAIL)
    log(f"installing missing Debian packages: {' '.join(missing)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, check=False).returncode != 0:
        log("apt-get install failed; running apt-get update and retrying")
        subprocess.run(["apt-get", "update"], env=env, stdin=subprocess.DEVNULL, check=False)
        if subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, check=False).returncode != 0:
            raise HarnessError(f"could not install {missing}; try: {shlex.join(cmd)}")
    still = sorted(cmd for cmd in REQUIRED_TOOLS if not find_tool(cmd))
    if still:
        raise HarnessError(f"still missing after install: {still}")


# --------------------------------------------------------------------------- image


def apt_mirror() -> str:
    """First Debian mirror serving the image suite in this machine's apt sources."""
    srcdir = Path("/etc/apt/sources.list.d")
    candidates: list[tuple[str, list[str]]] = []
    for f in sorted(srcdir.glob("*.sources")) if srcdir.is_dir() else []:
        for stanza in f.read_text(errors="replace").split("\n\n"):
            fields: dict[str, str] = {}
            for line in stanza.splitlines():
                if line.startswith("#") or ":" not in line:
                    continue
                k, v = line.split(":", 1)
                fields[k.strip().lower()] = v.strip()
            if "deb" in fields.get("types", "").split() and fields.get("enabled", "yes") != "no":
                for uri in fields.get("uris", "").split():
                    candidates.append((uri, fields.get("suites", "").split()))
    for f in [Path("/etc/apt/sources.list"), *sorted(srcdir.glob("*.list"))]:
        if f.is_file():
            for line in f.read_text(errors="replace").splitlines():
                parts = re.sub(r"\[[^]]*\]", "", line).split()
                if len(parts) >= 3 and parts[0] == "deb":
                    candidates.append((parts[1], [parts[2]]))
    for uri, suites in candidates:
        if IMAGE_SUITE in suites and "security" not in uri:
            return uri.rstrip("/")
    return DEFAULT_MIRROR


def image_key() -> str:
    blob = json.dumps(
        {
            "suite": IMAGE_SUITE,
            "variant": IMAGE_VARIANT,
            "packages": sorted(IMAGE_PACKAGES),
            "format": IMAGE_FORMAT,
            "arch": os.uname().machine,
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def ensure_image(cache_dir: Path, mirror: str | None) -> Path:
    """Return the rootfs of the cached image, building it (atomically) if needed."""
    check_path_safe(cache_dir, "cache")
    cache_dir.mkdir(parents=True, exist_ok=True)
    final = cache_dir / f"{IMAGE_SUITE}-{IMAGE_VARIANT}-{image_key()}"
    rootfs = final / "rootfs"
    with open(cache_dir / ".lock", "w") as lockfh:
        try:
            fcntl.flock(lockfh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"image: another build holds {cache_dir / '.lock'}; waiting for it")
            fcntl.flock(lockfh, fcntl.LOCK_EX)
        if (final / "image.json").is_file() and (rootfs / "usr/sbin/sshd").is_file():
            log(f"image: reusing {final}")
            return rootfs
        # Leftovers of interrupted builds (only ours, by name) are never reused.
        for stale in cache_dir.glob(".build-*"):
            log(f"image: removing interrupted build {stale}")
            remove_tree(stale)
        if final.exists():
            log(f"image: removing incomplete image {final}")
            remove_tree(final)
        mirror = mirror or apt_mirror()
        build = Path(tempfile.mkdtemp(prefix=".build-", dir=cache_dir))
        os.chmod(build, 0o755)  # noqa: S103 - image must be readable inside the chroots
        target = build / "rootfs"
        cmd = [
            tool("unshare"),
            "--mount",
            "--propagation",
            "private",
            "--",
            tool("debootstrap"),
            f"--variant={IMAGE_VARIANT}",
            f"--include={','.join(IMAGE_PACKAGES)}",
            "--components=main",
            IMAGE_SUITE,
            str(target),
            mirror,
        ]
        log(f"image: building with debootstrap from {mirror} (about a minute) ...")
        t0 = time.monotonic()
        logfile = build / "debootstrap.log"
        with open(logfile, "w") as lf:
            # pass_fds: debootstrap holds the cache lock too, so if this script dies
            # mid-build no other run touches the build folder until debootstrap ends.
            rc = subprocess.run(
                cmd,
                stdout=lf,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                pass_fds=(lockfh.fileno(),),
                env=dict(os.environ, DEBIAN_FRONTEND="noninteractive", LC_ALL="C"),
                check=False,
            ).returncode
        if rc != 0:
            tail = "\n".join(logfile.read_text(errors="replace").splitlines()[-25:])
            remove_tree(build)
            raise HarnessError(f"debootstrap failed (rc={rc}):\n{tail}")
        # Post-process: per-host identity is added in each host's upper layer.
        for p in (target / "etc/ssh").glob("ssh_host_*"):
            p.unlink()
        for p in (target / "var/cache/apt/archives").glob("*.deb"):
            p.unlink()
        for rel in ("etc/hostname", "etc/machine-id", "var/lib/dbus/machine-id"):
            with contextlib.suppress(FileNotFoundError):
                (target / rel).unlink()
        write_file(target / "etc/resolv.conf", "# netns lab: no DNS\n")
        write_file(target / "usr/sbin/policy-rc.d", "#!/bin/sh\nexit 101\n", 0o755)
        shutil.copy(logfile, build / "image-build.log")
        write_file(
            build / "image.json",
            json.dumps(
                {
                    "suite": IMAGE_SUITE,
                    "variant": IMAGE_VARIANT,
                    "packages": list(IMAGE_PACKAGES),
                    "format": IMAGE_FORMAT,
                    "mirror": mirror,
                    "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                },
                indent=2,
            )
            + "\n",
        )
        os.rename(build, final)  # atomic: a complete image appears at once
        log(f"image: built in {time.monotonic() - t0:.1f}s -> {final}")
        return rootfs


# --------------------------------------------------------------------------- state


class State:
    def __init__(self, workdir: Path) -> None:
        self.path = workdir / "state.json"
        self.data: dict = {}

    def exists(self) -> bool:
        return self.path.is_file()

    def load(self) -> dict:
        self.data = json.loads(self.path.read_text())
        return self.data

    def save(self) -> None:
        write_file(self.path, json.dumps(self.data, indent=2, sort_keys=True) + "\n", 0o600)

    def remove(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


@contextlib.contextmanager
def workdir_lock(workdir: Path):
    workdir.mkdir(parents=True, exist_ok=True)
    with open(workdir / ".lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise HarnessError(f"another netns_hosts.py is working on {workdir}", EXIT_REFUSED) from None
        yield


# --------------------------------------------------------------------------- preflight


def existing_netns() -> set[str]:
    names = {e["name"] for e in ip_json("netns", "list")}
    if Path("/run/netns").is_dir():
        names |= {p.name for p in Path("/run/netns").iterdir()}
    return names


def preflight(hosts: list[HostSpec]) -> None:
    """Refuse (exit 2) on any overlap with this machine's networking."""
    for net in FORBIDDEN_NETS:
        if SUBNET.overlaps(net):  # belt and braces: never take the uplink range
            raise HarnessError(f"lab subnet {SUBNET} overlaps forbidden {net}", EXIT_REFUSED)
    problems: list[str] = []
    for link in ip_json("-4", "addr", "show"):
        for ai in link.get("addr_info", []):
            iface = ipaddress.ip_interface(f"{ai['local']}/{ai.get('prefixlen', 32)}")
            if iface.ip in SUBNET or iface.network.overlaps(SUBNET):
                problems.append(f"address {iface} on {link.get('ifname')} overlaps {SUBNET}")
    for route in ip_json("-4", "route", "show", "table", "all"):
        dst = route.get("dst")
        if not dst or dst == "default":
            continue
        try:
            net = ipaddress.ip_network(dst if "/" in dst else f"{dst}/32", strict=False)
        except ValueError:
            continue
        if net.overlaps(SUBNET):
            where = (f"dev {route['dev']} " if route.get("dev") else "") + f"table {route.get('table', 'main')}"
            problems.append(f"route {route.get('type', '')} {dst} ({where}) overlaps {SUBNET}".replace("  ", " "))
    links = {link["ifname"] for link in ip_json("link", "show")}
    wanted = [BRIDGE] + [f"{VETH_PREFIX}{i}" for i in range(len(hosts))]
    problems += [f"network interface {n} already exists (not recorded as ours)" for n in wanted if n in links]
    nss = existing_netns()
    problems += [f"network namespace {h.netns} already exists (not recorded as ours)" for h in hosts if h.netns in nss]
    if problems:
        raise HarnessError(
            "refusing to start the lab:\n  - "
            + "\n  - ".join(problems)
            + f"\nNothing was changed. The lab needs {SUBNET} and the names "
            f"{BRIDGE}, {VETH_PREFIX}N, {NETNS_PREFIX}<host> for itself.",
            EXIT_REFUSED,
        )


# --------------------------------------------------------------------------- up


def copy_dir_attrs(src: Path, dst: Path) -> None:
    st = src.stat()
    os.chown(dst, st.st_uid, st.st_gid)
    os.chmod(dst, stat.S_IMODE(st.st_mode))


def upper_dir(lower: Path, upper: Path, rel: str, mode: int = 0o755) -> Path:
    """mkdir -p inside the upper layer, copying owner/mode of the lower layer's dirs."""
    cur_l, cur_u = lower, upper
    for part in Path(rel).parts:
        cur_l, cur_u = cur_l / part, cur_u / part
        if not cur_u.is_dir():
            cur_u.mkdir()
            if cur_l.is_dir() and not cur_l.is_symlink():
                copy_dir_attrs(cur_l, cur_u)
            else:
                os.chmod(cur_u, mode)
    return cur_u


def prepare_host_layer(
    host: HostSpec, hosts: list[HostSpec], lower: Path, hostdir: Path, pubkey: str
) -> tuple[str, str]:
    """Create the host's upper/work dirs and its identity; return its host key (type, data)."""
    for d in ("upper", "work", "root"):
        (hostdir / d).mkdir(parents=True, exist_ok=True)
    upper = hostdir / "upper"
    copy_dir_attrs(lower, upper)  # the upper root's attributes become the merged /'s
    etc = upper_dir(lower, upper, "etc")
    write_file(etc / "hostname", f"{host.name}\n")
    write_file(etc / "machine-id", secrets.token_hex(16) + "\n", 0o444)
    lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback", f"{BRIDGE_ADDR.ip}\tcontroller"]
    lines += [f"{h.address}\t{h.name}" for h in hosts]
    write_file(etc / "hosts", "\n".join(lines) + "\n")
    sshdir = upper_dir(lower, upper, "etc/ssh")
    key = sshdir / "ssh_host_ed25519_key"
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"root@{host.name}", "-f", str(key)])
    os.chmod(key, 0o600)
    write_file(sshdir / "sshd_config.octlab", SSHD_CONFIG.format(name=host.name, address=host.address))
    rootssh = upper_dir(lower, upper, "root/.ssh", 0o700)
    os.chmod(rootssh, 0o700)
    write_file(rootssh / "authorized_keys", pubkey, 0o600)
    ktype, kdata = (sshdir / "ssh_host_ed25519_key.pub").read_text().split()[0:2]
    return ktype, kdata


def start_host(host: HostSpec, lower: Path, hostdir: Path, logdir: Path) -> tuple[subprocess.Popen, Path]:
    logfile = logdir / f"{host.name}.log"
    cmd = [
        tool("nsenter"),
        f"--net=/run/netns/{host.netns}",
        "--",
        tool("unshare"),
        "--mount",
        "--propagation",
        "private",
        "--uts",
        "--ipc",
        "--pid",
        "--fork",
        "--kill-child",
        "--",
        "/bin/sh",
        "-c",
        HOST_INIT,
        "octlab-init",
        str(hostdir / "root"),
        str(lower),
        str(hostdir / "upper"),
        str(hostdir / "work"),
        host.name,
    ]
    with open(logfile, "ab") as lf:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=lf,
            stderr=subprocess.STDOUT,
            cwd="/",
            close_fds=True,
            start_new_session=True,
        )
    return proc, logfile


def child_pids(pid: int) -> list[int]:
    try:
        return [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def tcp_open(address: str, port: int = 22, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((address, port), timeout=timeout) as s:
            s.settimeout(timeout)
            return s.recv(4).startswith(b"SSH-")
    except OSError:
        return False


def ssh_base(workdir: Path) -> list[str]:
    return [
        "ssh",
        "-F",
        "/dev/null",
        "-i",
        str(workdir / "ssh/id_ed25519"),
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        f"UserKnownHostsFile={workdir / 'ssh/known_hosts'}",
        "-o",
        "GlobalKnownHostsFile=/dev/null",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "ConnectTimeout=3",
        "-l",
        "root",
    ]


def wait_ssh(
    hosts: list[HostSpec], procs: dict[str, subprocess.Popen], workdir: Path, logs: dict[str, Path], timeout: float
) -> dict[str, float]:
    t0 = time.monotonic()
    ready: dict[str, float] = {}
    errors: dict[str, str] = {}

    def one(h: HostSpec) -> None:
        while time.monotonic() - t0 < timeout:
            if procs[h.name].poll() is not None:
                errors[h.name] = f"host process exited with {procs[h.name].returncode}"
                return
            if tcp_open(str(h.address)):
                r = subprocess.run(
                    [
                        tool("ssh"),
                        *ssh_base(workdir)[1:],
                        str(h.address),
                        "/usr/bin/python3 -c 'import json, sys; print(sys.version_info[0])'",
                    ],
                    capture_output=True,
                    text=True,
                    stdin=subprocess.DEVNULL,
                    timeout=30,
                    check=False,
                )
                if r.returncode == 0 and r.stdout.strip() == "3":
                    ready[h.name] = time.monotonic() - t0
                    return
                errors[h.name] = (r.stderr or r.stdout).strip()
            time.sleep(0.1)
        errors.setdefault(h.name, "timed out")
        errors[h.name] = f"no ssh after {timeout:.0f}s: {errors[h.name]}"

    threads = [threading.Thread(target=one, args=(h,), daemon=True) for h in hosts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    failed = {n: e for n, e in errors.items() if n not in ready}
    if failed:
        details = []
        for n, e in failed.items():
            tail = "\n      ".join(logs[n].read_text(errors="replace").splitlines()[-10:]) if logs[n].exists() else ""
            details.append(f"{n}: {e}\n      {tail}")
        raise HarnessError("hosts did not become reachable over ssh:\n  " + "\n  ".join(details))
    return ready


def yaml_str(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid YAML double-quoted scalar


def write_inventory(workdir: Path, hosts: list[HostSpec]) -> Path:
    key = workdir / "ssh/id_ed25519"
    common = " ".join(
        [
            "-o",
            f"UserKnownHostsFile={shlex.quote(str(workdir / 'ssh/known_hosts'))}",
            "-o",
            "GlobalKnownHostsFile=/dev/null",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "IdentitiesOnly=yes",
        ]
    )
    groups: dict[str, list[HostSpec]] = {}
    for h in hosts:
        for g in h.groups:
            groups.setdefault(g, []).append(h)
    out = [
        "---",
        "# Generated by tests/harness/netns_hosts.py up; removed by `down`. Do not edit.",
        "all:",
        "  children:",
    ]
    for g, members in groups.items():
        out += [f"    {g}:", "      hosts:"]
        for h in members:
            out += [
                f"        {h.name}:",
                f"          ansible_host: {yaml_str(str(h.address))}",
                "          ansible_port: 22",
                "          ansible_connection: ssh",
                "          ansible_user: root",
                f"          ansible_ssh_private_key_file: {yaml_str(str(key))}",
                f"          ansible_ssh_common_args: {yaml_str(common)}",
                "          ansible_host_key_checking: true",
                "          ansible_python_interpreter: /usr/bin/python3",
            ]
    path = workdir / "inventory.yml"
    write_file(path, "\n".join(out) + "\n")
    return path


def cmd_up(args: argparse.Namespace) -> int:
    t_start = time.monotonic()
    hosts = parse_hosts(args.hosts)
    workdir: Path = args.workdir
    check_path_safe(workdir, "workdir")
    if os.geteuid() != 0:
        raise HarnessError("must run as root (namespaces, bridge, mounts)", EXIT_REFUSED)
    ensure_tools(install=args.install_deps)
    state = State(workdir)
    with workdir_lock(workdir):
        if state.exists():
            raise HarnessError(
                f"a lab is already recorded in {state.path}; run `{SCRIPT.name} down --workdir {workdir}` first",
                EXIT_REFUSED,
            )
        preflight(hosts)
        t_img = time.monotonic()
        lower = ensure_image(args.cache_dir, args.mirror)
        t_img = time.monotonic() - t_img

        GUARD.install()
        state.data = {
            "marker": MARKER,
            "version": 1,
            "workdir": str(workdir),
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "harness_pid": os.getpid(),
            "subnet": str(SUBNET),
            "lower": str(lower),
            "bridge": None,
            "netns": [],
            "veths": [],
            "processes": [],
            "hosts": [],
        }
        state.save()
        try:
            timings = bring_up(state, hosts, lower, workdir, args.timeout)
        except (HarnessError, Interrupted, Exception) as exc:  # noqa: BLE001 - always clean up
            warn(f"up failed: {exc}; tearing down what was created")
            with GUARD.critical(swallow=True):  # a second Ctrl-C must not abort the cleanup
                teardown(state, workdir)
            if isinstance(exc, HarnessError):
                raise
            raise HarnessError(f"up failed: {exc!r}") from exc
        finally:
            GUARD.restore()
    total = time.monotonic() - t_start
    log(
        f"timing: image {t_img:.1f}s, network {timings['network']:.2f}s, "
        f"hosts started {timings['start']:.2f}s, ssh ready {timings['ssh']:.2f}s "
        f"({', '.join(f'{n} {t:.2f}s' for n, t in timings['per_host'].items())}), total {total:.1f}s"
    )
    log(f"inventory: {workdir / 'inventory.yml'}")
    log(f"try: ansible -i {workdir / 'inventory.yml'} all -m ansible.builtin.ping")
    return EXIT_OK


def bring_up(state: State, hosts: list[HostSpec], lower: Path, workdir: Path, timeout: float) -> dict:
    d = state.data
    timings: dict = {}
    hostsdir, logdir, sshdir = workdir / "hosts", workdir / "logs", workdir / "ssh"
    remove_tree(hostsdir)  # upper layers of an earlier run (never mounted here)
    for p in (workdir / "inventory.yml",):
        with contextlib.suppress(FileNotFoundError):
            p.unlink()
    logdir.mkdir(parents=True, exist_ok=True)
    remove_tree(sshdir)
    sshdir.mkdir(mode=0o700)

    # client key + per-host layers (host keys pinned in known_hosts)
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "octlab-harness", "-f", str(sshdir / "id_ed25519")])
    pubkey = (sshdir / "id_ed25519.pub").read_text()
    known = []
    for h in hosts:
        ktype, kdata = prepare_host_layer(h, hosts, lower, hostsdir / h.name, pubkey)
        known.append(f"{h.address},{h.name} {ktype} {kdata}")
    write_file(sshdir / "known_hosts", "\n".join(known) + "\n", 0o600)

    # network: bridge, then per host a namespace and a veth pair
    t0 = time.monotonic()
    with GUARD.critical():
        run(["ip", "link", "add", BRIDGE, "type", "bridge", "stp_state", "0", "forward_delay", "0"])
        d["bridge"] = {"name": BRIDGE, "alias": f"{MARKER} {workdir}"[:200]}
        state.save()
    run(["ip", "link", "set", BRIDGE, "alias", d["bridge"]["alias"]])
    # no IPv6 on lab links (keeps the lab IPv4-only and quiet)
    with contextlib.suppress(OSError):
        Path(f"/proc/sys/net/ipv6/conf/{BRIDGE}/disable_ipv6").write_text("1")
    run(["ip", "addr", "add", str(BRIDGE_ADDR), "dev", BRIDGE])
    run(["ip", "link", "set", BRIDGE, "up"])
    for i, h in enumerate(hosts):
        with GUARD.critical():
            run(["ip", "netns", "add", h.netns])
            d["netns"].append(h.netns)
            state.save()
        veth = f"{VETH_PREFIX}{i}"
        with GUARD.critical():
            run(["ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", h.netns])
            d["veths"].append(veth)
            state.save()
        with contextlib.suppress(OSError):
            Path(f"/proc/sys/net/ipv6/conf/{veth}/disable_ipv6").write_text("1")
        run(["ip", "link", "set", veth, "master", BRIDGE, "up"])
        run(["ip", "-n", h.netns, "link", "set", "lo", "up"])
        run(["ip", "-n", h.netns, "addr", "add", f"{h.address}/{SUBNET.prefixlen}", "dev", "eth0"])
        run(["ip", "-n", h.netns, "link", "set", "eth0", "up"])
        d["hosts"].append(
            {
                "name": h.name,
                "address": str(h.address),
                "groups": list(h.groups),
                "netns": h.netns,
                "veth": veth,
                "dir": str(hostsdir / h.name),
            }
        )
        state.save()
    timings["network"] = time.monotonic() - t0

    # hosts: PID-namespace init becomes sshd in the chroot
    t0 = time.monotonic()
    procs: dict[str, subprocess.Popen] = {}
    logs: dict[str, Path] = {}
    for h in hosts:
        with GUARD.critical():
            proc, logs[h.name] = start_host(h, lower, hostsdir / h.name, logdir)
            procs[h.name] = proc
            d["processes"].append(
                {
                    "host": h.name,
                    "role": "unshare",
                    "pid": proc.pid,
                    "pgid": proc.pid,
                    "starttime": proc_starttime(proc.pid),
                }
            )
            state.save()
    for h in hosts:  # record each namespace init (the unshare's forked child)
        proc = procs[h.name]
        deadline = time.monotonic() + 5
        kids: list[int] = []
        while not kids and proc.poll() is None and time.monotonic() < deadline:
            kids = child_pids(proc.pid)
            if not kids:
                time.sleep(0.01)
        for kid in kids:
            d["processes"].append(
                {
                    "host": h.name,
                    "role": "init",
                    "pid": kid,
                    "pgid": proc.pid,
                    "starttime": proc_starttime(kid),
                    "pidns": ns_inode(kid, "pid"),
                    "mntns": ns_inode(kid, "mnt"),
                }
            )
        state.save()
        if proc.poll() is not None:
            tail = logs[h.name].read_text(errors="replace")[-2000:]
            raise HarnessError(f"{h.name}: host process exited ({proc.returncode}):\n{tail}")
    timings["start"] = time.monotonic() - t0

    t0 = time.monotonic()
    timings["per_host"] = wait_ssh(hosts, procs, workdir, logs, timeout)
    timings["ssh"] = time.monotonic() - t0
    inv = write_inventory(workdir, hosts)
    d["inventory"] = str(inv)
    d["ready_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    state.save()
    return timings


# --------------------------------------------------------------------------- down


def kill_saved(processes: list[dict], grace: float = 5.0) -> None:
    """Signal saved PIDs (and the process groups we created) that are still ours."""
    alive = [p for p in processes if same_process(p)]
    if not alive:
        return

    def signal_all(sig: int) -> None:
        groups_done: set[int] = set()
        for p in alive:
            if not same_process(p):
                continue
            pgid = p.get("pgid")
            try:
                if pgid and pgid not in groups_done and os.getpgid(p["pid"]) == pgid:
                    os.killpg(pgid, sig)
                    groups_done.add(pgid)
                else:
                    os.kill(p["pid"], sig)
            except ProcessLookupError:
                pass

    log(f"stopping saved processes: {', '.join(str(p['pid']) for p in alive)}")
    signal_all(signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(same_process(p) for p in alive):
        time.sleep(0.05)
    if any(same_process(p) for p in alive):
        warn("processes still alive after SIGTERM; sending SIGKILL")
        signal_all(signal.SIGKILL)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(same_process(p) for p in alive):
            time.sleep(0.05)
    left = [p["pid"] for p in alive if same_process(p)]
    if left:
        warn(f"saved processes still alive: {left}")


def teardown(state: State, workdir: Path) -> list[str]:
    """Remove everything recorded in state (idempotent); return a list of problems."""
    d = state.data
    problems: list[str] = []
    if d.get("marker") != MARKER:
        raise HarnessError(f"{state.path} is not a netns_hosts.py state file; not touching anything", EXIT_REFUSED)
    kill_saved(d.get("processes", []))
    # Wait for each saved PID namespace to be gone (the kernel ends its members).
    deadline = time.monotonic() + 5
    hosts_root = workdir / "hosts"
    for mp in mounts_under(hosts_root):  # nothing is mounted here normally (private mount ns)
        r = run(["umount", mp], check=False)
        if r.returncode != 0:
            problems.append(f"could not unmount {mp}: {r.stderr.strip()}")
    nss = existing_netns()
    for ns in d.get("netns", []):
        if ns not in nss:
            continue
        pids = run(["ip", "netns", "pids", ns], check=False).stdout.split()
        while pids and time.monotonic() < deadline:
            time.sleep(0.1)
            pids = run(["ip", "netns", "pids", ns], check=False).stdout.split()
        if pids:
            problems.append(f"processes still in {ns} (not killed: not saved by us): {' '.join(pids)}")
        r = run(["ip", "netns", "delete", ns], check=False)
        if r.returncode != 0:
            problems.append(f"could not delete netns {ns}: {r.stderr.strip()}")
        else:
            log(f"deleted netns {ns}")
    links = {link["ifname"]: link for link in ip_json("link", "show")}
    for veth in d.get("veths", []):
        if veth in links:
            run(["ip", "link", "delete", veth], check=False)
            log(f"deleted veth {veth}")
    br = d.get("bridge")
    if br and br["name"] in links:
        alias = links[br["name"]].get("ifalias", "")
        if alias and alias != br["alias"]:
            problems.append(f"bridge {br['name']} has alias {alias!r}, not ours; left alone")
        else:
            run(["ip", "link", "delete", br["name"]], check=False)
            log(f"deleted bridge {br['name']}")
    if not problems:
        try:
            remove_tree(hosts_root)
        except HarnessError as exc:
            problems.append(str(exc))
        with contextlib.suppress(FileNotFoundError):
            (workdir / "inventory.yml").unlink()
        with contextlib.suppress(HarnessError):
            remove_tree(workdir / "ssh")  # the lab's keys are useless now; logs/ stay
        state.remove()
    else:
        for p in problems:
            warn(p)
    return problems


def cmd_down(args: argparse.Namespace) -> int:
    workdir: Path = args.workdir
    state = State(workdir)
    if not state.exists():
        log(f"nothing recorded in {state.path}; nothing to do")
        return EXIT_OK
    if os.geteuid() != 0:
        raise HarnessError("must run as root", EXIT_REFUSED)
    t0 = time.monotonic()
    with workdir_lock(workdir):
        state.load()
        problems = teardown(state, workdir)
    if problems:
        return EXIT_FAIL
    log(f"lab in {workdir} torn down in {time.monotonic() - t0:.2f}s")
    return EXIT_OK


# --------------------------------------------------------------------------- status


def cmd_status(args: argparse.Namespace) -> int:
    state = State(args.workdir)
    if not state.exists():
        if args.json:
            print(json.dumps({"up": False, "recorded": False}))
        else:
            log(f"no lab recorded in {state.path}")
        return EXIT_NOT_UP
    d = state.load()
    nss = existing_netns()
    report = {
        "recorded": True,
        "workdir": d.get("workdir"),
        "inventory": d.get("inventory"),
        "bridge": d.get("bridge", {}) and d["bridge"]["name"],
        "hosts": [],
    }
    healthy = bool(d.get("ready_at"))
    for h in d.get("hosts", []):
        procs = [p for p in d.get("processes", []) if p["host"] == h["name"]]
        alive = bool(procs) and all(same_process(p) for p in procs)
        ssh = tcp_open(h["address"])
        report["hosts"].append(
            {
                "name": h["name"],
                "address": h["address"],
                "groups": h["groups"],
                "netns": h["netns"] in nss,
                "process": alive,
                "ssh": ssh,
                "pids": [p["pid"] for p in procs],
            }
        )
        healthy = healthy and alive and ssh and h["netns"] in nss
    report["up"] = healthy
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(
            f"lab {'UP' if healthy else 'DEGRADED'}  workdir={d.get('workdir')}  "
            f"bridge={report['bridge']}  inventory={d.get('inventory')}"
        )
        for h in report["hosts"]:
            print(
                f"  {h['name']:<10} {h['address']:<15} groups={','.join(h['groups']):<14} "
                f"netns={'ok' if h['netns'] else 'MISSING'} "
                f"pids={'/'.join(map(str, h['pids']))}:{'alive' if h['process'] else 'DEAD'} "
                f"ssh={'ok' if h['ssh'] else 'DOWN'}"
            )
    return EXIT_OK if healthy else EXIT_FAIL


def cmd_image(args: argparse.Namespace) -> int:
    if os.geteuid() != 0:
        raise HarnessError("must run as root (debootstrap)", EXIT_REFUSED)
    ensure_tools(install=args.install_deps)
    print(ensure_image(args.cache_dir, args.mirror))
    return EXIT_OK


# --------------------------------------------------------------------------- cli


def build_parser() -> argparse.ArgumentParser:
    epilog = f"""\
network:      {SUBNET} only; bridge {BRIDGE} = {BRIDGE_ADDR}; namespaces {NETNS_PREFIX}<host>;
              veths {VETH_PREFIX}<n> (host side) / eth0 (lab side). No NAT, no default route.
              192.0.2.0/24 (this machine's uplink) is never used.
run folder:   --workdir (default: <repo>/.lab/netns) holds state.json, inventory.yml,
              ssh/ (id_ed25519, known_hosts), hosts/<name>/{{upper,work,root}}, logs/.
image cache:  --cache-dir (default: <repo>/.cache/netns-image); Debian {IMAGE_SUITE} {IMAGE_VARIANT} +
              {", ".join(IMAGE_PACKAGES)}, built once with debootstrap into a temporary
              .build-* folder and renamed into place when complete (never reused half-built).
dependencies: needs {", ".join(sorted(set(REQUIRED_TOOLS.values())))} (Debian packages).
              Missing ones are installed with `apt-get install -y --no-install-recommends
              <packages>` (only if missing); with --no-install-deps the script stops instead
              and prints that exact apt-get command.
exit codes:   0 ok; 1 failure (up cleans up after itself); 2 refused (overlap, foreign
              objects, lab already recorded, not root); 3 status: no lab recorded.
examples:     sudo {SCRIPT.name} up && ansible -i .lab/netns/inventory.yml all -m ansible.builtin.ping
              sudo {SCRIPT.name} status
              sudo {SCRIPT.name} down
"""
    p = argparse.ArgumentParser(
        prog=SCRIPT.name,
        description=DESCRIPTION,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--workdir",
        type=lambda s: Path(s).absolute(),
        default=DEFAULT_WORKDIR,
        help="run folder (default: %(default)s)",
    )
    img = argparse.ArgumentParser(add_help=False)
    img.add_argument(
        "--cache-dir",
        type=lambda s: Path(s).absolute(),
        default=DEFAULT_CACHE,
        help="image cache folder (default: %(default)s)",
    )
    img.add_argument(
        "--mirror",
        default=None,
        help="Debian mirror for debootstrap (default: the bookworm URI in this "
        f"machine's apt sources, else {DEFAULT_MIRROR})",
    )
    img.add_argument(
        "--no-install-deps",
        dest="install_deps",
        action="store_false",
        help="do not apt-get install missing packages; fail and print the command",
    )
    sub = p.add_subparsers(dest="command", required=True)
    up = sub.add_parser(
        "up",
        parents=[common, img],
        help="build/reuse the image, start the lab, write inventory.yml, wait for ssh",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=epilog,
    )
    up.add_argument(
        "--hosts", default=DEFAULT_HOSTS, help="comma list NAME=OCTET[:GROUP[+GROUP]] (default: %(default)s)"
    )
    up.add_argument(
        "--timeout", type=float, default=60.0, help="seconds to wait for ssh on all hosts (default: %(default)s)"
    )
    up.set_defaults(func=cmd_up)
    down = sub.add_parser("down", parents=[common], help="tear down exactly what state.json records (idempotent)")
    down.set_defaults(func=cmd_down)
    st = sub.add_parser(
        "status", parents=[common], help="show the recorded lab and its health (exit 0 healthy, 1 degraded, 3 none)"
    )
    st.add_argument("--json", action="store_true", help="machine-readable output")
    st.set_defaults(func=cmd_status)
    im = sub.add_parser("image", parents=[img], help="only build (or verify) the cached image")
    im.set_defaults(func=cmd_image)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except HarnessError as exc:
        print(f"[netns_hosts] ERROR: {exc}", file=sys.stderr, flush=True)
        return exc.code
    except KeyboardInterrupt:
        print("[netns_hosts] interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
