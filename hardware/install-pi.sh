#!/usr/bin/env bash
# Installs anjungan on a Raspberry Pi OS (Bookworm) gateway. Run as root from a checkout of the repository.
set -euo pipefail
SRC="$(cd "$(dirname "$0")/.." && pwd)"
apt-get update -qq
apt-get install -y -qq python3-venv mosquitto chromium curl rsync
id anjungan >/dev/null 2>&1 || useradd --system --home /var/lib/anjungan --groups dialout anjungan
install -d -m 0700 -o anjungan -g anjungan /var/lib/anjungan /etc/anjungan
rsync -a --delete --exclude .venv --exclude .git "$SRC/" /opt/anjungan/
python3 -m venv /opt/anjungan/.venv
/opt/anjungan/.venv/bin/pip install --quiet /opt/anjungan
[ -f /etc/anjungan/gateway.toml ] || runuser -u anjungan -- /opt/anjungan/.venv/bin/anjungan --config /etc/anjungan/gateway.toml init
install -m 644 "$SRC/hardware/udev/99-anjungan-nodes.rules" /etc/udev/rules.d/
udevadm control --reload && udevadm trigger
install -m 644 "$SRC"/hardware/systemd/*.service /etc/systemd/system/
systemctl daemon-reload
systemctl enable --now mosquitto anjungan-ingest anjungan-kiosk anjungan-sync
id kiosk >/dev/null 2>&1 && systemctl enable --now anjungan-chromium || echo "create the 'kiosk' desktop user, then: systemctl enable --now anjungan-chromium"
echo "anjungan installed; edit /etc/anjungan/gateway.toml and restart the services"
