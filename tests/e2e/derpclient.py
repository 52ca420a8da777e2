# SPDX-License-Identifier: BSD-3-Clause
"""An independent DERP client for the end-to-end suite.

Written from docs/protocol.md, not from the server's code, so
that the two implementations check each other. Runs under Debian's
/usr/bin/python3 with python3-nacl (the NaCl box) and python3-websockets is
not needed: the WebSocket framing here is minimal and explicit on purpose.
"""
import base64
import hashlib
import json
import os
import socket
import ssl
import struct
import time

from nacl.public import Box, PrivateKey, PublicKey

MAGIC = b"DERP\xf0\x9f\x94\x91"
DISCO_MAGIC = b"TS\xf0\x9f\x92\xac"

SERVER_KEY = 0x01
CLIENT_INFO = 0x02
SERVER_INFO = 0x03
SEND_PACKET = 0x04
RECV_PACKET = 0x05
KEEP_ALIVE = 0x06
NOTE_PREFERRED = 0x07
PEER_GONE = 0x08
PEER_PRESENT = 0x09
FORWARD_PACKET = 0x0A
WATCH_CONNS = 0x10
CLOSE_PEER = 0x11
PING = 0x12
PONG = 0x13
HEALTH = 0x14
RESTARTING = 0x15


class Closed(Exception):
    """The server closed the connection."""


def disco_payload(n=80):
    """A packet that looks like disco: >= 62 bytes, 'TS' + speech balloon."""
    return DISCO_MAGIC + os.urandom(max(0, n - len(DISCO_MAGIC)))


class Conn:
    """One connection: TCP, optionally TLS, optionally WebSocket."""

    def __init__(self, host, port, use_tls=True, sni="localhost", timeout=10,
                 websocket=False, tls_max=None, rcvbuf=None):
        if rcvbuf:
            # before connecting, so that the window offered is that small
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            self.sock.settimeout(timeout)
            self.sock.connect((host, port))
        else:
            self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.tls_version = None
        if use_tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            ctx.set_alpn_protocols(["http/1.1"])
            if tls_max:
                ctx.maximum_version = tls_max
            self.sock = ctx.wrap_socket(self.sock, server_hostname=sni)
            self.tls_version = self.sock.version()
        self.buf = b""
        self.websocket = websocket
        self.ws_buf = b""

    # -- raw bytes --------------------------------------------------------
    def sendall(self, data):
        if self.websocket:
            data = ws_frame(0x2, data, mask=True)
        self.sock.sendall(data)

    def send_raw(self, data):
        self.sock.sendall(data)

    def _recv_some(self):
        try:
            d = self.sock.recv(1 << 16)
        except (ConnectionResetError, ssl.SSLError) as e:
            raise Closed(str(e))
        if not d:
            raise Closed("eof")
        return d

    def _fill(self, n):
        while len(self.buf) < n:
            if self.websocket:
                self.buf += self._ws_read_message()
            else:
                self.buf += self._recv_some()

    def read_exact(self, n):
        self._fill(n)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_http_head(self):
        while b"\r\n\r\n" not in self.buf:
            self.buf += self._recv_some()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        return head.decode("latin-1")

    # -- WebSocket (client side, masked) -----------------------------------
    def _ws_read_message(self):
        """Payload of the next binary message (control frames handled)."""
        while True:
            while len(self.ws_buf) < 2:
                self.ws_buf += self._recv_some()
            b0, b1 = self.ws_buf[0], self.ws_buf[1]
            n = b1 & 0x7F
            off = 2
            if n == 126:
                while len(self.ws_buf) < 4:
                    self.ws_buf += self._recv_some()
                n = struct.unpack(">H", self.ws_buf[2:4])[0]
                off = 4
            elif n == 127:
                while len(self.ws_buf) < 10:
                    self.ws_buf += self._recv_some()
                n = struct.unpack(">Q", self.ws_buf[2:10])[0]
                off = 10
            while len(self.ws_buf) < off + n:
                self.ws_buf += self._recv_some()
            payload = self.ws_buf[off:off + n]
            self.ws_buf = self.ws_buf[off + n:]
            op = b0 & 0x0F
            if op == 0x8:
                code = struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else 0
                raise Closed("websocket close %d" % code)
            if op in (0x1, 0x2, 0x0):
                if op == 0x1:
                    raise AssertionError("server sent a text message")
                return payload

    # -- DERP frames --------------------------------------------------------
    def send_frame(self, ftype, payload=b""):
        self.sendall(struct.pack(">BI", ftype, len(payload)) + payload)

    def read_frame(self):
        hdr = self.read_exact(5)
        ftype, n = struct.unpack(">BI", hdr)
        if n > (1 << 20):
            raise AssertionError("server frame of %d bytes" % n)
        return ftype, self.read_exact(n)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def ws_frame(op, payload, mask=True):
    b0 = 0x80 | op
    n = len(payload)
    if n < 126:
        hdr = struct.pack(">BB", b0, (0x80 if mask else 0) | n)
    elif n <= 0xFFFF:
        hdr = struct.pack(">BBH", b0, (0x80 if mask else 0) | 126, n)
    else:
        hdr = struct.pack(">BBQ", b0, (0x80 if mask else 0) | 127, n)
    if not mask:
        return hdr + payload
    key = os.urandom(4)
    masked = bytes(b ^ key[i & 3] for i, b in enumerate(payload))
    return hdr + key + masked


