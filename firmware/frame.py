# The node frame: "@" + compact JSON + "*" + CRC-32 (8 lowercase hex) of exactly the JSON bytes sent.
# One Framer per boot numbers every frame it builds (q from 0) and stamps node id and boot counter.
import binascii
import json

from micropython import const

FW = "0.1.0"
_V = const(1)
_MAX_MSG = const(120)


def encode(obj):
    """Return the frame line for ``obj`` (bytes, no line ending). The CRC covers the bytes as serialised."""
    payload = json.dumps(obj, separators=(",", ":")).encode()
    return b"@" + payload + b"*" + ("%08x" % (binascii.crc32(payload) & 0xFFFFFFFF)).encode()


def clean(values):
    """Keep only numeric measurements (bool is not a number); round floats to 3 decimals."""
    out = {}
    for name, value in values.items():
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, float):
            if value != value:  # NaN
                continue
            value = round(value, 3)
        elif not isinstance(value, int):
            continue
        out[name] = value
    return out


class Framer:
    def __init__(self, node, boot, seq=0):
        self.node = node
        self.boot = boot
        self.seq = seq

    def _base(self, kind):
        obj = {"v": _V, "k": kind, "n": self.node, "b": self.boot, "q": self.seq}
        self.seq += 1
        return obj

    def reading(self, values, t=None):
        values = clean(values)
        if not values:
            return None
        obj = self._base("r")
        obj["r"] = values
        if t is not None:
            obj["t"] = t
        return encode(obj)

    def hello(self, up_s, mem_free, rssi=None, bat_v=None):
        obj = self._base("h")
        obj["fw"] = FW
        obj["up_s"] = up_s
        obj["mem_free"] = mem_free
        if rssi is not None:
            obj["rssi"] = rssi
        if bat_v is not None:
            obj["bat_v"] = round(bat_v, 2)
        return encode(obj)

    def error(self, msg):
        obj = self._base("e")
        msg = str(msg)
        if len(msg) > _MAX_MSG:
            msg = msg[:_MAX_MSG]
        obj["msg"] = msg
        return encode(obj)
