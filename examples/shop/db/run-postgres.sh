#!/bin/sh
# Run the shop's PostgreSQL 15 in the foreground: run-postgres.sh DATA_DIR PORT [HOST]
#
# Creates a cluster (superuser and database "shop", trust auth) on first start and keeps it
# across restarts. PostgreSQL refuses to run as root, so as root it drops to the `postgres`
# user with setpriv (exec, no fork: the pid that was started is the postmaster, so a signal
# to it reaches postgres). The postgres user cannot enter a DATA_DIR below a mode-700 home
# (/root/...), so as root the cluster lives in /tmp/shop-pg-<sha of DATA_DIR>/ (a path that
# stays the same across restarts), with DATA_DIR/pgdata a symlink to it; a cluster whose
# DATA_DIR no longer exists is removed at the next start.
set -eu
data=$1
port=$2
host=${3:-127.0.0.1}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}

if [ "$(id -u)" = 0 ]; then
  for old in /tmp/shop-pg-*; do
    [ -f "$old/owner" ] && [ ! -d "$(cat "$old/owner")" ] && rm -rf "$old"
  done
  base=/tmp/shop-pg-$(printf %s "$data" | sha256sum | cut -c1-16)
  mkdir -p "$base"
  printf %s "$data" > "$base/owner"
  chown postgres: "$base"
  chmod 700 "$base"
  ln -sfn "$base" "$data/pgdata"
  as="setpriv --reuid=postgres --regid=postgres --init-groups --"
else
  base=$data/pgdata
  mkdir -p "$base"
  as=""
fi
cluster=$base/cluster
if [ ! -f "$cluster/PG_VERSION" ]; then
  rm -rf "$cluster"
  $as "$PGBIN/initdb" -D "$cluster" -U shop --auth=trust -E UTF8 --locale=C.UTF-8 >"$base/initdb.log" 2>&1 \
    || { cat "$base/initdb.log" >&2; exit 1; }
  # trust the subnets the server is on (the compose network); initdb trusts only loopback
  echo "host all all samenet trust" >> "$cluster/pg_hba.conf"
  echo "CREATE DATABASE shop" | $as "$PGBIN/postgres" --single -D "$cluster" postgres >/dev/null
  echo "run-postgres: created cluster $cluster with database shop"
fi
exec $as "$PGBIN/postgres" -D "$cluster" -p "$port" -h "$host" -k "$base" \
  -c fsync=on -c synchronous_commit=on -c log_min_messages=warning -c logging_collector=off
