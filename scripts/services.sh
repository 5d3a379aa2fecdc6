#!/usr/bin/env bash
# Make Redis and PostgreSQL reachable at REDIS_URL and DATABASE_URL.
#
#   scripts/services.sh ensure   use the server that answers at each URL; where
#                                none does, start a local one (installing
#                                Debian's package first when its programs are
#                                missing and we may), then create the database
#   scripts/services.sh stop     stop only the servers `ensure` started
#
# Local servers keep their data under $CERTQ_RUN_DIR (default: .run/ at the
# repo root), one directory per service and port. $CERTQ_RUN_DIR/started
# lists the servers this script started, one "<service> <port>" a line.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUN_DIR=$(realpath -m "${CERTQ_RUN_DIR:-$REPO_ROOT/.run}")
readonly REPO_ROOT RUN_DIR
readonly STARTED_FILE=$RUN_DIR/started
readonly TIMEOUT_SECONDS=60
# scheme://[user[:password]@]host[:port][/path][?query], groups by number:
# 1 scheme://, 2 userinfo@, 3 user, 5 password, 6 host, 7 :port, 8 port,
# 9 /path, 10 ?query.
readonly URL_PATTERN='^([a-z][a-z0-9+.-]*://)(([^:@/]*)(:([^@/]*))?@)?'\
'([^:/?#@]*)(:([0-9]*))?(/[^?#]*)?(\?[^#]*)?$'

decode() { printf '%b' "${1//%/\\x}"; }  # URL percent-encoding

say() { echo "services: $*"; }
die() { echo "services: error: $*" >&2; exit 1; }

# --- configuration -------------------------------------------------------

