#!/usr/bin/env bash
# run-local.sh — run Sightline from source on this machine, without Docker (`make run`).
#
#   scripts/run-local.sh           start PostgreSQL (unless DATABASE_URL is set) and the demo
#                                  Dovecot, build, migrate and start visibility and mailbox, seed
#                                  the demo company; print ports, tokens and grpcurl commands; run
#                                  until Ctrl-C (or SIGTERM), then stop all it started
#   scripts/run-local.sh --check   the same, then verify (health, tokens, /metrics, the demo) and
#                                  stop: exit 0 only if everything came up (CI runs this to keep
#                                  `make run` true)
#   scripts/run-local.sh --exec CMD [ARGS...]
#                                  the same start, then run CMD with VIS_ADDR, MAILBOX_ADDR and
#                                  AUTH_KEYS set, stop everything and exit with CMD's status
#                                  (`make bench` runs the load command this way, `make walkthrough`
#                                  scripts/walkthrough.sh)
#
# State lives in .local/ of the repository (gitignored):
#   .local/pg, .local/pg-run   PostgreSQL data directory (created once, reused) and its unix socket
#                              directory; it listens on no TCP port, so it never clashes with a
#                              PostgreSQL server already on this machine. As root the cluster belongs to
#                              the `postgres` user; when that user cannot reach .local/ (a repository
#                              under /root, say), the cluster goes to /tmp/sightline-<uid>-<hash>/
#                              instead (one per checkout), and so does its log.
#   .local/dovecot/            the demo Dovecot (config, passwd-file, mail, log): made afresh on every
#                              start and filled by the seeder; /tmp/sightline-<uid>-<hash>/dovecot when,
#                              as root, the mail user `nobody` cannot reach .local/
#   .local/auth-keys           the development token key (dev=hs256:..., generated once, mode 600)
#   .local/secret-keys         the development key sealing mail secrets (mailbox SECRET_KEYS, mode 600)
#   .local/bin/                the binaries
#   .local/*.log               service and PostgreSQL logs
#   .local/demo-commands.txt   the demo's tokens and grpcurl commands, printed at start
#
# Environment:
#   DATABASE_URL     use this database instead of starting one (it is never stopped by this script)
#   VIS_ADDR, MAILBOX_ADDR                  gRPC addresses (127.0.0.1:50051, 127.0.0.1:50052)
#   VIS_METRICS_ADDR, MAILBOX_METRICS_ADDR  /metrics addresses (127.0.0.1:9091, 127.0.0.1:9092)
#   RUN_LOCAL_SERVICES                      which services to run ("visibility mailbox")
#   SMTP_ADDR                               mailbox's Smart Bcc SMTP listener (127.0.0.1:2525)
#   DEMO                                    1 (default): the demo Dovecot and seed; 0: neither
#   DEMO_IMAP_ADDR                          the demo Dovecot's IMAP listener (127.0.0.1:10143)
#   LOG_LEVEL and other service flags as environment variables (see `.local/bin/visibility serve -h`)
#
# Demo: an ephemeral Dovecot on loopback (Debian's dovecot-imapd, installed with apt-get when it
# is missing and this runs as root; without it the demo goes on without mail sync, saying so)
# holds the demo user's mailbox. Once the services are healthy, scripts/seed-demo.sh (when it
# exists and is executable) seeds the demo company through the gRPC APIs, with VIS_ADDR,
# MAILBOX_ADDR, AUTH_KEYS_FILE, BIN_DIR, DEMO_COMMANDS_FILE and, when Dovecot runs,
# DEMO_IMAP_ADDR set.
#
# Needs: bash, Go (go.mod's version), coreutils, util-linux (flock, setsid; runuser as root) and the
# PostgreSQL server binaries (initdb, pg_ctl; as root with apt-get, `postgresql` is installed if absent).
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

check=0
exec_cmd=()
while (($#)); do
	case $1 in
	--check) check=1 ;;
	--exec)
		shift
		(($#)) || { echo "run-local: --exec needs a command" >&2; exit 2; }
		exec_cmd=("$@")
		check=1 # one-shot: no Ctrl-C prompt
		break
		;;
	-h | --help) usage; exit 0 ;;
	*) echo "run-local: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
	esac
	shift
done

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
state=$root/.local
bin=$state/bin

