# Node settings from config.json on the board, completed with defaults for the board family.
import json
import sys

KINDS = ("water-level", "weather", "power")
TRANSPORTS = ("serial", "mqtt")

# Pin numbers by board family (see hardware/ for the wiring). Keys are used by app.make_sensors().
PINS = {
    "esp32": {
        "sonar_trig": 5,
        "sonar_echo": 18,
        "dht": 4,
        "i2c_id": 0,
        "i2c_scl": 22,
        "i2c_sda": 21,
        "rain": 27,
        "uart_id": 2,
        "uart_tx": 17,
        "uart_rx": 16,
        "bat_adc": None,
    },
    "rp2": {
        "sonar_trig": 2,
        "sonar_echo": 3,
        "dht": 15,
        "i2c_id": 0,
        "i2c_scl": 5,
        "i2c_sda": 4,
        "rain": 6,
        "uart_id": 0,
        "uart_tx": 0,
        "uart_rx": 1,
        "bat_adc": None,
    },
}

DEFAULTS = {
    "node_id": "node",
    "kind": "water-level",
    "interval_s": 60,
    "hello_min": 15,
    "transport": "serial",
    "sensors": None,  # None = the usual set for the kind
    "wifi": {"ssid": "", "password": ""},
    "mqtt": {"host": "", "port": 1883, "user": "", "password": "", "keepalive": 60, "buffer": 64},
    "sonar": {"mount_cm": 300, "blind_cm": 25},
    "rain": {"mm_per_tip": 0.2794, "debounce_ms": 80},
    "bat": {"divider": 2.0},
}

SENSORS = {"water-level": ("sonar", "dht22"), "weather": ("bme280", "rain"), "power": ("pzem",)}


class ConfigError(Exception):
    pass


def _merge(base, over):
    out = {}
    for key in base:
        out[key] = base[key]
    for key in over:
        if isinstance(out.get(key), dict) and isinstance(over[key], dict):
            out[key] = _merge(out[key], over[key])
        else:
            out[key] = over[key]
    return out


def _valid_id(s):
    if not isinstance(s, str) or not 1 <= len(s) <= 32:
        return False
    for ch in s:
        if not ("a" <= ch <= "z" or "0" <= ch <= "9" or ch == "-"):
            return False
    return True


def complete(raw, platform=None):
    """Defaults + raw settings, validated. Raises ConfigError naming the bad setting."""
    cfg = _merge(DEFAULTS, raw)
    family = platform or sys.platform
    cfg["pins"] = _merge(PINS.get(family, PINS["esp32"]), raw.get("pins") or {})
    if not _valid_id(cfg["node_id"]):
        raise ConfigError("node_id must be 1-32 of a-z, 0-9, -")
    if cfg["kind"] not in KINDS:
        raise ConfigError("kind must be one of " + ", ".join(KINDS))
    if cfg["transport"] not in TRANSPORTS:
        raise ConfigError("transport must be serial or mqtt")
    if not isinstance(cfg["interval_s"], (int, float)) or cfg["interval_s"] <= 0:
        raise ConfigError("interval_s must be a positive number")
    if cfg["transport"] == "mqtt" and not cfg["mqtt"]["host"]:
        raise ConfigError("mqtt.host is needed for the mqtt transport")
    if cfg["sensors"] is None:
        cfg["sensors"] = list(SENSORS[cfg["kind"]])
    return cfg


def load(path="config.json", platform=None):
    try:
        with open(path) as f:
            raw = json.load(f)
    except OSError:
        raise ConfigError("no " + path)
    except ValueError:
        raise ConfigError(path + " is not valid JSON")
    if not isinstance(raw, dict):
        raise ConfigError(path + " must hold an object")
    return complete(raw, platform)
