#!/usr/bin/env bash
# Gives a WiFi node its own user at the gateway's broker (user = node id; it may publish only to
# anjungan/node/<node id>/up, see hardware/mosquitto/anjungan.acl) and prints the flash options that carry it.
# Usage: sudo hardware/mqtt-node-credential.sh NODE_ID    (again for the same node: a new password)
# Names starting with "anjungan-" are the gateway's own users (anjungan-ingest reads every node's topic, and
# hardware/install-pi.sh keeps its password in /etc/anjungan/mqtt.env): never a node's.
set -euo pipefail
PASSWD=/etc/mosquitto/anjungan.passwd
node="${1:-}"
if ! [[ "$node" =~ ^[a-z0-9-]{1,32}$ ]]; then
  echo "usage: $0 NODE_ID (1-32 of a-z, 0-9 and -)" >&2
  exit 2
fi
if [[ "$node" == anjungan-* ]]; then
  echo "$0: $node is not a node id: names starting with anjungan- are the gateway's own users at the broker" \
    "(anjungan-ingest reads every node's topic); give the node its own id, e.g. dmk-wl-02" >&2
  exit 2
fi
if [ "$(id -u)" != 0 ]; then
  echo "$0: run as root (sudo)" >&2
  exit 1
fi
if [ ! -f "$PASSWD" ]; then
  echo "$0: no $PASSWD: run hardware/install-pi.sh first" >&2
  exit 1
fi
password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
mosquitto_passwd -b "$PASSWD" "$node" "$password"
if [ -d /run/systemd/system ]; then
  systemctl reload-or-restart mosquitto
fi
echo "broker user $node ready; flash the node with:"
echo "  --mqtt-user $node --mqtt-password $password"
