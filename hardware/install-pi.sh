#!/usr/bin/env bash
# Installs or upgrades anjungan on a Raspberry Pi OS Bookworm (64-bit) gateway, from a fresh system to a running
# kiosk: Debian packages, the system users, a virtual environment per release under /opt/anjungan, the
# configuration in /etc/anjungan, the data in /var/lib/anjungan, Mosquitto for the WiFi nodes, udev rules, the
# journald limits, the clock, and the systemd units (ingest, kiosk, sync, the screen).
#
# Usage (as root, from a checkout or an unpacked release):
#   hardware/install-pi.sh --gateway-id ID --name NAME [--mqtt-interface IFACE] [--wheelhouse DIR]
#     --gateway-id ID       this kiosk's id (a-z, 0-9, -): the prefix of its registration numbers, one per kiosk;
#                           register it at the central under the same id (docs/deploy.md). Needed for a new
#                           configuration only (an existing /etc/anjungan/gateway.toml is kept, but for an
#                           earlier release's commit_interval_s = 0.0, made 120.0).
#     --name NAME           the office's name shown on the kiosk (a new configuration only)
#     --mqtt-interface IF   the network interface the WiFi nodes reach the broker on (default wlan0; see
#                           `ip -br addr`): the broker answers it and this machine only
#     --wheelhouse DIR      anjungan and its dependencies from wheels in DIR instead of the package index;
#                           the wheels must be for this Pi (aarch64, its Python): docs/deploy.md says how to
#                           build them. The Debian packages still come from the network.
#
# Idempotent: every step looks before it changes; a second run changes nothing and says so. Each step is logged
# with its time to /var/log/anjungan-install.log; a failing step stops the script with one line naming it.
# An upgrade builds the new release beside the running one, migrates the store with `anjungan upgrade` (a
# backup first, all or nothing) and switches over only when that succeeded: a failed migration leaves the
# previous release running on untouched data.
# On a system where systemd is not running (a chroot, an image being built) units are enabled, not started.
set -Eeuo pipefail
umask 022

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HW="$SRC/hardware"
PREFIX=/opt/anjungan
CONF_DIR=/etc/anjungan
CONFIG="$CONF_DIR/gateway.toml"
DATA_DIR=/var/lib/anjungan
LOG=/var/log/anjungan-install.log
SERVICE_USER=anjungan
SCREEN_USER="anjungan-screen"
MQTT_USER="anjungan-ingest"
MQTT_PASSWD=/etc/mosquitto/anjungan.passwd
SERVICES=(anjungan-ingest anjungan-kiosk anjungan-sync)
WHEELHOUSE=""
MQTT_IFACE=wlan0
GATEWAY_ID=""
OFFICE_NAME=""
CHANGES=0
STEP="starting"

usage() { sed -n '7,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

parse_args() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --wheelhouse) WHEELHOUSE="$(cd "$2" && pwd)"; shift 2 ;;
      --mqtt-interface) MQTT_IFACE="$2"; shift 2 ;;
      --gateway-id) GATEWAY_ID="$2"; shift 2 ;;
      --name) OFFICE_NAME="$2"; shift 2 ;;
      -h|--help) usage; exit 0 ;;
      *) echo "install-pi.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
  done
}

require_root() {
  if [ "$(id -u)" != 0 ]; then
    echo "install-pi.sh: run as root (sudo $0)" >&2
    exit 1
  fi
}

# A failing command anywhere (set -e) ends the script with one line naming the step, never silently: the
# commands' own output went to the log.
on_error() {
  local rc=$?
  trap - ERR
  echo "install-pi.sh: FAILED at ${STEP} (exit $rc); see $LOG" >&2
  log "FAILED at ${STEP} (exit $rc)" 2>/dev/null || true
  exit "$rc"
}
trap on_error ERR

# fail MESSAGE: stop with one line that says what to do (a check that failed, not a command)
fail() {
  echo "install-pi.sh: $*" >&2
  log "FAILED: $*" 2>/dev/null || true
  exit 1
}

# step DESCRIPTION FUNCTION: run one step, so that a failure names it
step() {
  STEP="$1"
  "$2"
}

