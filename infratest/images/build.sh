#!/usr/bin/env bash
# build.sh: build the local database images of the infrastructure tests from
# Debian bookworm packages, for machines whose Docker engine reaches no image
# registry:
#
#   oauthstore-test/postgres:15      PostgreSQL 15; user postgres, trust auth
#                                    from anywhere, database "test"; port 5432
#   oauthstore-test/mariadb:10.11    MariaDB 10.11; root@'%' with an empty
#                                    password, database "test"; port 3306
#   oauthstore-test/ferretdb:1.24.2  FerretDB 1.24.2 (infratest/cmd/ferretdb)
#                                    on its PostgreSQL handler, with a
#                                    PostgreSQL 15 inside; port 27017
#
# Usage: images/build.sh [postgres] [mariadb] [ferretdb]   (default: all three)
#
# How: `debootstrap --variant=minbase --include=PACKAGES bookworm` makes a
# root file system, which is configured (config files, a `test` database, an
# entry point script in /usr/local/bin/oauthstore-entrypoint) and turned into
# an image by `tar | docker import`. No Dockerfile, no base image, no
# registry: only Debian's package archive and a Docker engine.
#
# Cache: the debootstrap output is kept as a tarball in
# $OAUTHSTORE_IMAGE_CACHE (default /var/cache/oauthstore-images), named after
# a hash of the package list, the suite and SCRIPT_VERSION, and reused by
# later runs (PostgreSQL's serves both the postgres and ferretdb images).
# Each image carries the label org.oauthstore.image-hash, a hash of this
# script, of its rootfs key and (ferretdb) of the binary; when the image
# already has the hash of the current inputs, nothing is done for it. Bump
# SCRIPT_VERSION to force a fresh debootstrap; `rm -rf` the cache directory
# to reclaim its space (about 1.2 GB).
#
# Needs root (debootstrap, chroot) and a Docker engine (images/dockerd.sh).
# Installs debootstrap with apt if it is missing. Prints the time of each
# step.
set -euo pipefail

SCRIPT_VERSION=2
SUITE=bookworm
PG_PACKAGES="postgresql-15"
MARIADB_PACKAGES="mariadb-server"
PGBIN=/usr/lib/postgresql/15/bin
PGDATA=/var/lib/postgresql/15/main
PGCONF=/etc/postgresql/15/main

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
infratest=$(dirname "$here")
CACHE=${OAUTHSTORE_IMAGE_CACHE:-/var/cache/oauthstore-images}
export PATH="$PATH:/usr/local/go/bin:/usr/sbin:/sbin"

log() { printf '[build.sh %5ss] %s\n' "$SECONDS" "$*"; }
die() { printf 'build.sh: %s\n' "$*" >&2; exit 1; }
sha() { sha256sum | cut -c1-16; }

[ "$(id -u)" = 0 ] || exec sudo -E PATH="$PATH" bash "${BASH_SOURCE[0]}" "$@"

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(postgres mariadb ferretdb)
for t in "${targets[@]}"; do
  case $t in postgres | mariadb | ferretdb) ;; *) die "unknown image $t: want postgres, mariadb or ferretdb" ;; esac
done
want() { local t; for t in "${targets[@]}"; do [ "$t" = "$1" ] && return 0; done; return 1; }

docker info >/dev/null 2>&1 || die "no Docker engine answers: run infratest/images/dockerd.sh first"
mkdir -p "$CACHE/rootfs" "$CACHE/logs" "$CACHE/work"
# One build at a time per cache directory.
exec 9>"$CACHE/.lock"
flock 9

# --- keys -------------------------------------------------------------------

rootfs_key() { # rootfs_key PACKAGES: the cache key of a debootstrap output
  printf 'v%s %s minbase %s\n' "$SCRIPT_VERSION" "$SUITE" "$(tr ' ' '\n' <<<"$1" | sort | tr '\n' ' ')" | sha
}
rootfs_tar() { echo "$CACHE/rootfs/$SUITE-$(rootfs_key "$1").tar"; }
script_hash=$(sha <"${BASH_SOURCE[0]}")

image_hash() { # image_hash PACKAGES [EXTRA]: the content hash of an image
  printf '%s %s %s\n' "$script_hash" "$(rootfs_key "$1")" "${2:-}" | sha
}
image_current() { # image_current NAME HASH: does NAME exist with label HASH?
  [ "$(docker image inspect --format '{{index .Config.Labels "org.oauthstore.image-hash"}}' "$1" 2>/dev/null)" = "$2" ]
}

# --- root file systems ------------------------------------------------------

