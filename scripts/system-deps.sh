#!/usr/bin/env bash
# Installs the Debian packages a target needs, when they are missing and we are root.
# Usage: system-deps.sh base|demo|test
set -euo pipefail
want=()
need() { # need COMMAND PACKAGE
  command -v "$1" >/dev/null 2>&1 || want+=("$2")
}
case "${1:-base}" in
  base)
    python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || want+=(python3-venv)
    # WeasyPrint (the central's PDF reports) needs Pango and a font
    ldconfig -p 2>/dev/null | grep -q 'libpangoft2-1.0.so.0' || want+=(libpango-1.0-0 libpangoft2-1.0-0)
    [ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || want+=(fonts-dejavu-core)
    # the kiosk reads its pages aloud ("Dengarkan") with espeak-ng, offline
    need espeak-ng espeak-ng
    ;;
  demo)
    need mosquitto mosquitto
    ;;
  test)
    need mosquitto mosquitto
    need chromium chromium
    need espeak-ng espeak-ng
    need chromedriver chromium-driver
    need shellcheck shellcheck
    need nft nftables
    need debootstrap debootstrap
    need systemd-analyze systemd
    need openssl openssl  # bench/field.py: the central's HTTPS front and its certificates
    if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
      want+=(postgresql)
    fi
    ;;
  *) echo "usage: $0 base|demo|test" >&2; exit 2 ;;
esac
[ ${#want[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "missing Debian packages: ${want[*]} (run as root, or: sudo apt-get install ${want[*]})" >&2
  exit 1
fi
echo "installing Debian packages: ${want[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
