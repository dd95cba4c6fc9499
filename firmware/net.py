# WiFi station bring-up for MQTT nodes.
import time


def connect(ssid, password, timeout_ms=15000, network=None):
    """Start connecting and wait up to timeout_ms; return the WLAN (connected or not: MQTT retries later)."""
    if network is None:
        import network
    wlan = network.WLAN(network.STA_IF)
    wlan.active(True)
    if not wlan.isconnected() and ssid:
        wlan.connect(ssid, password)
        start = time.ticks_ms()
        while not wlan.isconnected() and time.ticks_diff(time.ticks_ms(), start) < timeout_ms:
            time.sleep_ms(200)
    return wlan
