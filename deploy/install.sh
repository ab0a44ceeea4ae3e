#!/usr/bin/env bash
# Install argo-alpine as three systemd services on this host.
#
#   sudo deploy/install.sh            install (or upgrade) and enable the units
#   sudo deploy/install.sh --no-start install and enable, but do not start
#   deploy/install.sh --root DIR      stage every file under DIR (packaging, tests);
#                                     creates no user and runs no systemctl
#
# What it does: creates the `argo` system user (sysusers.d), a virtualenv under
# /opt/argo-alpine/venv with this checkout installed, /etc/argo-alpine/*.env from the
# examples when missing (mode 0600, never overwritten), the units in
# /etc/systemd/system, then daemon-reload and enable. Uninstall: deploy/uninstall.sh.
set -euo pipefail

ROOT=""
START=1
while [ $# -gt 0 ]; do
    case "$1" in
        --root) ROOT="${2:?--root needs a directory}"; shift 2 ;;
        --no-start) START=0; shift ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

SRC="$(cd "$(dirname "$0")/.." && pwd)"
PREFIX="$ROOT/opt/argo-alpine"
ETC="$ROOT/etc/argo-alpine"
UNITS="$ROOT/etc/systemd/system"
SYSUSERS="$ROOT/usr/lib/sysusers.d"
PYTHON="${PYTHON:-python3}"

if [ -z "$ROOT" ] && [ "$(id -u)" -ne 0 ]; then
    echo "install.sh: run as root (or stage with --root DIR)" >&2
    exit 2
fi

echo "installing argo-alpine from $SRC into ${ROOT:-/}"
install -d -m 0755 "$PREFIX" "$UNITS" "$SYSUSERS"
install -d -m 0750 "$ETC"
install -m 0644 "$SRC/deploy/systemd/argo-alpine.sysusers.conf" "$SYSUSERS/argo-alpine.conf"

if [ -z "$ROOT" ]; then
    systemd-sysusers "$SYSUSERS/argo-alpine.conf"
fi

"$PYTHON" -m venv "$PREFIX/venv"
"$PREFIX/venv/bin/pip" install --quiet --upgrade pip
"$PREFIX/venv/bin/pip" install --quiet "$SRC"
rm -rf "$PREFIX/docs" && cp -r "$SRC/docs" "$PREFIX/docs"

for name in generator relay alpine; do
    target="$ETC/$name.env"
    if [ ! -e "$target" ]; then
        install -m 0600 "$SRC/deploy/env/$name.env.example" "$target"
        echo "  wrote $target from the example: put real keys and secrets in it"
    else
        echo "  kept $target"
    fi
done

if [ ! -e "$ETC/argo-alpine.toml" ]; then
    install -m 0640 "$SRC/deploy/argo-alpine.toml.example" "$ETC/argo-alpine.toml"
    echo "  wrote $ETC/argo-alpine.toml from the example"
fi
# Secrets as systemd credentials (LoadCredential=): one file each, readable by root only.
install -d -m 0700 "$ETC/credentials"
for credential in argo-api-key alpine-signing-secret alpine-api-keys; do
    if [ ! -e "$ETC/credentials/$credential" ]; then
        install -m 0600 /dev/null "$ETC/credentials/$credential"
        echo "  created $ETC/credentials/$credential (empty): put the secret in it"
    fi
done

for unit in argo-generator.service argo-relay.service alpine-api.service \
    alpine-record-head.service alpine-record-head.timer; do
    install -m 0644 "$SRC/deploy/systemd/$unit" "$UNITS/$unit"
done

if [ -z "$ROOT" ]; then
    systemctl daemon-reload
    systemctl enable alpine-api.service argo-relay.service argo-generator.service
    systemctl enable --now alpine-record-head.timer  # daily signed record head (docs)
    if [ "$START" -eq 1 ]; then
        systemctl restart alpine-api.service argo-relay.service argo-generator.service
    fi
    echo "done: systemctl status alpine-api argo-relay argo-generator; relay status"
else
    echo "staged under $ROOT"
fi
