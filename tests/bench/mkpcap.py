# SPDX-License-Identifier: BSD-3-Clause
"""Write a pcap of STUN Binding Requests (IPv4, distinct source ports and
transaction ids) for the capacity benchmark: Tailscale's form (SOFTWARE
tailnode, FINGERPRINT), or with --plain a bare 20-byte request as generic
STUN clients send, which takes the general parser and the UDP checksum
check instead of the fast path.

    mkpcap.py OUT.pcap [COUNT] [--plain]
"""
import os
import struct
import sys
import zlib


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(">%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def request(txid):
    body = struct.pack(">HHI", 1, 20, 0x2112A442) + txid + struct.pack(">HH", 0x8022, 8) + b"tailnode"
    return body + struct.pack(">HHI", 0x8028, 4, (zlib.crc32(body) ^ 0x5354554E) & 0xFFFFFFFF)


PLAIN = "--plain" in sys.argv
ARGS = [a for a in sys.argv[1:] if a != "--plain"]


def frame(i):
    txid = os.urandom(12)
    payload = struct.pack(">HHI", 1, 0, 0x2112A442) + txid if PLAIN else request(txid)
    src, dst = bytes([198, 18, 1, 2 + i % 200]), bytes([198, 18, 0, 1])
    ulen = 8 + len(payload)
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + ulen, i & 0xFFFF, 0x4000, 64, 17, 0, src, dst)
    ip = ip[:10] + struct.pack(">H", csum(ip)) + ip[12:]
    udp = struct.pack(">HHHH", 10000 + i, 3478, ulen, 0) + payload
    c = csum(src + dst + struct.pack(">BBH", 0, 17, ulen) + udp) or 0xFFFF
    udp = udp[:6] + struct.pack(">H", c) + udp[8:]
    return b"\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02\x08\x00" + ip + udp


with open(ARGS[0], "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    for i in range(int(ARGS[1]) if len(ARGS) > 1 else 1024):
        fr = frame(i)
        f.write(struct.pack("<IIII", 0, 0, len(fr), len(fr)) + fr)