class Client:
    """A DERP client: HTTP upgrade, handshake, then frames."""

    def __init__(self, host, port, use_tls=True, key=None, fast_start_key=None,
                 websocket=False, client_info=None, extra_headers=b"",
                 handshake=True, timeout=10, sni="localhost", tls_max=None, rcvbuf=None):
        self.priv = key or PrivateKey.generate()
        self.pub = bytes(self.priv.public_key)
        self.conn = Conn(host, port, use_tls=use_tls, timeout=timeout, sni=sni,
                         tls_max=tls_max, rcvbuf=rcvbuf)
        self.server_pub = None
        self.response_head = None
        if websocket:
            self._ws_upgrade(extra_headers)
        else:
            self._upgrade(fast_start_key, extra_headers)
        if handshake:
            self.handshake(client_info)

    def _upgrade(self, fast_start_key, extra_headers):
        req = (b"GET /derp HTTP/1.1\r\nHost: localhost\r\n"
               b"User-Agent: derp-e2e\r\nConnection: Upgrade\r\nUpgrade: DERP\r\n")
        if fast_start_key:
            req += b"Derp-Fast-Start: 1\r\n"
        req += extra_headers + b"\r\n"
        if fast_start_key:
            # pipeline ClientInfo right behind the request, as tailscaled
            self.server_pub = fast_start_key
            info = self.client_info_frame(None)
            self.conn.send_raw(req + info)
            self.fast_start = True
            return
        self.fast_start = False
        self.conn.send_raw(req)
        self.response_head = self.conn.read_http_head()

    def _ws_upgrade(self, extra_headers):
        key = base64.b64encode(os.urandom(16))
        req = (b"GET /derp HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\n"
               b"Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
               b"Sec-WebSocket-Protocol: derp\r\nSec-WebSocket-Key: " + key + b"\r\n"
               + extra_headers + b"\r\n")
        self.conn.send_raw(req)
        self.response_head = self.conn.read_http_head()
        want = base64.b64encode(hashlib.sha1(
            key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest()).decode()
        if "Sec-WebSocket-Accept: " + want not in self.response_head:
            raise AssertionError("bad Sec-WebSocket-Accept: " + self.response_head)
        self.conn.websocket = True
        self.conn.ws_buf, self.conn.buf = self.conn.buf, b""
        self.fast_start = False

    def client_info_frame(self, info):
        info = info if info is not None else {"version": 2, "CanAckPings": True}
        box = Box(self.priv, PublicKey(self.server_pub))
        sealed = bytes(box.encrypt(json.dumps(info).encode()))  # nonce|mac|ct
        payload = self.pub + sealed
        return struct.pack(">BI", CLIENT_INFO, len(payload)) + payload

    def read_server_key(self):
        ftype, payload = self.conn.read_frame()
        assert ftype == SERVER_KEY, "first frame is %#x, not ServerKey" % ftype
        assert len(payload) == 40 and payload[:8] == MAGIC, payload[:8]
        return payload[8:40]

    def handshake(self, info=None):
        if self.fast_start:
            # ServerKey still comes first; then ServerInfo
            assert self.read_server_key() == self.server_pub
        else:
            self.server_pub = self.read_server_key()
            self.conn.sendall(self.client_info_frame(info))
        ftype, payload = self.conn.read_frame()
        assert ftype == SERVER_INFO, "expected ServerInfo, got %#x" % ftype
        box = Box(self.priv, PublicKey(self.server_pub))
        self.server_info = json.loads(box.decrypt(payload[:24] + payload[24:]))
        return self.server_info

    # convenience
    def send_packet(self, dst, data):
        self.conn.send_frame(SEND_PACKET, dst + data)

    def read_frame(self):
        return self.conn.read_frame()

    def recv_packet(self, skip=(KEEP_ALIVE, SERVER_KEY, PING, HEALTH)):
        """The next RecvPacket as (src, data), answering pings."""
        while True:
            ftype, payload = self.conn.read_frame()
            if ftype == PING:
                self.conn.send_frame(PONG, payload[:8])
                continue
            if ftype in skip:
                continue
            if ftype != RECV_PACKET:
                raise AssertionError("expected RecvPacket, got %#x %r" % (ftype, payload[:40]))
            return payload[:32], payload[32:]

    def expect_closed(self, within=5.0):
        """Read until the server closes; fail if it stays open."""
        self.conn.sock.settimeout(within)
        try:
            while True:
                self.conn.read_frame()
        except Closed:
            return True
        except socket.timeout:
            raise AssertionError("connection still open after %.1fs" % within)
        except OSError:
            return True

    def close(self):
        self.conn.close()