parse_urls() {
  local redis_url=${REDIS_URL:-redis://127.0.0.1:6379/0}
  local database_url=${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/certq}

  [[ $redis_url =~ $URL_PATTERN ]] || die "REDIS_URL is not a redis:// URL"
  REDIS_PASSWORD=$(decode "${BASH_REMATCH[5]}")
  REDIS_HOST=${BASH_REMATCH[6]}
  REDIS_PORT=${BASH_REMATCH[8]:-6379}

  [[ $database_url =~ $URL_PATTERN ]] || die "DATABASE_URL is not a postgresql:// URL"
  PG_USER=$(decode "${BASH_REMATCH[3]:-$(id -un)}")
  PG_HOST=${BASH_REMATCH[6]}
  PG_PORT=${BASH_REMATCH[8]:-5432}
  PG_DB=$(decode "${BASH_REMATCH[9]#/}")
  PG_DB=${PG_DB:-$PG_USER}
  # The same server and credentials, but its always-present `postgres` database.
  PG_ADMIN_URL="${BASH_REMATCH[1]}${BASH_REMATCH[2]}${PG_HOST}${BASH_REMATCH[7]}"
  PG_ADMIN_URL+="/postgres${BASH_REMATCH[10]}"

  [[ -n $REDIS_HOST ]] || die "REDIS_URL names no host"
  [[ -n $PG_HOST ]] || die "DATABASE_URL names no host (unix sockets are unsupported)"
}

is_local() { [[ $1 == localhost || $1 == 127.* ]]; }

# --- programs and packages -----------------------------------------------

# find_program NAME: print its path, from PATH or else the newest
# /usr/lib/postgresql/*/bin (Debian keeps PostgreSQL's server programs there).
find_program() {
  local path

  if command -v "$1"; then return 0; fi

  while read -r path; do
    if [[ -x $path ]]; then echo "$path"; return 0; fi
  done < <(printf '%s\n' /usr/lib/postgresql/*/bin/"$1" | sort -rV)
  return 1
}

as_root() {
  if (( EUID == 0 )); then "$@"; else sudo -n "$@"; fi
}

# install_packages PACKAGE...: install Debian packages as root or through
# passwordless sudo; otherwise fail naming what to install.
install_packages() {
  local log=$RUN_DIR/apt.log

  if ! command -v apt-get >/dev/null; then
    die "missing programs: install $* (no apt-get on this machine)"
  fi
  if (( EUID != 0 )) && ! sudo -n true 2>/dev/null; then
    die "missing programs: run 'sudo apt-get install $*' or point the URLs at servers"
  fi

  say "installing $* with apt-get (log: $log)"
  mkdir -p "$RUN_DIR"
  if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >"$log" 2>&1 ||
     ! as_root env DEBIAN_FRONTEND=noninteractive \
       apt-get install -y -q --no-install-recommends "$@" >>"$log" 2>&1; then
    tail -n 5 "$log" >&2
    die "apt-get could not install $*; see $log"
  fi
}

# Debian's server package creates and starts a "main" cluster on 5432, the
# very port we may be about to claim; a createcluster.d file (see
# createcluster.conf(5)) turns that off for the duration of the install.
install_postgresql_server() {
  local conf=/etc/postgresql-common/createcluster.d/certq-no-main-cluster.conf
  local status=0

  if (( EUID == 0 )) || sudo -n true 2>/dev/null; then
    as_root mkdir -p "${conf%/*}"
    echo "create_main_cluster = off" | as_root tee "$conf" >/dev/null
  fi
  (install_packages postgresql) || status=$?
  as_root rm -f "$conf" 2>/dev/null || true
  return "$status"
}

# --- process bookkeeping -------------------------------------------------

# runs_in PID DIR: true while process PID runs with DIR as its working
# directory. Both servers chdir to their data directory, so this tells ours
# from a program that got the pid after a reboot, and from a zombie.
runs_in() { [[ $(readlink "/proc/$1/cwd" 2>/dev/null) == "$2" ]]; }

# our_pid PIDFILE DIR: print the pid in PIDFILE if that process runs in DIR.
our_pid() {
  local pid

  [[ -f $1 ]] || return 1
  pid=$(head -n 1 "$1")
  [[ $pid =~ ^[0-9]+$ ]] && runs_in "$pid" "$2" || return 1
  echo "$pid"
}

started_by_us() { grep -qxF "$1 $2" "$STARTED_FILE" 2>/dev/null; }

# say_using SERVICE PORT WHAT: report reuse, naming servers we started earlier.
say_using() {
  local note=""

  if started_by_us "$1" "$2"; then note=" (started earlier by this script)"; fi
  say "$1: using $3$note"
}

record_started() {
  started_by_us "$1" "$2" || echo "$1 $2" >>"$STARTED_FILE"
}

# wait_until WHAT PID CHECK...: poll CHECK until it succeeds; fail when PID
# (if given) has exited or the time is up.
wait_until() {
  local what=$1 pid=$2 deadline=$((SECONDS + TIMEOUT_SECONDS))
  shift 2

  until "$@"; do
    if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
      die "$what exited before answering"
    fi
    (( SECONDS < deadline )) || die "$what did not answer within ${TIMEOUT_SECONDS}s"
    sleep 0.2
  done
}

# stop_pid WHAT PIDFILE DIR SIGNAL
stop_pid() {
  local pid deadline=$((SECONDS + TIMEOUT_SECONDS))

  if ! pid=$(our_pid "$2" "$3"); then
    say "$1: not running"
    return 0
  fi

  kill -s "$4" "$pid"
  while runs_in "$pid" "$3"; do
    (( SECONDS < deadline )) ||
      die "$1 (pid $pid) did not stop within ${TIMEOUT_SECONDS}s"
    sleep 0.2
  done
  say "$1: stopped"
}

# --- Redis ---------------------------------------------------------------

# Any reply to PING proves a Redis server: one that wants a password answers
# -NOAUTH. Plain bash, so it needs no client program.
redis_answers() {
  # shellcheck disable=SC2016  # $0 and $1 belong to the inner bash
  timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1" && printf "PING\r\n" >&3 &&
    IFS= read -r reply <&3 && [[ $reply == [+-]* ]]' \
    "$REDIS_HOST" "$REDIS_PORT" 2>/dev/null
}

ensure_redis() {
  local where=$REDIS_HOST:$REDIS_PORT

  if redis_answers; then
    say_using redis "$REDIS_PORT" "$where"
    return 0
  fi
  is_local "$REDIS_HOST" ||
    die "nothing answers at REDIS_URL ($where), and it is not this machine"

  if ! find_program redis-server >/dev/null; then
    install_packages redis-server
    # The package starts its own service on 6379, which may be the URL's port.
    if redis_answers; then
      say_using redis "$REDIS_PORT" "$where (the redis-server package's service)"
      return 0
    fi
  fi
  start_redis
}

start_redis() {
  local dir=$RUN_DIR/redis-$REDIS_PORT bind=$REDIS_HOST server pid

  server=$(find_program redis-server) || die "redis-server is missing"
  [[ $bind == localhost ]] && bind=127.0.0.1

  mkdir -p "$dir"
  cat >"$dir/redis.conf" <<EOF
bind $bind
port $REDIS_PORT
dir "$dir"
pidfile "$dir/redis.pid"
logfile "$dir/redis.log"
EOF
  chmod 600 "$dir/redis.conf"
  if [[ -n $REDIS_PASSWORD ]]; then
    echo "requirepass \"$REDIS_PASSWORD\"" >>"$dir/redis.conf"
  fi

  # Its own session, so an interrupted make does not take it down.
  setsid "$server" "$dir/redis.conf" </dev/null >>"$dir/redis.log" 2>&1 &
  pid=$!
  record_started redis "$REDIS_PORT"
  wait_until "redis-server on $REDIS_PORT (log: $dir/redis.log)" "$pid" redis_answers
  say "redis: started on $REDIS_HOST:$REDIS_PORT (data: $dir)"
}

# --- PostgreSQL ----------------------------------------------------------

# pg_isready exits 0 when the server accepts connections and 1 while it starts.
postgres_listens() {
  local status=0

  pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 3 || status=$?
  (( status <= 1 ))
}

postgres_ready() { pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 3; }

# Create the URL's database unless it exists, as the URL's user, connected
# to the same server's `postgres` database.
ensure_database() {
  local output

  output=$(psql "$PG_ADMIN_URL" -X -q -v ON_ERROR_STOP=1 -v db="$PG_DB" 2>&1 <<'SQL'
SELECT format('CREATE DATABASE %I', :'db')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
SQL
  ) || die "could not create database $PG_DB on $PG_HOST:$PG_PORT as $PG_USER: $output"
}

ensure_postgres() {
  local where=$PG_HOST:$PG_PORT

  if ! find_program pg_isready >/dev/null || ! find_program psql >/dev/null; then
    install_packages postgresql-client
  fi

  if postgres_listens; then
    wait_until "PostgreSQL at $where" "" postgres_ready
    ensure_database
    say_using postgres "$PG_PORT" "$where, database $PG_DB"
    return 0
  fi
  is_local "$PG_HOST" ||
    die "nothing answers at DATABASE_URL ($where), and it is not this machine"

  find_program initdb >/dev/null || install_postgresql_server
  start_postgres
}

# The local cluster's owner: initdb and postgres refuse to run as root, so
# root hands them to Debian's `postgres` user, or to one made for certq.
postgres_owner() {
  if (( EUID != 0 )); then id -un; return 0; fi

  if ! id -u postgres >/dev/null 2>&1 && ! id -u certq-postgres >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin certq-postgres
  fi
  if id -u postgres >/dev/null 2>&1; then echo postgres; else echo certq-postgres; fi
}

# as_user USER COMMAND...: run from / (the caller's directory may be private).
as_user() {
  if [[ $1 == "$(id -un)" ]]; then
    (cd / && "${@:2}")
  else
    (cd / && runuser -u "$1" -- "${@:2}")
  fi
}

# postgres_data_dir OWNER: print the cluster's data directory,
# $RUN_DIR/postgres-PORT, unless OWNER cannot enter $RUN_DIR (root's checkout
# under a private /root): then the data lives in /var/lib/certq and
# $RUN_DIR/postgres-PORT is a link to it.
postgres_data_dir() {
  local link=$RUN_DIR/postgres-$PG_PORT dir=/var/lib/certq/postgres-$PG_PORT

  if [[ -L $link ]]; then readlink -f "$link"; return 0; fi
  if as_user "$1" test -x "$RUN_DIR"; then echo "$link"; return 0; fi

  mkdir -p "$dir"
  ln -s "$dir" "$link"
  echo "$dir"
}

start_postgres() {
  local owner bin dir output

  bin=$(find_program initdb) || die "initdb is missing"
  bin=$(dirname "$(readlink -f "$bin")")
  owner=$(postgres_owner)
  dir=$(postgres_data_dir "$owner")

  mkdir -p "$dir"
  chown "$owner": "$dir"
  chmod 700 "$dir"

  if [[ ! -f $dir/PG_VERSION ]]; then
    output=$(as_user "$owner" "$bin/initdb" -D "$dir" -U "$PG_USER" --auth=trust \
      --encoding=UTF8 --no-locale 2>&1) || die "initdb failed in $dir: $output"
    cat >>"$dir/postgresql.conf" <<EOF

# certq: a local development cluster, reached over TCP only
listen_addresses = '$PG_HOST'
port = $PG_PORT
unix_socket_directories = ''
EOF
  fi

  # A pid file left by a crash or a reboot would stop PostgreSQL from starting.
  if ! our_pid "$dir/postmaster.pid" "$dir" >/dev/null; then
    rm -f "$dir/postmaster.pid"
  fi
  record_started postgres "$PG_PORT"
  output=$(as_user "$owner" "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w \
    -t "$TIMEOUT_SECONDS" start 2>&1) ||
    die "PostgreSQL did not start on $PG_PORT (log: $dir/server.log): $output"
  wait_until "PostgreSQL on $PG_PORT (log: $dir/server.log)" "" postgres_ready
  ensure_database
  say "postgres: started on $PG_HOST:$PG_PORT (data: $dir), database $PG_DB"
}

# --- commands ------------------------------------------------------------

stop_started() {
  local service port dir

  if [[ ! -s $STARTED_FILE ]]; then
    say "nothing to stop: this script started no server under $RUN_DIR"
    return 0
  fi

  while read -r service port; do
    dir=$(realpath -m "$RUN_DIR/$service-$port")
    case $service in
      redis) stop_pid "redis on port $port" "$dir/redis.pid" "$dir" TERM ;;
      postgres) stop_pid "postgres on port $port" "$dir/postmaster.pid" "$dir" INT ;;
      *) die "unknown service '$service' in $STARTED_FILE" ;;
    esac
  done <"$STARTED_FILE"
  rm -f "$STARTED_FILE"
}

main() {
  case ${1:-} in
    ensure)
      parse_urls
      mkdir -p "$RUN_DIR"
      ensure_redis
      ensure_postgres
      ;;
    stop) stop_started ;;
    *) echo "usage: $0 ensure|stop" >&2; exit 2 ;;
  esac
}

main "$@"