# ensure_rootfs PACKAGES: make sure $(rootfs_tar PACKAGES) exists.
ensure_rootfs() {
  local pkgs=$1 tar key dir start
  tar=$(rootfs_tar "$pkgs")
  key=$(rootfs_key "$pkgs")
  if [ -s "$tar" ]; then
    log "rootfs for '$pkgs': cached ($tar)"
    return 0
  fi
  start=$SECONDS
  dir=$(mktemp -d "$CACHE/work/rootfs-$key.XXXXXX")
  # mktemp makes it 0700: as the root directory of the system, it must let
  # every user (postgres, mysql) in.
  chmod 755 "$dir"
  log "debootstrap $SUITE with '$pkgs' (log: $CACHE/logs/debootstrap-$key.log)"
  if ! debootstrap --variant=minbase --include="${pkgs// /,}" "$SUITE" "$dir" \
    >"$CACHE/logs/debootstrap-$key.log" 2>&1; then
    tail -n 20 "$CACHE/logs/debootstrap-$key.log" >&2
    rm -rf "$dir"
    die "debootstrap failed for '$pkgs'"
  fi
  if ! rootfs_ok "$dir" "$pkgs"; then
    rm -rf "$dir"
    die "debootstrap of '$pkgs' left no initialised database (see $CACHE/logs/debootstrap-$key.log); not caching it"
  fi
  # Downloaded packages, package lists and documentation: not needed to run,
  # and every container copies the image's files (vfs).
  rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/* \
    "$dir"/usr/share/doc/* "$dir"/usr/share/man/* "$dir"/usr/share/info/* "$dir"/usr/share/locale/*
  tar --numeric-owner -C "$dir" -cf "$tar.tmp" .
  mv "$tar.tmp" "$tar"
  rm -rf "$dir"
  log "rootfs for '$pkgs' built in $((SECONDS - start)) s: $tar ($(du -h "$tar" | cut -f1))"
}

# rootfs_ok DIR PACKAGES: did the packages' scripts initialise their
# database (they only warn when they cannot)?
rootfs_ok() {
  case " $2 " in *" postgresql-15 "*) [ -f "$1$PGDATA/PG_VERSION" ] || return 1 ;; esac
  case " $2 " in *" mariadb-server "*) [ -d "$1/var/lib/mysql/mysql" ] || return 1 ;; esac
  return 0
}

# --- image configuration (run on an extracted rootfs) -----------------------

# configure_postgres DIR DATABASES...: PostgreSQL 15 on port 5432, on every
# address, trust auth for everyone, the given databases created.
configure_postgres() {
  local dir=$1 db sql=
  shift
  [ -x "$dir$PGBIN/postgres" ] && [ -f "$dir$PGDATA/PG_VERSION" ] || die "no PostgreSQL 15 cluster in the rootfs"
  cat >>"$dir$PGCONF/postgresql.conf" <<'EOF'

# oauthstore-test: a throw-away test server. Every address, the standard port,
# no TLS; durability traded for speed (a crash loses the data: fine here).
listen_addresses = '*'
port = 5432
ssl = off
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
  cat >"$dir$PGCONF/pg_hba.conf" <<'EOF'
# oauthstore-test: trust everyone (the container's port is published on
# 127.0.0.1 only).
local all all trust
host  all all 0.0.0.0/0 trust
host  all all ::/0      trust
EOF
  for db in "$@"; do sql+="CREATE DATABASE $db;"$'\n'; done
  # Single-user mode: no server, no socket, no port taken on the host.
  printf '%s' "$sql" | chroot "$dir" setpriv --reuid=postgres --regid=postgres --init-groups \
    "$PGBIN/postgres" --single -D "$PGDATA" -c config_file="$PGCONF/postgresql.conf" postgres \
    >"$CACHE/logs/postgres-single.log" 2>&1 || { cat "$CACHE/logs/postgres-single.log" >&2; die "creating databases $*"; }
  grep -q ERROR "$CACHE/logs/postgres-single.log" && { cat "$CACHE/logs/postgres-single.log" >&2; die "creating databases $*"; }
  return 0
}

# The entry points. Each runs its servers in the foreground, handing
# docker stop's SIGTERM on as a fast shutdown.
write_postgres_entrypoint() {
  cat >"$1/usr/local/bin/oauthstore-entrypoint" <<EOF
#!/bin/bash
# oauthstore-test/postgres: PostgreSQL 15 on 0.0.0.0:5432, trust auth,
# database "test".
set -u
mkdir -p /run/postgresql && chown postgres:postgres /run/postgresql
setpriv --reuid=postgres --regid=postgres --init-groups \\
  $PGBIN/postgres -D $PGDATA -c config_file=$PGCONF/postgresql.conf &
pg=\$!
trap 'kill -INT \$pg 2>/dev/null' TERM INT
while :; do
  wait \$pg; status=\$?
  kill -0 \$pg 2>/dev/null || exit \$status
done
EOF
  chmod 755 "$1/usr/local/bin/oauthstore-entrypoint"
}

write_ferretdb_entrypoint() {
  cat >"$1/usr/local/bin/oauthstore-entrypoint" <<EOF
#!/bin/bash
# oauthstore-test/ferretdb: PostgreSQL 15 on 127.0.0.1:5432 inside the
# container, then FerretDB on 0.0.0.0:27017 with its PostgreSQL handler on
# database "ferretdb". The container stops when either stops.
set -u
mkdir -p /run/postgresql && chown postgres:postgres /run/postgresql
setpriv --reuid=postgres --regid=postgres --init-groups \\
  $PGBIN/postgres -D $PGDATA -c config_file=$PGCONF/postgresql.conf -c listen_addresses=127.0.0.1 &
pg=\$!
fd=
trap 'kill -TERM \$fd 2>/dev/null; kill -INT \$pg 2>/dev/null' TERM INT
deadline=\$((SECONDS + 60))
until $PGBIN/pg_isready -q -h 127.0.0.1 -p 5432 -d ferretdb; do
  kill -0 \$pg 2>/dev/null || { echo "oauthstore-entrypoint: PostgreSQL exited" >&2; exit 1; }
  [ \$SECONDS -lt \$deadline ] || { echo "oauthstore-entrypoint: PostgreSQL not ready after 60 s" >&2; exit 1; }
  sleep 0.1
done
/usr/local/bin/ferretdb --listen-addr=0.0.0.0:27017 --handler=postgresql \\
  --postgresql-url=postgres://postgres@127.0.0.1:5432/ferretdb \\
  --state-dir=/var/lib/ferretdb --log-level=\${FERRETDB_LOG_LEVEL:-warn} &
fd=\$!
wait -n \$pg \$fd; status=\$?
kill -TERM \$fd 2>/dev/null; kill -INT \$pg 2>/dev/null
wait
exit \$status
EOF
  chmod 755 "$1/usr/local/bin/oauthstore-entrypoint"
}

configure_mariadb() {
  local dir=$1
  [ -d "$dir/var/lib/mysql/mysql" ] || die "no initialised MariaDB data directory in the rootfs"
  cat >"$dir/etc/mysql/mariadb.conf.d/99-oauthstore.cnf" <<'EOF'
# oauthstore-test: a throw-away test server on every address; the init file
# creates root@'%' (empty password) and database test at every start.
[mysqld]
bind-address = 0.0.0.0
skip-name-resolve
init-file = /etc/mysql/oauthstore-init.sql
innodb_flush_log_at_trx_commit = 2
EOF
  cat >"$dir/etc/mysql/oauthstore-init.sql" <<'EOF'
CREATE DATABASE IF NOT EXISTS test;
CREATE USER IF NOT EXISTS 'root'@'%' IDENTIFIED BY '';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION;
EOF
  chmod 644 "$dir/etc/mysql/oauthstore-init.sql" "$dir/etc/mysql/mariadb.conf.d/99-oauthstore.cnf"
  cat >"$dir/usr/local/bin/oauthstore-entrypoint" <<'EOF'
#!/bin/bash
# oauthstore-test/mariadb: MariaDB 10.11 on 0.0.0.0:3306, root@'%' with an
# empty password, database "test". mariadbd shuts down on SIGTERM.
set -eu
mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
exec /usr/sbin/mariadbd --user=mysql
EOF
  chmod 755 "$dir/usr/local/bin/oauthstore-entrypoint"
}

# --- assembling an image ----------------------------------------------------

# assemble NAME HASH PACKAGES PORT CONFIGURE [ARGS...]: extract the rootfs,
# run CONFIGURE DIR ARGS..., import it as NAME labelled with HASH.
assemble() {
  local name=$1 hash=$2 pkgs=$3 port=$4 configure=$5 dir start old
  shift 5
  start=$SECONDS
  old=$(docker image inspect --format '{{.Id}}' "$name" 2>/dev/null || true)
  dir=$(mktemp -d "$CACHE/work/image.XXXXXX")
  chmod 755 "$dir"
  tar --numeric-owner -xpf "$(rootfs_tar "$pkgs")" -C "$dir"
  "$configure" "$dir" "$@"
  tar --numeric-owner -C "$dir" -c . | docker import \
    --change 'CMD ["/usr/local/bin/oauthstore-entrypoint"]' \
    --change "EXPOSE $port" \
    --change 'ENV LANG=C.UTF-8' \
    --change "LABEL org.oauthstore.image-hash=$hash" \
    --change "LABEL org.oauthstore.test-image=$name" \
    - "$name" >/dev/null
  rm -rf "$dir"
  # The image it replaces, now untagged, would keep its full copy (vfs).
  if [ -n "$old" ] && [ "$old" != "$(docker image inspect --format '{{.Id}}' "$name")" ]; then
    docker rmi "$old" >/dev/null 2>&1 || log "$name: the previous image $old is still in use; not removed"
  fi
  log "$name imported in $((SECONDS - start)) s (content hash $hash)"
}

configure_postgres_image() { configure_postgres "$1" test; write_postgres_entrypoint "$1"; }
configure_ferretdb_image() {
  configure_postgres "$1" ferretdb
  install -m 755 "$2" "$1/usr/local/bin/ferretdb"
  mkdir -p "$1/var/lib/ferretdb"
  write_ferretdb_entrypoint "$1"
}
configure_mariadb_image() { configure_mariadb "$1"; }

# --- main -------------------------------------------------------------------

PG_IMAGE=oauthstore-test/postgres:15
MARIADB_IMAGE=oauthstore-test/mariadb:10.11
FERRETDB_IMAGE=oauthstore-test/ferretdb:1.24.2

ferretdb_bin=
if want ferretdb; then
  start=$SECONDS
  command -v go >/dev/null 2>&1 || die "go is not on PATH (needed to build infratest/cmd/ferretdb)"
  ferretdb_bin=$CACHE/work/ferretdb
  # Static and path-independent: the same sources give the same binary,
  # hence the same image hash.
  (cd "$infratest" && CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath -buildvcs=false \
    -o "$ferretdb_bin" ./cmd/ferretdb)
  log "ferretdb binary built in $((SECONDS - start)) s"
fi

declare -A hashes
want postgres && hashes[postgres]=$(image_hash "$PG_PACKAGES")
want mariadb && hashes[mariadb]=$(image_hash "$MARIADB_PACKAGES")
want ferretdb && hashes[ferretdb]=$(image_hash "$PG_PACKAGES" "ferretdb:$(sha <"$ferretdb_bin")")

# Which rootfs tarballs are needed: only those of images not up to date.
need_pg= need_mariadb=
for t in "${targets[@]}"; do
  case $t in
  postgres) image_current "$PG_IMAGE" "${hashes[postgres]}" || need_pg=1 ;;
  ferretdb) image_current "$FERRETDB_IMAGE" "${hashes[ferretdb]}" || need_pg=1 ;;
  mariadb) image_current "$MARIADB_IMAGE" "${hashes[mariadb]}" || need_mariadb=1 ;;
  esac
done

# debootstrap is installed once, here: two apt-get runs side by side would
# fight over apt's lock and one would fail.
if { [ -n "$need_pg" ] || [ -n "$need_mariadb" ]; } && ! command -v debootstrap >/dev/null 2>&1; then
  log "installing debootstrap with apt"
  apt-get -o DPkg::Lock::Timeout=300 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq debootstrap >/dev/null
fi

# The debootstraps are mostly downloads and unpacking: run them side by side.
pids=()
[ -z "$need_pg" ] || { ensure_rootfs "$PG_PACKAGES" & pids+=($!); }
[ -z "$need_mariadb" ] || { ensure_rootfs "$MARIADB_PACKAGES" & pids+=($!); }
for p in "${pids[@]}"; do wait "$p" || die "building a rootfs failed"; done

for t in "${targets[@]}"; do
  case $t in
  postgres)
    if image_current "$PG_IMAGE" "${hashes[postgres]}"; then log "$PG_IMAGE: up to date"
    else assemble "$PG_IMAGE" "${hashes[postgres]}" "$PG_PACKAGES" 5432 configure_postgres_image; fi ;;
  mariadb)
    if image_current "$MARIADB_IMAGE" "${hashes[mariadb]}"; then log "$MARIADB_IMAGE: up to date"
    else assemble "$MARIADB_IMAGE" "${hashes[mariadb]}" "$MARIADB_PACKAGES" 3306 configure_mariadb_image; fi ;;
  ferretdb)
    if image_current "$FERRETDB_IMAGE" "${hashes[ferretdb]}"; then log "$FERRETDB_IMAGE: up to date"
    else assemble "$FERRETDB_IMAGE" "${hashes[ferretdb]}" "$PG_PACKAGES" 27017 configure_ferretdb_image "$ferretdb_bin"; fi ;;
  esac
done
log "done in $SECONDS s"
