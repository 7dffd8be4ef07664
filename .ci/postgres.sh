#!/usr/bin/env bash
# Install (if needed) and start a throwaway PostgreSQL server on 127.0.0.1:54329 for the
# multi-worker tests. Idempotent.
set -euo pipefail
PGPORT=54329
PGDATA=${PGDATA:-/tmp/agentflow-pg}
if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql >/dev/null
fi
PGBIN=$(dirname "$(ls /usr/lib/postgresql/*/bin/pg_ctl | sort -V | tail -n 1)")
if ! id postgres >/dev/null 2>&1; then useradd --system --no-create-home postgres; fi
if [ ! -f "$PGDATA/PG_VERSION" ]; then
  rm -rf "$PGDATA"; mkdir -p "$PGDATA"; chown postgres "$PGDATA"
  su postgres -s /bin/sh -c "$PGBIN/initdb -D $PGDATA -U postgres --auth=trust -E UTF8" >/dev/null
fi
if ! su postgres -s /bin/sh -c "$PGBIN/pg_ctl -D $PGDATA status" >/dev/null 2>&1; then
  su postgres -s /bin/sh -c "$PGBIN/pg_ctl -D $PGDATA -l $PGDATA/server.log -w \
    -o '-p $PGPORT -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off' start" >/dev/null
fi
psql_() { su postgres -s /bin/sh -c "$PGBIN/psql -h 127.0.0.1 -p $PGPORT -U postgres -tAc \"$1\""; }
psql_ "SELECT 1 FROM pg_roles WHERE rolname='agentflow'" | grep -q 1 \
  || psql_ "CREATE ROLE agentflow LOGIN PASSWORD 'agentflow' SUPERUSER"
psql_ "SELECT 1 FROM pg_database WHERE datname='agentflow'" | grep -q 1 \
  || psql_ "CREATE DATABASE agentflow OWNER agentflow"
echo "postgres ready on 127.0.0.1:$PGPORT"
