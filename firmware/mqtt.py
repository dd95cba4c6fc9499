# A minimal MQTT 3.1.1 client: CONNECT, PUBLISH QoS 0/1 (waits for the PUBACK), PINGREQ, DISCONNECT.
# Mechanism only: it raises OSError on any failure; transport.MqttLink adds reconnects and buffering.
# Why not micropython-lib's umqtt.simple: it always creates its own socket, while this client may also be handed
# a connected one (`sock=`), so the same code runs on a board, in the simulator and in the tests on CPython; it
# closes the socket of a failed connect (a node has only a few sockets); and it is small enough to freeze.
# The wire format is MQTT 3.1.1 (OASIS standard, sections 3.1 CONNECT, 3.3 PUBLISH, 3.4 PUBACK).
import struct

from micropython import const

_CONNECT = const(0x10)
_CONNACK = const(0x20)
_PUBLISH = const(0x30)
_PUBACK = const(0x40)
_PINGREQ = const(0xC0)
_PINGRESP = const(0xD0)
_DISCONNECT = const(0xE0)


def _str(s):
    if isinstance(s, str):
        s = s.encode()
    return struct.pack(">H", len(s)) + s


def _remaining(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | 0x80 if n else byte)
        if not n:
            return bytes(out)


def connect_packet(client_id, keepalive=60, user=None, password=None, clean=True):
    flags = 0x02 if clean else 0
    payload = _str(client_id)
    if user:
        flags |= 0x80
        payload += _str(user)
        if password:
            flags |= 0x40
            payload += _str(password)
    var = _str("MQTT") + bytes([4, flags]) + struct.pack(">H", keepalive)
    return bytes([_CONNECT]) + _remaining(len(var) + len(payload)) + var + payload


def publish_packet(topic, msg, qos=0, pid=0, retain=False):
    var = _str(topic)
    if qos:
        var += struct.pack(">H", pid)
    head = _PUBLISH | (qos << 1) | (1 if retain else 0)
    return bytes([head]) + _remaining(len(var) + len(msg)) + var + msg


class MQTTClient:
    def __init__(self, client_id, host, port=1883, user=None, password=None, keepalive=60, sock=None):
        self.client_id = client_id
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.keepalive = keepalive
        self.sock = sock
        self._pid = 0

    def _send(self, data):
        write = getattr(self.sock, "write", None) or self.sock.sendall
        write(data)

    def _recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            read = getattr(self.sock, "read", None) or self.sock.recv
            chunk = read(n - len(buf))
            if not chunk:
                raise OSError(104)  # ECONNRESET
            buf += chunk
        return buf

    def _read_packet(self):
        head = self._recv_exact(1)[0]
        n = shift = 0
        while True:
            b = self._recv_exact(1)[0]
            n |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        return head, self._recv_exact(n) if n else b""

    def connect(self, timeout_s=3):
        try:
            if self.sock is None:
                import socket

                addr = socket.getaddrinfo(self.host, self.port)[0][-1]
                self.sock = socket.socket()
                self.sock.settimeout(timeout_s)
                self.sock.connect(addr)
            self._send(connect_packet(self.client_id, self.keepalive, self.user, self.password))
            head, body = self._read_packet()
            if head != _CONNACK or len(body) != 2 or body[1] != 0:
                raise OSError(111)  # ECONNREFUSED (bad credentials, unacceptable id, ...)
        except OSError:
            self.close()  # a failed attempt must not leak its socket (a node has only a few)
            raise

    def publish(self, topic, msg, qos=1):
        """Publish msg; with QoS 1 wait for the matching PUBACK (raises OSError on timeout or EOF)."""
        self._pid = self._pid % 65535 + 1
        pid = self._pid
        self._send(publish_packet(topic, msg, qos, pid))
        while qos:
            head, body = self._read_packet()
            if head & 0xF0 == _PUBACK and struct.unpack(">H", body[:2])[0] == pid:
                return pid
        return pid

    def ping(self):
        self._send(bytes([_PINGREQ, 0]))
        head, _ = self._read_packet()
        if head != _PINGRESP:
            raise OSError(5)  # EIO

    def disconnect(self):
        try:
            self._send(bytes([_DISCONNECT, 0]))
        finally:
            self.close()

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None
