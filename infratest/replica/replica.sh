#!/usr/bin/env bash
# replica.sh: a replicated PostgreSQL for the failover test
# (infratest/failover), on this machine, beside any other cluster:
#
#   replica.sh setup         two dedicated clusters of PostgreSQL $PG_VERSION:
#                            a primary on 127.0.0.1:5442 and a streaming
#                            standby on 127.0.0.1:5443 (pg_basebackup, a
#                            replication slot), synchronous replication
#                            (synchronous_standby_names on the primary),
#                            trust authentication on 127.0.0.1, a database
#                            "test"; waits until the standby is in sync.
#                            Drops earlier clusters of these names first.
#   replica.sh stop-primary  stops the primary at once (-m immediate: no
#                            shutdown checkpoint, as if its machine died).
#   replica.sh promote       promotes the standby to primary and waits until
#                            it accepts writes.
#   replica.sh status        pg_lsclusters and the replication state.
#   replica.sh teardown      stops and drops both clusters.
#
# The main cluster (5432) and every other cluster are left alone. Needs
# PostgreSQL's Debian packaging (pg_createcluster, pg_ctlcluster) and root
# (sudo is used when not root). Variables: PG_VERSION (15), PRIMARY_PORT
# (5442), STANDBY_PORT (5443).
set -euo pipefail

VER=${PG_VERSION:-15}
PRIMARY=oauthstore_primary
STANDBY=oauthstore_standby
PRIMARY_PORT=${PRIMARY_PORT:-5442}
STANDBY_PORT=${STANDBY_PORT:-5443}
SLOT=oauthstore_standby
APP=oauthstore_standby # the standby's application_name, which synchronous_standby_names names

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
as_postgres() { if [ "$(id -un)" = postgres ]; then "$@"; else as_root runuser -u postgres -- "$@"; fi; }
log() { printf '[replica.sh %3ss] %s\n' "$SECONDS" "$*"; }
die() { echo "replica.sh: $*" >&2; exit 1; }

psql_at() { # psql_at PORT SQL: one value, no header
  psql -h 127.0.0.1 -p "$1" -U postgres -d postgres -XtAc "$2"
}

wait_until() { # wait_until SECONDS CMD...
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}

exists() { [ -d "/etc/postgresql/$VER/$1" ]; }

drop() {
  if exists "$1"; then
    if ! as_root pg_dropcluster --stop "$VER" "$1"; then
      # Only a cluster whose data directory is gone may be cleaned up by hand.
      [ ! -d "/var/lib/postgresql/$VER/$1" ] || die "pg_dropcluster $VER $1 failed"
    fi
    # pg_dropcluster leaves the configuration directory when conf.d holds
    # files it did not create (ours).
    as_root rm -rf "/etc/postgresql/$VER/$1"
    log "dropped cluster $VER/$1"
  fi
}

conf_dir() { echo "/etc/postgresql/$VER/$1/conf.d"; }

# create NAME PORT: a cluster with trust authentication, listening on
# 127.0.0.1 only, not started at boot.
create() {
  as_root pg_createcluster --start-conf=manual -p "$2" "$VER" "$1" -- \
    --auth-local=trust --auth-host=trust >/dev/null
  as_root install -d -o postgres -g postgres "$(conf_dir "$1")"
  # Small: two more servers on a CI machine.
  as_root tee "$(conf_dir "$1")/oauthstore.conf" >/dev/null <<EOF
listen_addresses = '127.0.0.1'
shared_buffers = 32MB
max_connections = 100
wal_level = replica
max_wal_senders = 5
max_replication_slots = 5
hot_standby = on
EOF
}

start() { as_root pg_ctlcluster --skip-systemctl-redirect "$VER" "$1" start; }

