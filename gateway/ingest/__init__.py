"""Reading nodes into the store: serial ports and MQTT, node health.

- :mod:`gateway.ingest.lines` splits a byte stream into capped lines (resync at the next ``\\n``).
- :mod:`gateway.ingest.serial_reader` reads one port in a thread, survives unplug/replug and hands the port
  over to a technician's tool on request (:mod:`gateway.portlock`).
- :mod:`gateway.ingest.sink` turns lines into frames for the store's writer, or console lines.
- :mod:`gateway.ingest.mqtt_reader` subscribes ``anjungan/node/+/up`` and acknowledges a message only after
  the store has committed it.
- :mod:`gateway.ingest.watch` learns each node's interval and marks nodes offline/online.
- :mod:`gateway.ingest.service` runs them together (``anjungan ingest``).
"""