# -- logging and change tracking ------------------------------------------------------------------------------
log() { printf '%s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >>"$LOG"; }
say() { echo "$*"; log "$*"; }
changed() { CHANGES=$((CHANGES + 1)); say "changed: $*"; }
unchanged() { log "unchanged: $*"; }
systemd_running() { [ -d /run/systemd/system ]; }

# install_file SRC DEST MODE OWNER GROUP: copy when content, mode or owner differ; sets FILE_CHANGED to 0 or 1.
FILE_CHANGED=0
install_file() {
  local src="$1" dest="$2" mode="$3" owner="$4" group="$5"
  FILE_CHANGED=0
  if [ -f "$dest" ] && cmp -s "$src" "$dest" \
    && [ "$(stat -c '%a %U %G' "$dest")" = "$(printf '%o' "0$mode") $owner $group" ]; then
    unchanged "$dest"
    return 0
  fi
  install -D -m "$mode" -o "$owner" -g "$group" "$src" "$dest"
  FILE_CHANGED=1
  changed "$dest"
}

# install_text DEST MODE OWNER GROUP < text
install_text() {
  local tmp
  tmp="$(mktemp)"
  cat >"$tmp"
  install_file "$tmp" "$@"
  rm -f "$tmp"
}

# ensure_dir PATH MODE OWNER GROUP
ensure_dir() {
  local path="$1" mode="$2" owner="$3" group="$4"
  if [ -d "$path" ] && [ "$(stat -c '%a %U %G' "$path")" = "$(printf '%o' "0$mode") $owner $group" ]; then
    unchanged "$path/"
    return 0
  fi
  install -d -m "$mode" -o "$owner" -g "$group" "$path"
  changed "$path/ ($mode $owner:$group)"
}

# -- checks before anything changes ------------------------------------------------------------------------
# A new kiosk needs its own id: it prefixes every registration number, and kiosks sharing one would collide.
check_identity() {
  [ -f "$CONFIG" ] && return 0
  if [ -z "$GATEWAY_ID" ] || [ -z "$OFFICE_NAME" ]; then
    fail "a new kiosk needs --gateway-id ID and --name NAME: the id (e.g. dmk-wonosalam) prefixes its" \
      "registration numbers, so each kiosk has its own; register it at the central under the same id"
  fi
  if ! [[ "$GATEWAY_ID" =~ ^[a-z0-9-]{1,32}$ ]]; then
    fail "--gateway-id $GATEWAY_ID: use 1-32 of a-z, 0-9 and -"
  fi
}

# Wheels built on a laptop are for the laptop (x86_64) unless asked otherwise: refuse them before building.
check_wheelhouse() {
  [ -n "$WHEELHOUSE" ] || return 0
  local machine pytag whl name parts py abi plat foreign=()
  machine="${MACHINE:-$(uname -m)}"
  pytag="${PYTAG:-$(python3 -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')}"
  if ! compgen -G "$WHEELHOUSE/anjungan-*.whl" >/dev/null; then
    fail "no anjungan wheel in $WHEELHOUSE (docs/deploy.md: a wheel folder for an install without index)"
  fi
  for whl in "$WHEELHOUSE"/*.whl; do  # name-version[-build]-python-abi-platform.whl
    name="${whl##*/}"
    IFS=- read -r -a parts <<<"${name%.whl}"
    py="${parts[-3]}" abi="${parts[-2]}" plat="${parts[-1]}"
    if [ "$plat" != any ] && [[ "$plat" != *"$machine"* ]]; then
      foreign+=("$name")
    elif [[ ".$py." != *".py3."* && ".$py." != *".$pytag."* && "$abi" != abi3 ]]; then
      foreign+=("$name")
    fi
  done
  if [ ${#foreign[@]} -gt 0 ]; then
    fail "$WHEELHOUSE holds ${#foreign[@]} wheel(s) for another machine or Python (e.g. ${foreign[0]}); this Pi" \
      "needs $machine and $pytag wheels: build the folder with \`pip download --platform" \
      "manylinux2014_$machine --python-version ${pytag#cp} --only-binary=:all:\` (docs/deploy.md)"
  fi
}

# The nodes' interface: a missing one is not fatal (the WiFi may come later), but the technician hears of it.
check_mqtt_interface() {
  if ! [[ "$MQTT_IFACE" =~ ^[A-Za-z0-9._-]{1,15}$ ]]; then
    fail "--mqtt-interface $MQTT_IFACE is not an interface name (see \`ip -br addr\`)"
  fi
  local ifaces
  if ! ip link show "$MQTT_IFACE" >/dev/null 2>&1; then
    ifaces="$({ ip -br link 2>/dev/null || true; } | awk '$1 != "lo" {printf " %s", $1}')"
    say "note: there is no interface $MQTT_IFACE here (yet): until it appears the broker answers this machine" \
      "only. Interfaces here:${ifaces:- none}; choose the nodes' one with --mqtt-interface"
  elif ip route show default 2>/dev/null | grep -qw "dev $MQTT_IFACE"; then
    say "note: $MQTT_IFACE also carries the route to the internet: the nodes' broker answers whoever shares" \
      "that network (with a password per node); keep the uplink on another interface where you can"
  fi
}

# -- steps ----------------------------------------------------------------------------------------------------
packages() {
  local wanted=(python3 python3-venv python3-pip mosquitto mosquitto-clients nftables fake-hwclock curl
    ca-certificates cage chromium fonts-dejavu-core sudo espeak-ng alsa-utils)
  local missing=() pkg
  for pkg in "${wanted[@]}"; do
    if [ "$pkg" = chromium ] && dpkg-query -W -f='${Status}' chromium-browser 2>/dev/null | grep -q 'ok installed'; then
      continue  # Raspberry Pi OS's own build
    fi
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || missing+=("$pkg")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    unchanged "Debian packages"
    return 0
  fi
  say "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get update -qq >>"$LOG" 2>&1; then
    fail "cannot reach Debian's package mirrors: ${missing[*]} must come from the network once (connect the" \
      "Pi, e.g. through the modem or MiFi, and run this again); see $LOG"
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >>"$LOG" 2>&1
  changed "Debian packages: ${missing[*]}"
}

users() {
  if ! getent passwd "$SERVICE_USER" >/dev/null; then
    useradd --system --user-group --home-dir "$DATA_DIR" --no-create-home --shell /usr/sbin/nologin "$SERVICE_USER"
    changed "system user $SERVICE_USER"
  else
    unchanged "user $SERVICE_USER"
  fi
  if ! getent passwd "$SCREEN_USER" >/dev/null; then
    useradd --system --user-group --create-home --home-dir "/var/lib/$SCREEN_USER" --shell /usr/sbin/nologin \
      "$SCREEN_USER"
    changed "system user $SCREEN_USER (the screen)"
  else
    unchanged "user $SCREEN_USER"
  fi
  add_groups "$SERVICE_USER" dialout lp plugdev
  add_groups "$SCREEN_USER" video render input tty audio  # audio: the "Dengarkan" button plays through ALSA
}

# add_groups USER GROUP...: the groups that exist on this system and the user is not in yet
add_groups() {
  local user="$1" group
  shift
  for group in "$@"; do
    getent group "$group" >/dev/null || continue
    if id -nG "$user" | tr ' ' '\n' | grep -qx "$group"; then
      unchanged "$user in $group"
    else
      usermod -a -G "$group" "$user"
      changed "$user added to group $group"
    fi
  done
}

folders() {
  ensure_dir "$PREFIX" 0755 root root
  ensure_dir "$PREFIX/releases" 0755 root root
  ensure_dir "$PREFIX/bin" 0755 root root
  ensure_dir "$CONF_DIR" 0750 root "$SERVICE_USER"
  ensure_dir "$DATA_DIR" 0700 "$SERVICE_USER" "$SERVICE_USER"
}

# The fingerprint of what would be installed: the wheel's hash, or the hash of the package's source files.
source_fingerprint() {
  if [ -n "$WHEELHOUSE" ]; then
    sha256sum "$WHEELHOUSE"/anjungan-*.whl | sha256sum | cut -c1-12
  else
    (cd "$SRC" && find pyproject.toml gateway kiosk sync firmware -type f ! -name '*.pyc' -print0 \
      | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-12)
  fi
}

# release: a virtual environment per version under releases/; `current` points at the running one.
release() {
  local fp version rel pip_from=("$SRC")
  fp="$(source_fingerprint)"
  version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$SRC/pyproject.toml" | head -n1)"
  rel="$PREFIX/releases/$version-$fp"
  if [ -n "$WHEELHOUSE" ]; then
    pip_from=(--no-index --find-links "$WHEELHOUSE" anjungan)
  fi
  if [ -x "$rel/bin/anjungan" ] && [ -f "$rel/.complete" ]; then
    unchanged "release $rel"
  else
    say "building release $version-$fp (a virtual environment; a few minutes on a Pi)"
    rm -rf "$rel"
    python3 -m venv "$rel"
    "$rel/bin/pip" install --quiet --disable-pip-version-check "${pip_from[@]}" >>"$LOG" 2>&1
    touch "$rel/.complete"
    changed "release $rel"
  fi
  NEW_RELEASE="$rel"
}

# The wrapper a technician types (`sudo anjungan doctor`): the service user, the field's configuration.
wrapper() {
  install_text /usr/local/bin/anjungan 0755 root root <<EOF
#!/bin/sh
# anjungan as the service user with the field's configuration (installed by hardware/install-pi.sh)
export ANJUNGAN_CONFIG="\${ANJUNGAN_CONFIG:-$CONFIG}"
cd $DATA_DIR 2>/dev/null || cd /
if [ "\$(id -un)" = $SERVICE_USER ]; then exec $PREFIX/current/bin/anjungan "\$@"; fi
if [ "\$(id -u)" = 0 ]; then exec runuser -u $SERVICE_USER -- env ANJUNGAN_CONFIG="\$ANJUNGAN_CONFIG" $PREFIX/current/bin/anjungan "\$@"; fi
exec sudo -u $SERVICE_USER ANJUNGAN_CONFIG="\$ANJUNGAN_CONFIG" $PREFIX/current/bin/anjungan "\$@"
EOF
  install_file "$HW/bin/kiosk-browser" "$PREFIX/bin/kiosk-browser" 0755 root root
}

configuration() {
  local anjungan="$NEW_RELEASE/bin/anjungan" args=()
  if [ -f "$CONFIG" ]; then
    unchanged "$CONFIG"
  else
    [ -n "$GATEWAY_ID" ] && args+=(--gateway-id "$GATEWAY_ID")
    [ -n "$OFFICE_NAME" ] && args+=(--name "$OFFICE_NAME")
    # written by the service user into its data folder, then moved into place: the store is its own
    (cd "$DATA_DIR" && runuser -u "$SERVICE_USER" -- "$anjungan" --config "$DATA_DIR/gateway.toml" init \
      --data-dir "$DATA_DIR" "${args[@]}") >>"$LOG" 2>&1
    mv "$DATA_DIR/gateway.toml" "$CONFIG"
    changed "$CONFIG (a new configuration; edit it, then: systemctl restart anjungan-ingest anjungan-kiosk)"
  fi
  if [ "$(stat -c '%a %U %G' "$CONFIG")" != "640 root $SERVICE_USER" ]; then
    chown "root:$SERVICE_USER" "$CONFIG"
    chmod 0640 "$CONFIG"
    changed "$CONFIG is 0640 root:$SERVICE_USER"
  else
    unchanged "$CONFIG mode"
  fi
  # an earlier release's `anjungan init` wrote commit_interval_s = 0.0 (each frame at once): now that the ingest
  # journals the serial frames waiting for their commit, gathering two minutes loses nothing and spares the SD card
  # (docs/deploy.md); a value a technician wrote in another form (0, 10.0) is kept
  if grep -q '^commit_interval_s = 0\.0$' "$CONFIG"; then
    sed -i 's/^commit_interval_s = 0\.0$/commit_interval_s = 120.0/' "$CONFIG"
    changed "$CONFIG: [gateway] commit_interval_s = 120.0 (an earlier release wrote 0.0)"
  fi
}

# The store is migrated by the new release before the services switch to it (anjungan upgrade: a backup with
# SQLite's backup API, then every pending migration in one transaction).
upgrade_store() {
  local current=""
  [ -L "$PREFIX/current" ] && current="$(readlink -f "$PREFIX/current")"
  if [ "$current" = "$NEW_RELEASE" ]; then
    unchanged "$PREFIX/current -> $NEW_RELEASE"
    return 0
  fi
  if ! (cd "$DATA_DIR" && runuser -u "$SERVICE_USER" -- "$NEW_RELEASE/bin/anjungan" --config "$CONFIG" upgrade) \
    2>&1 | tee -a "$LOG"; then
    say "FAILED: the store could not be migrated to $NEW_RELEASE; ${current:-nothing} stays installed and running, the store is untouched"
    restart_moved_services
    exit 1
  fi
  ln -sfn "$NEW_RELEASE" "$PREFIX/current.new"
  mv -T "$PREFIX/current.new" "$PREFIX/current"
  changed "$PREFIX/current -> $NEW_RELEASE"
  RESTART=1
  prune_releases "$current"
}

# prune_releases [PREVIOUS]: keep the release now running and PREVIOUS, the one that ran until now (the last
# known good: to go back by hand, ln -sfn releases/OLD current); remove every other, however recently built
# (a release whose migration failed never ran).
prune_releases() {
  local previous="${1:-}" rel
  for rel in "$PREFIX"/releases/*; do
    [ -d "$rel" ] || continue
    if [ "$rel" = "$NEW_RELEASE" ] || [ "$rel" = "$previous" ]; then
      continue
    fi
    rm -rf "${rel:?}"
    changed "removed old release ${rel##*/}"
  done
}

# render_mqtt_config IFACE DIR: the broker's configuration and its firewall rule for the nodes' IFACE, into DIR
render_mqtt_config() {
  local iface="$1" dir="$2"
  cp "$HW/mosquitto/anjungan.conf" "$dir/anjungan.conf"
  sed "s/@IFACE@/$iface/g" "$HW/mosquitto/mqtt-firewall.nft.in" >"$dir/mqtt-firewall.nft"
}

mosquitto_setup() {
  local reload=0 password rendered
  rendered="$(mktemp -d)"
  render_mqtt_config "$MQTT_IFACE" "$rendered"
  install_file "$rendered/mqtt-firewall.nft" "$CONF_DIR/mqtt-firewall.nft" 0644 root root
  [ "$FILE_CHANGED" = 1 ] && RELOAD_FIREWALL=1
  install_file "$rendered/anjungan.conf" /etc/mosquitto/conf.d/anjungan.conf 0644 root root
  reload=$((reload + FILE_CHANGED))
  rm -rf "$rendered"
  install_file "$HW/mosquitto/anjungan.acl" /etc/mosquitto/anjungan.acl 0644 root root
  reload=$((reload + FILE_CHANGED))
  install_file "$HW/mosquitto/override.conf" /etc/systemd/system/mosquitto.service.d/anjungan.conf 0644 root root
  [ "$FILE_CHANGED" = 1 ] && DAEMON_RELOAD=1
  if [ -f "$CONF_DIR/mqtt.env" ] && grep -q "^$MQTT_USER:" /etc/mosquitto/anjungan.passwd 2>/dev/null; then
    unchanged "broker user $MQTT_USER"
  else
    password="$(head -c 24 /dev/urandom | base64 | tr -d '/+=')"
    if [ ! -f /etc/mosquitto/anjungan.passwd ]; then
      touch /etc/mosquitto/anjungan.passwd
      chown root:mosquitto /etc/mosquitto/anjungan.passwd
      chmod 0640 /etc/mosquitto/anjungan.passwd
    fi
    mosquitto_passwd -b /etc/mosquitto/anjungan.passwd "$MQTT_USER" "$password" >>"$LOG" 2>&1
    install_text "$CONF_DIR/mqtt.env" 0640 root "$SERVICE_USER" <<EOF
# The ingest's user at the local broker (made by hardware/install-pi.sh; the nodes' users: mqtt-node-credential.sh)
ANJUNGAN_MQTT_USERNAME=$MQTT_USER
ANJUNGAN_MQTT_PASSWORD=$password
EOF
    changed "broker user $MQTT_USER"
    reload=1
  fi
  if [ "$(stat -c '%a %G' /etc/mosquitto/anjungan.passwd)" != "640 mosquitto" ]; then
    chown root:mosquitto /etc/mosquitto/anjungan.passwd
    chmod 0640 /etc/mosquitto/anjungan.passwd
    changed "/etc/mosquitto/anjungan.passwd is 0640 root:mosquitto"
  fi
  [ "$reload" -gt 0 ] && RESTART_MOSQUITTO=1
  return 0
}

# -- the previous layout ---------------------------------------------------------------------------------------
# The first release kept its store where its configuration's data_dir "./data" put it, beside the configuration
# (/etc/anjungan/data), which the sandboxed units may not write. Move that folder to $DATA_DIR (the old
# services stopped meanwhile) and point data_dir at it; a data_dir elsewhere, or a store in both places, is
# refused before anything moves. A failed migration afterwards starts the old services again (upgrade_store).
MOVED_SERVICES=()
previous_layout() {
  [ -f "$CONFIG" ] || return 0
  local old
  old="$(config_data_dir)"
  if [ "$old" = "$DATA_DIR" ]; then
    unchanged "data_dir $DATA_DIR"
    return 0
  fi
  case "$old/" in
    "$CONF_DIR"/*) ;;
    *) refuse "$CONFIG has data_dir = $old, which the services may not write: move the folder to $DATA_DIR," \
         "set [gateway] data_dir = \"$DATA_DIR\" and run this again" ;;
  esac
  if [ -d "$old" ] && [ -n "$(ls -A "$DATA_DIR" 2>/dev/null)" ]; then
    refuse "there is a data folder in $old (data_dir of $CONFIG) and files in $DATA_DIR: keep one (the one" \
      "with the newer store) in $DATA_DIR, set [gateway] data_dir = \"$DATA_DIR\" and run this again"
  fi
  if [ -d "$old" ]; then
    stop_for_move
    rmdir "$DATA_DIR"
    mv -T "$old" "$DATA_DIR"
    chown -R "$SERVICE_USER:$SERVICE_USER" "$DATA_DIR"
    chmod -R go-rwx "$DATA_DIR"
    changed "moved the data folder $old to $DATA_DIR"
  fi
  set_data_dir
  changed "$CONFIG: [gateway] data_dir = \"$DATA_DIR\""
}

# the data folder the configuration names, as the new release reads it (absolute)
config_data_dir() {
  local out
  if ! out="$("$NEW_RELEASE/bin/python" -c 'import os, sys
from gateway import config
print(os.path.normpath(config.load(sys.argv[1], env={}).data_dir))' "$CONFIG" 2>&1)"; then
    refuse "the new release cannot read $CONFIG: ${out##*$'\n'}; fix it and run this again"
  fi
  printf '%s\n' "$out"
}

set_data_dir() {
  if grep -q '^data_dir *=' "$CONFIG"; then
    sed -i "s|^data_dir *=.*|data_dir = \"$DATA_DIR\"|" "$CONFIG"
  elif grep -q '^\[gateway\]' "$CONFIG"; then
    sed -i "0,/^\[gateway\]/s||[gateway]\ndata_dir = \"$DATA_DIR\"|" "$CONFIG"
  else
    printf '\n[gateway]\ndata_dir = "%s"\n' "$DATA_DIR" >>"$CONFIG"
  fi
  [ "$(config_data_dir)" = "$DATA_DIR" ] || refuse "could not set [gateway] data_dir in $CONFIG: set it to $DATA_DIR"
}

# the old services, stopped while their data folder moves (nothing to stop where systemd does not run)
stop_for_move() {
  systemd_running || return 0
  local unit
  for unit in anjungan-ingest anjungan-kiosk anjungan-sync anjungan-chromium; do
    if systemctl is-active --quiet "$unit"; then
      systemctl stop "$unit"
      MOVED_SERVICES+=("$unit")
      say "stopped $unit while its data folder moves"
    fi
  done
}

restart_moved_services() {
  [ ${#MOVED_SERVICES[@]} -gt 0 ] || return 0
  systemctl start "${MOVED_SERVICES[@]}" || true
  say "started again: ${MOVED_SERVICES[*]} (the previous release, on the moved data folder)"
}

# refuse MESSAGE: stop before anything more changes, saying what to do
refuse() {
  say "install-pi.sh: $*" >&2
  exit 1
}

# Units of anjungan this release no longer ships (the first release's anjungan-chromium.service, now the
# screen's): disabled, stopped and removed, so that two never run side by side.
retire_units() {
  local unit_dir="${UNIT_DIR:-/etc/systemd/system}" unit name
  for unit in "$unit_dir"/anjungan-*.service "$unit_dir"/anjungan-*.timer; do
    [ -f "$unit" ] || continue
    name="${unit##*/}"
    [ -e "$HW/systemd/$name" ] && continue
    if systemd_running; then
      systemctl disable --now "$name" >>"$LOG" 2>&1 || true
    else
      systemctl disable "$name" >>"$LOG" 2>&1 || true
    fi
    rm -f "$unit"
    changed "removed $name (no longer part of anjungan)"
  done
}

