#!/bin/sh
# Build the shop's Go services into bin/ (static binaries; go.sum pins every module).
set -eu
cd "$(dirname "$0")"
mkdir -p bin
for svc in pricing orders; do
  CGO_ENABLED=0 go build -trimpath -o "bin/$svc" "./$svc"
done
echo "build.sh: bin/pricing bin/orders"
