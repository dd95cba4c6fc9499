# Runs on every boot and soft reset: keep the watchdog fed until main.py's loop takes over.
import machine
import wdtguard

wdtguard.keep_fed(machine)