# The ingest's password in mqtt.env must be the one the broker holds (a hand edit, or a node credential once
# made under the ingest's name, may have replaced either): when it is not, mqtt.env goes and mosquitto_setup
# makes both anew.
ingest_login() {
  local password
  [ -f "$CONF_DIR/mqtt.env" ] && [ -f "$MQTT_PASSWD" ] || return 0
  password="$(sed -n 's/^ANJUNGAN_MQTT_PASSWORD=//p' "$CONF_DIR/mqtt.env")"
  if password_accepted "$MQTT_PASSWD" "$MQTT_USER" "$password"; then
    unchanged "the ingest's broker password"
    return 0
  fi
  rm -f "$CONF_DIR/mqtt.env"
  RESTART=1  # the ingest reads the new one when it starts again
  say "the ingest's password in $CONF_DIR/mqtt.env is not the broker's: making a new one"
}

# password_accepted FILE USER PASSWORD: whether Mosquitto would accept PASSWORD for USER by FILE, its password
# file (mosquitto_passwd's "$7$" PBKDF2-SHA512 or "$6$" SHA512 entries). The password travels in the
# environment, never on a command line.
password_accepted() {
  ANJUNGAN_PASSWORD="$3" python3 -c '
import base64, hashlib, hmac, os, sys

path, user = sys.argv[1:3]
password = os.environ["ANJUNGAN_PASSWORD"].encode()
for line in open(path, encoding="utf-8"):
    name, _, entry = line.rstrip("\n").partition(":")
    if name != user:
        continue
    parts = entry.split("$")
    if len(parts) == 5 and parts[1] == "7":
        salt, want = base64.b64decode(parts[3]), base64.b64decode(parts[4])
        got = hashlib.pbkdf2_hmac("sha512", password, salt, int(parts[2]), len(want))
    elif len(parts) == 4 and parts[1] == "6":
        salt, want = base64.b64decode(parts[2]), base64.b64decode(parts[3])
        got = hashlib.sha512(password + salt).digest()
    else:
        sys.exit(1)
    sys.exit(0 if hmac.compare_digest(got, want) else 1)
sys.exit(1)
' "$1" "$2"
}

