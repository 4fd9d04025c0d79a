#!/usr/bin/python3
"""Traffic for the tests, run inside a NIC's or a host's namespace.

  serve tcp|udp PORT          answer every connection or datagram with b"ok" (runs until killed)
  connect tcp|udp IP PORT     exit 0 if the server's answer came back within a second, else 1
  watch IP PORT TIMEOUT_MS    connect over TCP again and again; print "<epoch ms> open|closed" at each change
  send-spoofed KIND IFACE ... craft a frame with scapy (Debian's python3-scapy) and send it once:
      mac SRC_MAC DST_IP        an ICMP echo from a MAC that is not the interface's
      ip SRC_IP DST_IP          a UDP datagram to port 53 from an address that is not the NIC's
      garp IP                   a gratuitous ARP reply claiming IP for the interface's MAC
  tap-send TAP SRC_MAC SRC_IP DST_IP
                              what a VM behind the TAP device sends: one ICMP echo, written to the
                              TAP three times (run in the namespace that holds the TAP)
  vxlan-fuzz DST_IP VNI COUNT SEED
                              COUNT malformed VXLAN datagrams to DST_IP:4789: random lengths and
                              bytes, the I flag unset, unknown VNIs, VNI's header over a cut frame
  vxlan-arp DST_IP VNI        one well-formed VXLAN datagram carrying a broadcast ARP request
  blob-serve PORT             take one TCP connection, print the SHA-256 of all it sent, exit
  blob-send IP PORT BYTES     send BYTES pseudo-random bytes over TCP, print their SHA-256
"""

import socket
import sys


def serve(proto: str, port: int) -> None:
    if proto == "tcp":
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", port))
        s.listen(64)
        while True:
            c, _ = s.accept()
            try:
                c.sendall(b"ok")
            finally:
                c.close()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", port))
    while True:
        _, peer = s.recvfrom(2048)
        s.sendto(b"ok", peer)


def connect(proto: str, ip: str, port: int) -> int:
    try:
        if proto == "tcp":
            with socket.create_connection((ip, port), timeout=1) as c:
                return 0 if c.recv(2) == b"ok" else 1
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(1)
            s.sendto(b"hi", (ip, port))
            return 0 if s.recvfrom(2048)[0] == b"ok" else 1
    except OSError:
        return 1


def watch(ip: str, port: int, timeout_ms: int) -> None:
    import time

    last = None
    while True:
        try:
            with socket.create_connection((ip, port), timeout=timeout_ms / 1000) as c:
                state = "open" if c.recv(2) == b"ok" else "closed"
        except OSError:
            state = "closed"
        if state != last:
            print(f"{time.time() * 1000:.1f} {state}", flush=True)
            last = state
        if state == "open":
            time.sleep(0.002)


def spoof(kind: str, iface: str, args: list) -> None:
    from scapy.all import ARP, ICMP, IP, UDP, Ether, get_if_hwaddr, sendp  # noqa: only this command needs scapy

    own = get_if_hwaddr(iface)
    if kind == "mac":
        frame = Ether(src=args[0], dst="ff:ff:ff:ff:ff:ff") / IP(dst=args[1]) / ICMP()
    elif kind == "ip":
        frame = Ether(src=own, dst="ff:ff:ff:ff:ff:ff") / IP(src=args[0], dst=args[1]) / UDP(sport=5353, dport=53) / b"hi"
    elif kind == "garp":
        frame = Ether(src=own, dst="ff:ff:ff:ff:ff:ff") / ARP(op=2, hwsrc=own, psrc=args[0], hwdst="ff:ff:ff:ff:ff:ff", pdst=args[0])
    else:
        raise SystemExit(f"unknown spoof kind {kind}")
    sendp(frame, iface=iface, count=3, inter=0.05, verbose=False)


def tap_send(tap: str, src_mac: str, src_ip: str, dst_ip: str) -> None:
    import fcntl
    import os
    import struct
    import time

    from scapy.all import ICMP, IP, Ether  # noqa: only this command needs scapy

    TUNSETIFF, IFF_TAP, IFF_NO_PI = 0x400454CA, 0x0002, 0x1000
    fd = os.open("/dev/net/tun", os.O_RDWR)
    try:
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", tap.encode(), IFF_TAP | IFF_NO_PI))
        time.sleep(0.3)  # the attached TAP gets its carrier
        frame = bytes(Ether(src=src_mac, dst="ff:ff:ff:ff:ff:ff") / IP(src=src_ip, dst=dst_ip) / ICMP())
        for _ in range(3):
            os.write(fd, frame)
            time.sleep(0.05)
    finally:
        os.close(fd)


def vxlan_fuzz(dst: str, vni: int, count: int, seed: int) -> None:
    import random
    import time

    rnd = random.Random(seed)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for i in range(count):
        kind = i % 4
        if kind == 0:  # anything, of any length up to a header and a bit
            d = bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(0, 40)))
        elif kind == 1:  # I flag unset, a real VNI
            d = bytes([0, 0, 0, 0]) + vni.to_bytes(3, "big") + b"\0" + bytes(rnd.getrandbits(8) for _ in range(60))
        elif kind == 2:  # a VNI nobody has
            d = bytes([8, 0, 0, 0]) + rnd.randrange(1 << 23, 1 << 24).to_bytes(3, "big") + b"\0" + bytes(64)
        else:  # a header and a frame too short to be Ethernet
            d = bytes([8, 0, 0, 0]) + vni.to_bytes(3, "big") + b"\0" + bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(0, 14)))
        s.sendto(d, (dst, 4789))
        if i % 100 == 99:
            time.sleep(0.002)  # a stream, not a burst that the receiver's socket buffer would drop


def vxlan_arp(dst: str, vni: int) -> None:
    frame = bytes.fromhex("ffffffffffff" "02000000bad0" "0806" "0001080006040001" "02000000bad0" "c6120163" "000000000000" "c6120164")
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(bytes([8, 0, 0, 0]) + vni.to_bytes(3, "big") + b"\0" + frame, (dst, 4789))


def blob_serve(port: int) -> None:
    import hashlib

    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(1)
    print("listening", flush=True)
    c, _ = s.accept()
    h = hashlib.sha256()
    while True:
        b = c.recv(1 << 16)
        if not b:
            break
        h.update(b)
    print(h.hexdigest(), flush=True)


def blob_send(ip: str, port: int, size: int) -> None:
    import hashlib
    import random

    rnd = random.Random(size)
    h = hashlib.sha256()
    with socket.create_connection((ip, port), timeout=10) as c:
        left = size
        while left > 0:
            b = rnd.randbytes(min(left, 1 << 16))
            h.update(b)
            c.sendall(b)
            left -= len(b)
    print(h.hexdigest())


def main() -> int:
    cmd = sys.argv[1]
    if cmd == "serve":
        serve(sys.argv[2], int(sys.argv[3]))
    elif cmd == "connect":
        return connect(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif cmd == "watch":
        watch(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif cmd == "send-spoofed":
        spoof(sys.argv[2], sys.argv[3], sys.argv[4:])
    elif cmd == "tap-send":
        tap_send(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5])
    elif cmd == "vxlan-fuzz":
        vxlan_fuzz(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    elif cmd == "blob-serve":
        blob_serve(int(sys.argv[2]))
    elif cmd == "blob-send":
        blob_send(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif cmd == "vxlan-arp":
        vxlan_arp(sys.argv[2], int(sys.argv[3]))
    else:
        raise SystemExit(f"unknown command {cmd}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
