"""Reading nodes into the store: serial and MQTT."""
