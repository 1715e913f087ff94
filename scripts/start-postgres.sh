#!/usr/bin/env bash
# Start the installed PostgreSQL server for ctid's database tests and print the URL to use (last line of stdout):
#
#   export CTID_TEST_PG_URL=$(scripts/start-postgres.sh)
#   python -m pytest tests/db -q
#
# Default: the Debian cluster (pg_ctlcluster VERSION main), when there is one. With --tempdir DIR (or when there
# is no cluster) a private cluster is initdb'd into DIR as the postgres user and started on PORT (default 5433).
# Creates the role and database (default ctid / ctid / ctid_test) if missing. Idempotent: re-running on a running
# server only checks the role and database. Environment: CTID_PG_VERSION (15), CTID_PG_PORT, CTID_PG_USER,
# CTID_PG_PASSWORD, CTID_PG_DB. Needs root (or the postgres user) to start the server.
set -euo pipefail

VERSION=${CTID_PG_VERSION:-15}
PGUSER_NAME=${CTID_PG_USER:-ctid}
PGPASS=${CTID_PG_PASSWORD:-ctid}
PGDB=${CTID_PG_DB:-ctid_test}
TEMPDIR=""
while [ $# -gt 0 ]; do
  case "$1" in
    --tempdir) TEMPDIR=${2:?--tempdir needs a directory}; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "start-postgres.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

BIN=/usr/lib/postgresql/$VERSION/bin
if [ ! -x "$BIN/pg_ctl" ]; then
  echo "start-postgres.sh: PostgreSQL $VERSION is not installed ($BIN/pg_ctl missing); apt-get install postgresql-$VERSION" >&2
  exit 1
fi

as_postgres() {
  if [ "$(id -un)" = postgres ]; then "$@"; else
    if [ "$(id -u)" -ne 0 ]; then echo "start-postgres.sh: run as root or as the postgres user" >&2; exit 1; fi
    runuser -u postgres -- "$@"
  fi
}

if [ -z "$TEMPDIR" ] && command -v pg_ctlcluster >/dev/null && [ -d "/etc/postgresql/$VERSION/main" ]; then
  PORT=$(awk -F= '/^[[:space:]]*port[[:space:]]*=/{gsub(/[^0-9]/,"",$2); print $2; exit}' \
         "/etc/postgresql/$VERSION/main/postgresql.conf")
  PORT=${PORT:-5432}
  if ! pg_lsclusters -h | awk -v v="$VERSION" '$1==v && $2=="main" && $4=="online"' | grep -q .; then
    echo "starting cluster $VERSION/main on port $PORT" >&2
    pg_ctlcluster "$VERSION" main start >&2
  fi
  SOCKDIR=/var/run/postgresql
else
  TEMPDIR=${TEMPDIR:-/tmp/ctid-pg}
  PORT=${CTID_PG_PORT:-5433}
  SOCKDIR=$TEMPDIR
  mkdir -p "$TEMPDIR"
  chown postgres: "$TEMPDIR" 2>/dev/null || true
  if [ ! -f "$TEMPDIR/data/PG_VERSION" ]; then
    echo "initdb into $TEMPDIR/data" >&2
    PWFILE="$TEMPDIR/.pw"
    (umask 077; head -c 24 /dev/urandom | base64 > "$PWFILE")
    chown postgres: "$PWFILE" 2>/dev/null || true
    as_postgres "$BIN/initdb" -D "$TEMPDIR/data" -A scram-sha-256 --auth-local=peer -U postgres \
      --pwfile="$PWFILE" >&2
    rm -f "$PWFILE"
  fi
  if ! as_postgres "$BIN/pg_ctl" -D "$TEMPDIR/data" status >/dev/null 2>&1; then
    echo "starting private cluster in $TEMPDIR on port $PORT" >&2
    as_postgres "$BIN/pg_ctl" -D "$TEMPDIR/data" -l "$TEMPDIR/server.log" -w \
      -o "-p $PORT -k $TEMPDIR -c listen_addresses=127.0.0.1" start >&2
  fi
fi

psql_pg() { as_postgres "$BIN/psql" -h "$SOCKDIR" -p "$PORT" -v ON_ERROR_STOP=1 -qtA "$@"; }

for _ in $(seq 1 30); do
  psql_pg -d postgres -c 'SELECT 1' >/dev/null 2>&1 && break
  sleep 1
done
if [ "$(psql_pg -d postgres -c "SELECT 1 FROM pg_roles WHERE rolname='$PGUSER_NAME'")" != 1 ]; then
  psql_pg -d postgres -c "CREATE ROLE \"$PGUSER_NAME\" LOGIN PASSWORD '$PGPASS'" >&2
fi
if [ "$(psql_pg -d postgres -c "SELECT 1 FROM pg_database WHERE datname='$PGDB'")" != 1 ]; then
  psql_pg -d postgres -c "CREATE DATABASE \"$PGDB\" OWNER \"$PGUSER_NAME\"" >&2
fi
echo "postgresql+psycopg://$PGUSER_NAME:$PGPASS@127.0.0.1:$PORT/$PGDB"
