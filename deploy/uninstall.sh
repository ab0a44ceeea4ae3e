#!/usr/bin/env bash
# Remove the argo-alpine services and program files. Data is kept unless --purge:
#   sudo deploy/uninstall.sh           stop, disable, remove units and /opt/argo-alpine
#   sudo deploy/uninstall.sh --purge   also remove /etc/argo-alpine, /var/lib/argo-alpine
#                                      (the SQLite outbox!) and /var/log/argo-alpine
#   deploy/uninstall.sh --root DIR     the same on a tree staged with install.sh --root
set -euo pipefail

ROOT=""
PURGE=0
while [ $# -gt 0 ]; do
    case "$1" in
        --root) ROOT="${2:?--root needs a directory}"; shift 2 ;;
        --purge) PURGE=1; shift ;;
        -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
        *) echo "uninstall.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

UNITS=(alpine-record-head.timer alpine-record-head.service argo-generator.service argo-relay.service
    alpine-api.service)
if [ -z "$ROOT" ]; then
    systemctl disable --now "${UNITS[@]}" || true
fi
for unit in "${UNITS[@]}"; do
    rm -f "$ROOT/etc/systemd/system/$unit"
done
rm -rf "$ROOT/opt/argo-alpine" "$ROOT/usr/lib/sysusers.d/argo-alpine.conf"
if [ "$PURGE" -eq 1 ]; then
    rm -rf "$ROOT/etc/argo-alpine" "$ROOT/var/lib/argo-alpine" "$ROOT/var/log/argo-alpine"
fi
if [ -z "$ROOT" ]; then
    systemctl daemon-reload
fi
echo "removed argo-alpine${PURGE:+ (purge=$PURGE)}"
