"""Hosts on one machine: Linux network namespaces linked to a bridge by veth pairs.

`HostNet(n)` makes a bridge with an address of a private /24 in this namespace, and n
namespaces, each with one end of a veth pair (the other end on the bridge) and an address on
the same /24. A server bound to the bridge's address (`gateway`) is reachable from the
namespaces over those links only; in a namespace, 127.0.0.1 is that namespace's own loopback.
Names carry a random tag, so parallel runs never meet, and `down()` removes everything it made
(killing whatever still runs in the namespaces) whatever state `up()` reached.

Needs root (CAP_NET_ADMIN) and iproute2's `ip`. Used by tests/integration/test_multihost.py
and bench/scale.py.
"""

from __future__ import annotations

import ipaddress
import os
import random
import shutil
import signal
import subprocess
import uuid
import contextlib


class NetError(RuntimeError):
    pass


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if check and result.returncode != 0:
        raise NetError(f"ip {' '.join(args)}: {result.stderr.strip()}")
    return result


def requirements() -> str | None:
    """Why namespaces cannot be made here, or None."""
    if shutil.which("ip") is None:
        return "iproute2's `ip` is not installed (apt-get install iproute2; .ci/run does)"
    if os.geteuid() != 0:
        return "making network namespaces needs root (CAP_NET_ADMIN)"
    return None


def _free_subnet() -> ipaddress.IPv4Network:
    used = []
    for line in _ip("-4", "-o", "addr", "show").stdout.splitlines():
        parts = line.split()
        if "inet" in parts:
            used.append(ipaddress.ip_interface(parts[parts.index("inet") + 1]).network)
    for _ in range(200):
        net = ipaddress.ip_network(f"10.{random.randint(200, 250)}.{random.randint(0, 254)}.0/24")
        if not any(net.overlaps(u) for u in used):
            return net
    raise NetError("no free 10.x.y.0/24 for the test network")


class HostNet:
    def __init__(self, hosts: int) -> None:
        self.tag = uuid.uuid4().hex[:6]
        self.bridge = f"cdb{self.tag}"
        self.namespaces = [f"cd-{self.tag}-h{i}" for i in range(1, hosts + 1)]
        self.subnet = _free_subnet()
        base = self.subnet.network_address
        self.gateway = str(base + 1)
        self.addresses = [str(base + 10 + i) for i in range(1, hosts + 1)]

    def up(self) -> HostNet:
        try:
            _ip("link", "add", self.bridge, "type", "bridge")
            _ip("addr", "add", f"{self.gateway}/24", "dev", self.bridge)
            _ip("link", "set", self.bridge, "up")
            for i, (ns, address) in enumerate(zip(self.namespaces, self.addresses, strict=False), start=1):
                outer, inner = f"cdr{self.tag}{i}", f"cdn{self.tag}{i}"
                _ip("netns", "add", ns)
                _ip("link", "add", outer, "type", "veth", "peer", "name", inner, "netns", ns)
                _ip("link", "set", outer, "master", self.bridge)
                _ip("link", "set", outer, "up")
                _ip("-n", ns, "addr", "add", f"{address}/24", "dev", inner)
                _ip("-n", ns, "link", "set", inner, "up")
                _ip("-n", ns, "link", "set", "lo", "up")
        except BaseException:
            self.down()
            raise
        return self

    def argv(self, host: int, argv: list[str]) -> list[str]:
        """`argv` run in namespace number `host` (0-based)."""
        return ["ip", "netns", "exec", self.namespaces[host], *argv]

    def down(self) -> None:
        for ns in self.namespaces:
            pids = _ip("netns", "pids", ns, check=False).stdout.split()
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid), signal.SIGKILL)
            _ip("netns", "del", ns, check=False)  # removes its veth pair too
        _ip("link", "del", self.bridge, check=False)

    def leftovers(self) -> list[str]:
        """Anything of this net still present (for the tests of the cleanup)."""
        names = set(_ip("netns", "list", check=False).stdout.split())
        links = _ip("-o", "link", "show", check=False).stdout
        return [ns for ns in self.namespaces if ns in names] + ([self.bridge] if f" {self.bridge}:" in links else [])

    def __enter__(self) -> HostNet:
        return self.up()

    def __exit__(self, *exc) -> None:
        self.down()