setup() {
  command -v pg_createcluster >/dev/null || die "pg_createcluster missing: install postgresql-common and postgresql-$VER"
  [ -x "/usr/lib/postgresql/$VER/bin/postgres" ] || die "PostgreSQL $VER is not installed (postgresql-$VER)"
  for port in "$PRIMARY_PORT" "$STANDBY_PORT"; do
    if pg_isready -q -h 127.0.0.1 -p "$port" && ! exists "$PRIMARY" && ! exists "$STANDBY"; then
      die "something else listens on 127.0.0.1:$port"
    fi
  done
  drop "$STANDBY"
  drop "$PRIMARY"

  log "primary $VER/$PRIMARY on 127.0.0.1:$PRIMARY_PORT"
  create "$PRIMARY" "$PRIMARY_PORT"
  # A commit returns once the standby has flushed it: an acknowledged
  # write survives the loss of the primary.
  as_root tee "$(conf_dir "$PRIMARY")/sync.conf" >/dev/null <<EOF
synchronous_standby_names = '$APP'
synchronous_commit = on
EOF
  start "$PRIMARY"
  wait_until 60 pg_isready -q -h 127.0.0.1 -p "$PRIMARY_PORT" || die "the primary did not start"
  psql_at "$PRIMARY_PORT" "SELECT pg_create_physical_replication_slot('$SLOT')" >/dev/null

  log "standby $VER/$STANDBY on 127.0.0.1:$STANDBY_PORT (pg_basebackup)"
  create "$STANDBY" "$STANDBY_PORT"
  local data
  data=$(pg_lsclusters -h "$VER" "$STANDBY" | awk '{print $6}')
  [ -n "$data" ] || die "no data_directory for $STANDBY"
  as_root find "$data" -mindepth 1 -delete
  as_postgres pg_basebackup -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres -D "$data" -X stream -S "$SLOT" -c fast
  as_root tee "$(conf_dir "$STANDBY")/standby.conf" >/dev/null <<EOF
primary_conninfo = 'host=127.0.0.1 port=$PRIMARY_PORT user=postgres application_name=$APP'
primary_slot_name = '$SLOT'
EOF
  as_postgres touch "$data/standby.signal"
  start "$STANDBY"
  wait_until 60 pg_isready -q -h 127.0.0.1 -p "$STANDBY_PORT" || die "the standby did not start"
  wait_until 60 sh -c "[ \"\$(psql -h 127.0.0.1 -p $PRIMARY_PORT -U postgres -d postgres -XtAc \"SELECT sync_state FROM pg_stat_replication WHERE application_name = '$APP'\")\" = sync ]" ||
    die "the standby is not in synchronous replication"
  psql_at "$PRIMARY_PORT" "CREATE DATABASE test" >/dev/null
  log "ready: primary 127.0.0.1:$PRIMARY_PORT, synchronous standby 127.0.0.1:$STANDBY_PORT, database test"
}

stop_primary() {
  exists "$PRIMARY" || die "no cluster $VER/$PRIMARY: run setup"
  as_root pg_ctlcluster --skip-systemctl-redirect "$VER" "$PRIMARY" stop -m immediate
  log "primary stopped (immediate)"
}

promote() {
  exists "$STANDBY" || die "no cluster $VER/$STANDBY: run setup"
  as_root pg_ctlcluster --skip-systemctl-redirect "$VER" "$STANDBY" promote
  wait_until 60 sh -c "[ \"\$(psql -h 127.0.0.1 -p $STANDBY_PORT -U postgres -d postgres -XtAc 'SELECT pg_is_in_recovery()')\" = f ]" ||
    die "the standby did not leave recovery"
  log "standby promoted: 127.0.0.1:$STANDBY_PORT accepts writes"
}

status() {
  pg_lsclusters | awk -v a="$PRIMARY" -v b="$STANDBY" 'NR == 1 || $2 == a || $2 == b'
  if pg_isready -q -h 127.0.0.1 -p "$PRIMARY_PORT"; then
    psql_at "$PRIMARY_PORT" "SELECT application_name, state, sync_state FROM pg_stat_replication" || true
  fi
}

case "${1:-}" in
  setup) setup ;;
  stop-primary) stop_primary ;;
  promote) promote ;;
  status) status ;;
  teardown)
    drop "$STANDBY"
    drop "$PRIMARY"
    ;;
  *) echo "usage: $0 setup|stop-primary|promote|status|teardown" >&2; exit 2 ;;
esac
