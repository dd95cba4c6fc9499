# Runs after boot.py on a hard reset: count the boot, then the app loop under the watchdog.
import app
import machine
import wdtguard

try:
    app.main(machine)
except KeyboardInterrupt:
    wdtguard.keep_fed(machine)  # a technician stopped the loop: keep the board alive for the REPL
    raise
