# The node's application: read the sensors every interval, send frames, say hello now and then.
import gc
import sys
import time

import bootcount
import frame
import nodecfg
import wdtguard

_SLICE_MS = 1000  # the watchdog is fed at least this often while waiting
# The first hellos after a boot come a minute apart, then every hello_min: nothing acknowledges a hello (a
# serial line, MQTT QoS 0), and one sent before the gateway listens (its ingest opening the port flushes what
# was waiting) is lost, leaving the node's firmware and memory unknown until the next one.
EARLY_HELLOS = 3
EARLY_HELLO_MS = 60000


def make_sensors(cfg, machine):
    """{name: object with read() -> dict}; a sensor that fails to start becomes an error string."""
    pins = cfg["pins"]
    Pin = machine.Pin
    out = {}
    for name in cfg["sensors"]:
        try:
            if name == "sonar":
                import sonar

                s = cfg["sonar"]
                trig = Pin(pins["sonar_trig"], Pin.OUT)
                echo = Pin(pins["sonar_echo"], Pin.IN)
                out[name] = sonar.Sonar(trig, echo, s["mount_cm"], s["blind_cm"], machine.time_pulse_us)
            elif name == "dht22":
                import dht22

                out[name] = dht22.DHT22(Pin(pins["dht"]))
            elif name == "bme280":
                import bme280

                i2c = machine.I2C(pins["i2c_id"], scl=Pin(pins["i2c_scl"]), sda=Pin(pins["i2c_sda"]))
                out[name] = bme280.BME280(i2c)
            elif name == "rain":
                import rain

                r = cfg["rain"]
                out[name] = rain.RainGauge(
                    Pin(pins["rain"], Pin.IN, Pin.PULL_UP), r["mm_per_tip"], r["debounce_ms"]
                )
            elif name == "pzem":
                import pzem

                uart = machine.UART(pins["uart_id"], baudrate=9600, tx=pins["uart_tx"], rx=pins["uart_rx"])
                out[name] = pzem.PZEM(uart)
            else:
                out[name] = "unknown sensor"
        except Exception as e:
            out[name] = describe(e)
    return out


def describe(e):
    if isinstance(e, OSError) and e.args:
        code = e.args[0]
        return {19: "no ack", 110: "timeout", 116: "timeout"}.get(code, "OSError %s" % code)
    return "%s: %s" % (type(e).__name__, e)


class App:
    def __init__(self, cfg, link, sensors, boot, machine=None, bat_adc=None):
        self.cfg = cfg
        self.link = link
        self.sensors = sensors
        self.framer = frame.Framer(cfg["node_id"], boot)
        self.machine = machine
        self.bat_adc = bat_adc
        self.started = time.ticks_ms()
        self.last_hello = None
        self.hellos = 0  # sent since boot
        self.failing = {}  # sensor name -> ticks of the last error frame sent for it
        self.collect = gc.collect  # replaceable where a collection is unsafe (the WASI test VM)

    def send(self, line):
        if line is not None:
            self.link.send(line)

    def hello(self):
        bat = None
        if self.bat_adc is not None:
            bat = self.bat_adc.read_u16() * 3.3 / 65535 * self.cfg["bat"]["divider"]
        up = time.ticks_diff(time.ticks_ms(), self.started) // 1000
        self.send(self.framer.hello(up, gc.mem_free(), self.link.rssi(), bat))
        self.last_hello = time.ticks_ms()
        self.hellos += 1

    def hello_due(self):
        """Whether a hello is due: EARLY_HELLO_MS after the last while fewer than EARLY_HELLOS were sent since
        boot, then every hello_min minutes."""
        period = EARLY_HELLO_MS if self.hellos < EARLY_HELLOS else self.cfg["hello_min"] * 60000
        return time.ticks_diff(time.ticks_ms(), self.last_hello) >= period

    def report_error(self, name, msg):
        """An error frame when a sensor starts failing, then at most once per hello period."""
        now = time.ticks_ms()
        last = self.failing.get(name)
        if last is None or time.ticks_diff(now, last) >= self.cfg["hello_min"] * 60000:
            self.failing[name] = now
            self.send(self.framer.error("%s: %s" % (name, msg)))

    def cycle(self):
        values = {}
        for name, sensor in self.sensors.items():
            if isinstance(sensor, str):
                self.report_error(name, sensor)
                continue
            try:
                values.update(sensor.read())
            except Exception as e:  # a sensor failing must not stop the others
                self.report_error(name, describe(e) if isinstance(e, OSError) else str(e) or type(e).__name__)
                continue
            self.failing.pop(name, None)
        self.send(self.framer.reading(values, time.ticks_ms()))
        if self.hello_due():
            self.hello()
        self.collect()

    def wait(self, ms, feed):
        """Sleep ``ms`` in slices, feeding the watchdog if the last cycle was good."""
        end = time.ticks_add(time.ticks_ms(), ms)
        while True:
            left = time.ticks_diff(end, time.ticks_ms())
            if left <= 0:
                return
            if feed:
                wdtguard.feed()
            self.link.poll()
            time.sleep_ms(min(left, _SLICE_MS))

    def run(self, cycles=None):
        self.hello()
        n = 0
        while cycles is None or n < cycles:
            good = True
            try:
                self.cycle()
            except Exception as e:
                good = False  # unexpected: report, stop feeding, let the watchdog restart the node
                sys.print_exception(e)
                self.send(self.framer.error("app: " + describe(e)))
            if good:
                wdtguard.feed()
            n += 1
            self.wait(int(self.cfg["interval_s"] * 1000), good)


def make_link(cfg):
    import transport

    if cfg["transport"] == "serial":
        return transport.SerialLink()
    import mqtt
    import net

    wlan = net.connect(cfg["wifi"]["ssid"], cfg["wifi"]["password"])
    m = cfg["mqtt"]

    def client():
        return mqtt.MQTTClient(
            "anjungan-" + cfg["node_id"],
            m["host"],
            m["port"],
            m["user"] or None,
            m["password"] or None,
            m["keepalive"],
        )

    return transport.MqttLink(cfg["node_id"], client, m["buffer"], transport.SerialLink(), wlan)


def main(machine):
    boot = bootcount.bump()
    wdtguard.start(machine)
    try:
        cfg = nodecfg.load()
    except nodecfg.ConfigError as e:
        print("anjungan: config.json:", e)
        wdtguard.keep_fed(machine)  # stay reachable for a technician to fix the configuration
        return
    link = make_link(cfg)
    sensors = make_sensors(cfg, machine)
    bat_pin = cfg["pins"].get("bat_adc")
    adc = machine.ADC(machine.Pin(bat_pin)) if bat_pin is not None else None
    app = App(cfg, link, sensors, boot, machine, adc)
    wdtguard.stop_keeping()  # from here a hang in the loop resets the board
    app.run()