read -r -a services <<<"${RUN_LOCAL_SERVICES:-visibility mailbox}"
declare -A grpc_addr=([visibility]=${VIS_ADDR:-127.0.0.1:50051} [mailbox]=${MAILBOX_ADDR:-127.0.0.1:50052})
declare -A metrics_addr=([visibility]=${VIS_METRICS_ADDR:-127.0.0.1:9091} [mailbox]=${MAILBOX_METRICS_ADDR:-127.0.0.1:9092})
for svc in "${services[@]}"; do
	[[ -n ${grpc_addr[$svc]:-} ]] || { echo "run-local: RUN_LOCAL_SERVICES: unknown service '$svc'" >&2; exit 2; }
done
[[ ${#services[@]} -gt 0 ]] || { echo "run-local: RUN_LOCAL_SERVICES is empty" >&2; exit 2; }
tokbin=${services[0]} # any of the binaries mints tokens

# The demo (Dovecot and seed) needs both services.
demo=${DEMO:-1}
[[ " ${services[*]} " == *" visibility "* && " ${services[*]} " == *" mailbox "* ]] || demo=0
demo_imap_addr=${DEMO_IMAP_ADDR:-127.0.0.1:10143}
demo_imap_user=ada demo_imap_pass=demo-password # the seeder's defaults too

log() { printf 'run-local: %s\n' "$*"; }
warn() { printf 'run-local: warning: %s\n' "$*" >&2; }
die() { printf 'run-local: error: %s\n' "$*" >&2; exit 1; }
has() { [[ " ${services[*]} " == *" $1 "* ]]; }
rel() { printf '%s' "${1#"$root"/}"; }

uid=$(id -u)
is_root() { [[ $uid -eq 0 ]]; }

mkdir -p "$state" "$bin"
# One run at a time per checkout. Children do not inherit the lock (9>&-), so a
# process left over by a killed run does not keep it.
exec 9>"$state/run.lock"
flock -n 9 || die "another scripts/run-local.sh is running for $root (lock: $state/run.lock)"

########################################################################### cleanup
declare -A svc_pid=()
pg_started=0
pgbin='' pgdata='' pgrun='' pglog=''
dovecot_pid='' dovecot_dir=''

# alive PID: the process runs (an exited child that is not yet reaped is a zombie: not alive).
alive() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[[ ${stat%% *} != Z ]]
}
any_alive() {
	local pid
	for pid; do alive "$pid" && return 0; done
	return 1
}

# Runs a PostgreSQL tool as the cluster's owner: `postgres` when we are root (the
# server refuses to run as root), else ourselves. From / so that the tool never
# trips over an unreadable working directory.
as_pg() {
	if ! is_root; then
		"$@"
	elif command -v runuser >/dev/null; then
		(cd / && runuser -u postgres -- "$@")
	else
		(cd / && su postgres -s /bin/sh -c "$(printf '%q ' "$@")")
	fi
}

stop_services() {
	local pids=() svc pid i
	for svc in "${!svc_pid[@]}"; do
		pids+=("${svc_pid[$svc]}")
		kill -TERM "${svc_pid[$svc]}" 2>/dev/null
	done
	if [[ ${#pids[@]} -gt 0 ]]; then
		log "stopping ${!svc_pid[*]} (pids ${pids[*]})"
		# They drain for up to drain-delay + shutdown-grace (17s by default).
		for ((i = 0; i < 100; i++)); do
			any_alive "${pids[@]}" || break
			sleep 0.25
		done
		for pid in "${pids[@]}"; do
			alive "$pid" && { warn "pid $pid did not stop in 25s: killing it"; kill -KILL "$pid"; }
		done
		wait "${pids[@]}" 2>/dev/null
	fi
	for svc in "${!svc_pid[@]}"; do rm -f "$state/$svc.pid"; done
	svc_pid=()
}

stop_postgres() {
	[[ $pg_started -eq 1 ]] || return 0
	log "stopping PostgreSQL ($pgdata)"
	if ! as_pg "$pgbin/pg_ctl" stop -D "$pgdata" -m fast -w -t 60 >/dev/null 2>&1 &&
		as_pg "$pgbin/pg_ctl" status -D "$pgdata" >/dev/null 2>&1; then
		warn "PostgreSQL in $pgdata did not stop"
	fi
	pg_started=0
}

stop_dovecot() {
	[[ -n $dovecot_pid ]] || return 0
	log "stopping the demo Dovecot (pid $dovecot_pid)"
	kill -TERM "$dovecot_pid" 2>/dev/null
	local i
	for ((i = 0; i < 40; i++)); do
		alive "$dovecot_pid" || break
		sleep 0.25
	done
	alive "$dovecot_pid" && { warn "Dovecot (pid $dovecot_pid) did not stop in 10s: killing it"; kill -KILL "$dovecot_pid"; }
	wait "$dovecot_pid" 2>/dev/null
	rm -f "$state/dovecot.pid"
	dovecot_pid=''
}

signalled=''
running=0
cleanup() {
	local rc=$?
	set +e
	trap '' INT TERM
	trap - EXIT
	stop_services
	stop_dovecot
	stop_postgres
	if [[ -n $signalled ]]; then
		log "stopped (SIG$signalled)"
		# A requested stop of the running system is success; an interrupted start or check is not.
		if [[ $running -eq 1 ]]; then rc=0; else rc=$((128 + $(kill -l "$signalled"))); fi
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'signalled=INT; exit 130' INT
trap 'signalled=TERM; exit 143' TERM

# Stops a service left running by an earlier run that was killed outright.
stop_leftover() {
	local svc=$1 pidfile=$state/$1.pid pid
	[[ -s $pidfile ]] || return 0
	pid=$(<"$pidfile")
	if [[ $pid =~ ^[0-9]+$ ]] && [[ $(readlink "/proc/$pid/exe" 2>/dev/null) == "$bin/$svc"* ]]; then
		log "stopping $svc left running by an earlier run (pid $pid)"
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$pidfile"
}

for svc in visibility mailbox; do stop_leftover "$svc"; done

# The same for the demo Dovecot (its master process; it stops its children).
if [[ -s $state/dovecot.pid ]]; then
	pid=$(<"$state/dovecot.pid")
	if [[ $pid =~ ^[0-9]+$ ]] && [[ $(readlink "/proc/$pid/exe" 2>/dev/null) == */dovecot ]]; then
		log "stopping the demo Dovecot left running by an earlier run (pid $pid)"
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$state/dovecot.pid"
fi

# Refuses to start when something else already listens on addr.
port_free() {
	local addr=$1 host port
	host=${addr%:*} port=${addr##*:}
	[[ $host == 0.0.0.0 || -z $host ]] && host=127.0.0.1
	[[ $host == *:* || $host == \[* ]] && return 0 # IPv6: let the service report it
	! (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null
}

for svc in "${services[@]}"; do
	for a in "${grpc_addr[$svc]}" "${metrics_addr[$svc]}"; do
		port_free "$a" || die "$a is already in use (by another program): free it, or set VIS_ADDR / MAILBOX_ADDR / *_METRICS_ADDR"
	done
done

########################################################################### PostgreSQL
pg_major() { "$1/pg_ctl" --version | sed -E 's/^[^0-9]*([0-9]+).*/\1/'; }

# Candidate bin directories: pg_ctl on PATH first, then /usr/lib/postgresql/*/bin, newest first.
pg_candidates() {
	local p
	if p=$(command -v pg_ctl) && command -v initdb >/dev/null; then
		dirname "$(readlink -f "$p")"
	fi
	for p in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V -r); do
		[[ -x $p/pg_ctl && -x $p/initdb && -x $p/postgres ]] && echo "$p"
	done
	return 0
}

# Sets pgbin to the PostgreSQL binaries to use: the version of an existing cluster when present.
find_pg() {
	local want='' c
	[[ -s $pgdata/PG_VERSION ]] && want=$(<"$pgdata/PG_VERSION")
	for c in $(pg_candidates); do
		[[ -x $c/pg_ctl && -x $c/initdb ]] || continue
		if [[ -z $want || $(pg_major "$c") == "$want" ]]; then
			pgbin=$c
			return 0
		fi
	done
	return 1
}

install_pg() {
	if is_root && command -v apt-get >/dev/null; then
		log "no PostgreSQL server binaries found: installing the Debian package postgresql"
		log "(this may also start the system's own cluster on port 5432, which this script does not use)"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -q </dev/null
		apt-get install -y -q --no-install-recommends postgresql </dev/null
	else
		die "no PostgreSQL server binaries (initdb, pg_ctl) on PATH or in /usr/lib/postgresql/*/bin.
  Install them (Debian/Ubuntu: sudo apt-get install postgresql), or point DATABASE_URL at a database."
	fi
}

# Picks where the cluster lives: .local/ normally; /tmp/sightline-<uid>-<hash>/ when, as
# root, the postgres user cannot get to .local/ or the socket path would be too long.
choose_pg_dirs() {
	local base=$state tmp_base
	tmp_base=/tmp/sightline-$uid-$(printf '%s' "$root" | sha256sum | cut -c1-8) # one per checkout
	if is_root; then
		id postgres >/dev/null 2>&1 || die "running as root, but there is no 'postgres' user to own the cluster
  (install the postgresql package, run as a normal user, or set DATABASE_URL)"
		chmod o+x "$state"
		if ! as_pg test -x "$state"; then
			base=$tmp_base
			log "the postgres user cannot reach $state (a parent directory is not traversable);"
			log "the PostgreSQL cluster goes to $base instead"
		fi
	fi
	# A unix socket path (here: <base>/pg-run/.s.PGSQL.5432) has at most 107 bytes.
	if [[ $base == "$state" ]] && ((${#base} + 22 > 107)); then
		base=$tmp_base
		log "the socket path under $state would be too long; the PostgreSQL cluster goes to $base instead"
	fi
	if [[ $base != "$state" ]]; then
		mkdir -p "$base"
		[[ -O $base ]] || die "$base exists but does not belong to $(id -un)"
		chmod 0711 "$base"
	fi
	[[ $base != *"'"* ]] || die "the path $base contains a single quote; set DATABASE_URL instead"
	pgdata=$base/pg
	pgrun=$base/pg-run
	pglog=$base/postgres.log
}

# Percent-encodes a path for a URL query value.
urlencode() {
	local s=$1 out='' c i
	for ((i = 0; i < ${#s}; i++)); do
		c=${s:i:1}
		case $c in
		[A-Za-z0-9/._~-]) out+=$c ;;
		*) out+=$(printf '%%%02X' "'$c") ;;
		esac
	done
	printf '%s' "$out"
}

start_postgres() {
	choose_pg_dirs
	find_pg || { install_pg; find_pg; } ||
		die "no PostgreSQL binaries match the cluster in $pgdata (version $(cat "$pgdata/PG_VERSION" 2>/dev/null)).
  Delete it (rm -rf '$pgdata') to start afresh, or set DATABASE_URL."
	log "PostgreSQL $(pg_major "$pgbin") from $pgbin, data in $pgdata, socket in $pgrun (no TCP)"

	mkdir -p "$pgdata" "$pgrun"
	touch "$pglog"
	if is_root; then chown postgres: "$pgdata" "$pgrun" "$pglog"; fi
	chmod 0700 "$pgdata" "$pgrun"

	if [[ ! -s $pgdata/PG_VERSION ]]; then
		log "creating the cluster (once)"
		as_pg "$pgbin/initdb" -D "$pgdata" -U postgres -A trust -E UTF8 --no-locale >"$pglog" 2>&1 ||
			{ tail -n 20 "$pglog" >&2; die "initdb failed (log: $pglog)"; }
	fi

	if as_pg "$pgbin/pg_ctl" status -D "$pgdata" >/dev/null 2>&1; then
		log "reusing the PostgreSQL left running in $pgdata by an earlier run"
		pg_started=1
	else
		pg_started=1 # from here on, stop it on exit whatever happens
		as_pg "$pgbin/pg_ctl" start -D "$pgdata" -l "$pglog" -w -t 60 \
			-o "-c listen_addresses='' -c unix_socket_directories='$pgrun' -c unix_socket_permissions=0700 -c port=5432" \
			>/dev/null 9>&- </dev/null ||
			{ tail -n 20 "$pglog" >&2; die "PostgreSQL did not start (log: $pglog)"; }
	fi

	local psql=$pgbin/psql
	[[ -x $psql ]] || psql=psql
	local sql=("$psql" -X -q -v ON_ERROR_STOP=1 -h "$pgrun" -p 5432 -U postgres -d postgres -tA)
	if [[ -z $("${sql[@]}" -c "SELECT 1 FROM pg_database WHERE datname = 'sightline'" </dev/null) ]]; then
		log "creating database sightline"
		"${sql[@]}" -c "CREATE DATABASE sightline" </dev/null
	fi
	DATABASE_URL="postgres://postgres@/sightline?host=$(urlencode "$pgrun")&port=5432&sslmode=disable"
}

if [[ -n ${DATABASE_URL:-} ]]; then
	log "using DATABASE_URL from the environment (not started or stopped here)"
else
	start_postgres
fi
export DATABASE_URL

########################################################################### demo Dovecot
dovecot_binary() {
	local p
	for p in "$(command -v dovecot 2>/dev/null)" /usr/sbin/dovecot; do
		[[ -n $p && -x $p ]] && { echo "$p"; return 0; }
	done
	return 1
}

# Whether the user `nobody` (Dovecot's mail user when we are root) can reach dir.
nobody_reaches() {
	if command -v runuser >/dev/null; then
		(cd / && runuser -u nobody -- test -x "$1") 2>/dev/null
	else
		(cd / && su nobody -s /bin/sh -c "test -x $(printf '%q' "$1")") 2>/dev/null
	fi
}

# Starts an ephemeral Dovecot on demo_imap_addr holding the demo user's (empty) mailbox; the
# seeder fills it. Sets dovecot_pid, or warns and returns when it cannot (the demo goes on
# without mail sync). Self-contained: its config is passed with -c, /etc/dovecot is never read.
start_dovecot() {
	local dbin base tmp_base port mail_uid mail_gid extra='' i line
	dbin=$(dovecot_binary) || dbin=''
	if [[ -z $dbin ]] && is_root && command -v apt-get >/dev/null; then
		log "no Dovecot found: installing the Debian package dovecot-imapd (the demo mail server)"
		if (export DEBIAN_FRONTEND=noninteractive && apt-get update -q && apt-get install -y -q --no-install-recommends dovecot-imapd) \
			</dev/null >"$state/apt-dovecot.log" 2>&1 9>&-; then
			dbin=$(dovecot_binary) || dbin=''
		else
			warn "installing dovecot-imapd failed (log: $state/apt-dovecot.log)"
		fi
	fi
	if [[ -z $dbin ]]; then
		warn "no Dovecot (Debian: apt-get install dovecot-imapd): the demo runs WITHOUT mail sync;"
		warn "the demo mail is ingested directly and the demo user's mail account is not connected"
		return 0
	fi
	port=${demo_imap_addr##*:}
	if [[ ${demo_imap_addr%:*} != 127.0.0.1 || ! $port =~ ^[0-9]+$ ]]; then
		warn "DEMO_IMAP_ADDR=$demo_imap_addr is not 127.0.0.1:PORT: no demo Dovecot (the demo mail is ingested directly)"
		return 0
	fi
	if ! port_free "$demo_imap_addr"; then
		warn "$demo_imap_addr is in use: no demo Dovecot (set DEMO_IMAP_ADDR to a free port); the demo mail is ingested directly"
		return 0
	fi

	base=$state/dovecot
	tmp_base=/tmp/sightline-$uid-$(printf '%s' "$root" | sha256sum | cut -c1-8)
	if is_root; then
		chmod o+x "$state"
		nobody_reaches "$state" || base=$tmp_base/dovecot
	fi
	# Dovecot's sockets live under base/run; a unix socket path has at most 107 bytes.
	((${#base} + 50 <= 107)) || base=$tmp_base/dovecot
	if [[ $base != "$state/dovecot" ]]; then
		mkdir -p "$tmp_base"
		chmod 0711 "$tmp_base"
		log "the demo Dovecot goes to $base (nobody cannot reach $state, or the path is too long)"
	fi
	rm -rf "$base"
	mkdir -p "$base/run" "$base/state" "$base/mail"
	if is_root; then
		# Dovecot refuses to access mail as root: the mail belongs to nobody.
		mail_uid=$(id -u nobody) mail_gid=$(id -g nobody)
		chmod 0755 "$base"
		chown "$mail_uid:$mail_gid" "$base/mail"
	else
		# Rootless: every Dovecot service runs as the invoking user, without chroots.
		mail_uid=$uid mail_gid=$(id -g)
		extra="default_internal_user = $(id -un)
default_login_user = $(id -un)
default_internal_group = $(id -gn)
service imap-login {
  chroot =
}
service anvil {
  chroot =
}
service auth-worker {
  user = $(id -un)
}"
	fi
	# passwd-file, used as passdb and userdb: user:{PLAIN}pass:uid:gid:gecos:home:shell
	printf '%s:{PLAIN}%s:%s:%s::%s/mail/%s::\n' "$demo_imap_user" "$demo_imap_pass" "$mail_uid" "$mail_gid" "$base" "$demo_imap_user" >"$base/users"
	chmod 0644 "$base/users"
	cat >"$base/dovecot.conf" <<-CONF
		# written by scripts/run-local.sh: the demo mail server of make run (self-contained; loopback, no TLS)
		base_dir = $base/run
		state_dir = $base/state
		instance_name = sightline-demo-$port
		log_path = $base/dovecot.log
		protocols = imap
		listen = 127.0.0.1
		ssl = no
		disable_plaintext_auth = no
		auth_mechanisms = plain login
		first_valid_uid = 1
		first_valid_gid = 1
		mail_location = mdbox:~/mdbox
		mail_fsync = never
		passdb {
		  driver = passwd-file
		  args = scheme=PLAIN username_format=%u $base/users
		}
		userdb {
		  driver = passwd-file
		  args = username_format=%u $base/users
		}
		namespace inbox {
		  inbox = yes
		  separator = /
		  mailbox Sent {
		    special_use = \\Sent
		    auto = create
		  }
		  mailbox Trash {
		    special_use = \\Trash
		    auto = create
		  }
		  mailbox Archive {
		    special_use = \\Archive
		    auto = create
		  }
		}
		service imap-login {
		  inet_listener imap {
		    address = 127.0.0.1
		    port = $port
		  }
		  inet_listener imaps {
		    port = 0
		  }
		}
		$extra
	CONF
	setsid "$dbin" -F -c "$base/dovecot.conf" </dev/null >"$base/stdout.log" 2>&1 9>&- &
	dovecot_pid=$!
	echo "$dovecot_pid" >"$state/dovecot.pid"
	for ((i = 0; i < 100; i++)); do
		alive "$dovecot_pid" || break
		if { exec 8<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null; then
			line=''
			read -r -t 2 line <&8 || true
			exec 8<&-
			if [[ $line == "* OK"* ]]; then
				dovecot_dir=$base
				log "demo Dovecot (pid $dovecot_pid) on $demo_imap_addr, user $demo_imap_user, files in $base"
				return 0
			fi
		fi
		sleep 0.1
	done
	tail -n 20 "$base/stdout.log" "$base/dovecot.log" >&2 2>/dev/null || true
	warn "the demo Dovecot did not answer on $demo_imap_addr: the demo goes on without mail sync"
	stop_dovecot
}

if [[ $demo != 0 ]]; then
	start_dovecot
fi

########################################################################### key, build, migrate
keys_file=$state/auth-keys
if [[ ! -s $keys_file ]]; then
	log "generating the development token key $keys_file"
	(umask 077 && printf 'dev=hs256:%s\n' "$(head -c 32 /dev/urandom | base64 -w0)" >"$keys_file")
fi
chmod 600 "$keys_file"
auth_keys=$(<"$keys_file")
# The key that seals mail provider secrets at rest (mailbox's SECRET_KEYS).
secret_keys_file=$state/secret-keys
if [[ ! -s $secret_keys_file ]]; then
	log "generating the development secret-sealing key $secret_keys_file"
	(umask 077 && printf 'dev=%s\n' "$(head -c 32 /dev/urandom | base64 -w0)" >"$secret_keys_file")
fi
chmod 600 "$secret_keys_file"
secret_keys=$(<"$secret_keys_file")

command -v go >/dev/null || die "go is not on PATH: install Go $(sed -n 's/^go //p' go.mod) (https://go.dev/doc/install)"
pkgs=()
for svc in "${services[@]}"; do pkgs+=("./services/$svc/cmd/$svc"); done
log "building ${services[*]} into $bin/"
go build -o "$bin/" "${pkgs[@]}" </dev/null 9>&-

for svc in "${services[@]}"; do
	"$bin/$svc" migrate --database-url "$DATABASE_URL" </dev/null 9>&- | sed 's/^/run-local: /'
done

########################################################################### services
for svc in "${services[@]}"; do
	# setsid: a Ctrl-C reaches this script only, which then stops the services
	# before PostgreSQL. Keys go by environment so that ps does not show them;
	# mailbox reads SECRET_KEYS and VISIBILITY_ADDR, visibility ignores them.
	# GOGC as in docker-compose.yml and deploy/k8s (mailbox: 200, see there).
	gogc=${GOGC:-100}
	[[ $svc == mailbox ]] && gogc=${GOGC:-200}
	AUTH_KEYS=$auth_keys SECRET_KEYS=$secret_keys VISIBILITY_ADDR=${grpc_addr[visibility]} SMTP_ADDR=${SMTP_ADDR:-127.0.0.1:2525} \
		GOGC=$gogc setsid "$bin/$svc" serve \
		--grpc-addr "${grpc_addr[$svc]}" --metrics-addr "${metrics_addr[$svc]}" \
		--database-url "$DATABASE_URL" --log-format console \
		</dev/null >"$state/$svc.log" 2>&1 9>&- &
	svc_pid[$svc]=$!
	echo "${svc_pid[$svc]}" >"$state/$svc.pid"
	log "started $svc (pid ${svc_pid[$svc]}), log $state/$svc.log"
done

healthy() { # svc
	"$bin/$1" healthcheck --grpc-addr "${grpc_addr[$1]}" --timeout 2s </dev/null 9>&-
}

show_log() { # svc
	echo "---- last lines of $state/$1.log" >&2
	tail -n 25 "$state/$1.log" >&2 || true
	echo "----" >&2
}

wait_healthy() {
	local deadline=$((SECONDS + 30)) svc pending
	while :; do
		pending=()
		for svc in "${services[@]}"; do
			if ! alive "${svc_pid[$svc]}"; then
				show_log "$svc"
				die "$svc exited during start-up"
			fi
			healthy "$svc" >/dev/null 2>&1 || pending+=("$svc")
		done
		[[ ${#pending[@]} -eq 0 ]] && return 0
		if ((SECONDS >= deadline)); then
			for svc in "${pending[@]}"; do show_log "$svc"; done
			die "not healthy after 30s: ${pending[*]}"
		fi
		sleep 0.5
	done
}

log "waiting for grpc.health.v1 SERVING (at most 30s)"
wait_healthy
log "healthy: ${services[*]}"

# The token command takes its key from AUTH_KEYS.
mint() {
	AUTH_KEYS="$auth_keys" "$bin/$tokbin" token "$@" </dev/null 9>&-
}
user_token=$(mint --company 1 --user 1)
svc_token=$(mint --company 1 --service crm)

demo_commands=$state/demo-commands.txt
rm -f "$demo_commands"
if [[ $demo != 0 && -x $root/scripts/seed-demo.sh ]]; then
	# Mail sync is the mailbox's own job (its --sync-* flags) in builds that have it.
	help=$("$bin/mailbox" serve -h 2>&1 </dev/null 9>&-) || true
	if [[ $help == *-sync-* ]]; then
		log "this mailbox syncs connected IMAP accounts: the demo user's account syncs from the demo Dovecot"
	else
		log "this mailbox build does not sync IMAP yet: the seeder ingests the demo mail directly (IngestMessage)"
	fi
	log "running scripts/seed-demo.sh"
	seed_env=(VIS_ADDR="${grpc_addr[visibility]}" MAILBOX_ADDR="${grpc_addr[mailbox]}" AUTH_KEYS_FILE="$keys_file" BIN_DIR="$bin"
		DEMO_COMMANDS_FILE="$demo_commands")
	if [[ -n $dovecot_pid ]]; then
		seed_env+=(DEMO_IMAP_ADDR="$demo_imap_addr" DEMO_IMAP_USER="$demo_imap_user" DEMO_IMAP_PASSWORD="$demo_imap_pass")
	fi
	env "${seed_env[@]}" "$root/scripts/seed-demo.sh" </dev/null 9>&- 2>&1 | sed 's/^/run-local: /' ||
		die "seeding the demo failed (scripts/seed-demo.sh; service logs: $(rel "$state")/*.log)"
fi

########################################################################### summary
log "ready in ${SECONDS}s"
{
	echo
	echo "Sightline is running$([[ $check -eq 1 ]] || echo '; Ctrl-C stops everything this script started'):"
	for svc in "${services[@]}"; do
		printf '  %-11s gRPC %-17s metrics http://%s/metrics  log %s\n' \
			"$svc" "${grpc_addr[$svc]}" "${metrics_addr[$svc]}" "$(rel "$state/$svc.log")"
	done
	if [[ $pg_started -eq 1 ]]; then
		printf '  %-11s %s  log %s\n' PostgreSQL "$DATABASE_URL" "$(rel "$pglog")"
		printf '  %-11s psql -h %s -U postgres sightline\n' '' "$pgrun"
	else
		printf '  %-11s DATABASE_URL from the environment\n' PostgreSQL
	fi
	if [[ -n $dovecot_pid ]]; then
		printf '  %-11s IMAP %s (user %s, password %s, no TLS)  log %s\n' Dovecot "$demo_imap_addr" "$demo_imap_user" "$demo_imap_pass" "$(rel "$dovecot_dir/dovecot.log")"
	elif [[ $demo != 0 ]]; then
		printf '  %-11s not running: the demo has no mail sync (see the warnings above)\n' Dovecot
	fi
	echo
	echo "grpcurl: $(command -v grpcurl || { [[ -x $bin/grpcurl ]] && rel "$bin/grpcurl"; } ||
		echo "not installed (GOBIN=$(rel "$bin") go install github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.4, or make walkthrough)")"
	echo
	if [[ -s $demo_commands ]]; then
		cat "$demo_commands"
		echo
	else
		echo "Tokens for company 1 (valid 12h; the key is $(rel "$keys_file")):"
		echo "  export TOKEN=$user_token"
		echo "  export SVC_TOKEN=$svc_token"
		echo
	fi
	echo "More tokens:  AUTH_KEYS=\$(cat $(rel "$keys_file")) $(rel "$bin/$tokbin") token --company 1 --user 2   (or --service NAME)"
	echo "Try it:"
	for svc in "${services[@]}"; do
		echo "  grpcurl -plaintext ${grpc_addr[$svc]} list"
	done
	echo "  grpcurl -plaintext ${grpc_addr[$tokbin]} grpc.health.v1.Health/Check"
	if [[ -s $demo_commands ]]; then
		echo "The walkthrough in README.md tells each story step by step; scripts/walkthrough.sh runs it against this stack."
	fi
	echo
}

########################################################################### --check
http_status() { # host:port path -> first line of the HTTP answer
	local host=${1%:*} port=${1##*:} line
	exec 3<>"/dev/tcp/$host/$port" || return 1
	printf 'GET %s HTTP/1.0\r\nHost: %s\r\n\r\n' "$2" "$1" >&3
	IFS= read -r -t 5 line <&3 || true
	exec 3<&-
	printf '%s' "${line%$'\r'}"
}

if ((${#exec_cmd[@]})); then
	log "running: ${exec_cmd[*]}"
	st=0
	VIS_ADDR=${grpc_addr[visibility]:-} MAILBOX_ADDR=${grpc_addr[mailbox]:-} AUTH_KEYS=$auth_keys \
		"${exec_cmd[@]}" </dev/null 9>&- || st=$?
	log "command exited with status $st; stopping"
	exit "$st"
fi

if [[ $check -eq 1 ]]; then
	log "check: health"
	for svc in "${services[@]}"; do healthy "$svc" | sed 's/^/run-local:   /'; done
	log "check: tokens"
	for t in "$user_token" "$svc_token"; do
		[[ $t =~ ^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$ ]] || die "minted token looks wrong: '$t'"
	done
	log "  user and service tokens minted"
	if [[ $demo != 0 && -x $root/scripts/seed-demo.sh ]]; then
		log "check: demo"
		[[ -s $demo_commands ]] || die "the demo seeder wrote no commands ($demo_commands)"
		log "  demo company seeded; commands in $(rel "$demo_commands")"
		if [[ -n $dovecot_pid ]]; then
			alive "$dovecot_pid" || die "the demo Dovecot (pid $dovecot_pid) has exited"
			log "  demo Dovecot answers on $demo_imap_addr"
		fi
	fi
	log "check: /metrics"
	for svc in "${services[@]}"; do
		st=$(http_status "${metrics_addr[$svc]}" /metrics) || st=''
		[[ $st == HTTP/*" 200"* ]] || die "$svc: GET http://${metrics_addr[$svc]}/metrics answered '${st:-nothing}'"
		log "  $svc: $st"
	done
	if command -v grpcurl >/dev/null; then
		log "check: grpcurl"
		for svc in "${services[@]}"; do
			grpcurl -plaintext "${grpc_addr[$svc]}" list </dev/null | sed 's/^/run-local:   /'
			grpcurl -plaintext "${grpc_addr[$svc]}" grpc.health.v1.Health/Check </dev/null | tr -d '\n ' | sed 's/^/run-local:   /; s/$/\n/'
		done
	fi
	log "check passed; stopping"
	exit 0
fi

running=1
log "running; logs: $(rel "$state")/{$(IFS=,; echo "${services[*]}")}.log"
while :; do
	# Returns when a service exits; Ctrl-C / SIGTERM interrupt it and run cleanup.
	st=0
	wait -n "${svc_pid[@]}" || st=$?
	for svc in "${services[@]}"; do
		if ! alive "${svc_pid[$svc]}"; then
			unset "svc_pid[$svc]"
			show_log "$svc"
			die "$svc exited (status $st); stopping the rest"
		fi
	done
done
