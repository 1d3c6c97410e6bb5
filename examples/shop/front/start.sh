#!/bin/sh
# Render nginx.conf from nginx.conf.in and run nginx in the foreground: start.sh DATA_DIR
# Reads PORT, HOST (default 0.0.0.0) and STOREFRONT_ADDR (host:port of the storefront).
set -eu
data=$1
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$data"
sed -e "s|@PORT@|${PORT:-8080}|g" -e "s|@HOST@|${HOST:-0.0.0.0}|g" -e "s|@DATA@|$data|g" -e "s|@ROOT@|$root|g" \
    -e "s|@STOREFRONT@|${STOREFRONT_ADDR:-storefront:8000}|g" "$root/front/nginx.conf.in" > "$data/nginx.conf"
exec "${NGINX:-/usr/sbin/nginx}" -c "$data/nginx.conf" -e stderr