system_files() {
  install_file "$HW/udev/99-anjungan-nodes.rules" /etc/udev/rules.d/99-anjungan-nodes.rules 0644 root root
  if [ "$FILE_CHANGED" = 1 ] && systemd_running; then
    udevadm control --reload && udevadm trigger --subsystem-match=tty
  fi
  install_file "$HW/journald/anjungan.conf" /etc/systemd/journald.conf.d/anjungan.conf 0644 root root
  if [ "$FILE_CHANGED" = 1 ] && systemd_running; then
    systemctl restart systemd-journald
  fi
  install_file "$HW/pam/anjungan-screen" /etc/pam.d/anjungan-screen 0644 root root
  local unit units=0
  for unit in "$HW"/systemd/*.service "$HW"/systemd/*.timer; do
    [ -e "$unit" ] || continue
    install_file "$unit" "/etc/systemd/system/$(basename "$unit")" 0644 root root
    units=$((units + FILE_CHANGED))
  done
  [ "$units" -gt 0 ] && RESTART=1
  if { [ "$units" -gt 0 ] || [ "${DAEMON_RELOAD:-0}" = 1 ]; } && systemd_running; then
    systemctl daemon-reload
  fi
}

enable_units() {
  local unit
  local wanted=(anjungan-mqtt-firewall mosquitto anjungan-ingest anjungan-kiosk anjungan-screen fake-hwclock
    anjungan-clock-save.timer anjungan-clock-central.timer)
  if grep -Eq '^url = "https?://' "$CONFIG"; then
    wanted+=(anjungan-sync)
  else
    say "sync not enabled: set [central] url, gateway_id and secret in $CONFIG, then: systemctl enable --now anjungan-sync"
  fi
  for unit in "${wanted[@]}"; do
    [ -e "/etc/systemd/system/$unit" ] || [ -e "/etc/systemd/system/$unit.service" ] \
      || [ -e "/lib/systemd/system/$unit" ] || [ -e "/lib/systemd/system/$unit.service" ] || continue
    if [ "$(systemctl is-enabled "$unit" 2>/dev/null)" = enabled ]; then
      unchanged "$unit enabled"
    else
      systemctl enable "$unit" >>"$LOG" 2>&1
      changed "$unit enabled"
    fi
  done
}

start_units() {
  if ! systemd_running; then
    say "systemd is not running here (a chroot?): the units are enabled and start at the next boot"
    return 0
  fi
  if [ "${RELOAD_FIREWALL:-0}" = 1 ] || ! systemctl is-active --quiet anjungan-mqtt-firewall; then
    systemctl restart anjungan-mqtt-firewall
  fi
  if [ "${RESTART_MOSQUITTO:-0}" = 1 ]; then systemctl restart mosquitto; fi
  local unit
  for unit in "${SERVICES[@]}" anjungan-screen anjungan-clock-save.timer anjungan-clock-central.timer; do
    [ "$(systemctl is-enabled "$unit" 2>/dev/null)" = enabled ] || continue
    if [ "${RESTART:-0}" = 1 ]; then
      systemctl restart "$unit"
    elif ! systemctl is-active --quiet "$unit"; then
      systemctl start "$unit"
      changed "$unit started"
    fi
  done
}

main() {
  touch "$LOG"
  chmod 0640 "$LOG"
  log "== install-pi.sh from $SRC"
  check_identity
  check_wheelhouse
  check_mqtt_interface
  step "installing the Debian packages" packages
  step "making the system users" users
  step "making the folders" folders
  step "building the release" release
  step "installing the anjungan command" wrapper
  step "writing the configuration" configuration
  step "moving the first release's data into place" previous_layout
  step "checking the ingest's broker login" ingest_login
  step "setting up the MQTT broker" mosquitto_setup
  step "migrating the store" upgrade_store
  step "installing udev rules, journald limits and units" system_files
  step "retiring units of the first release" retire_units
  step "enabling the units" enable_units
  step "starting the units" start_units
  STEP="finishing"
  if [ "$CHANGES" -eq 0 ]; then
    say "nothing changed: anjungan is installed and up to date ($(readlink -f "$PREFIX/current"))"
  else
    say "$CHANGES change(s) made; anjungan runs from $(readlink -f "$PREFIX/current"); log: $LOG"
    say "next: sudo anjungan doctor"
  fi
}

# Run when executed; only define the functions when sourced (tests/hardware/test_scripts.py,
# tests/hardware/test_install_steps.py).
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  parse_args "$@"
  require_root
  main
fi
