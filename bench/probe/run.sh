#!/usr/bin/env bash
# Measures greenlight's probe engine against Prometheus blackbox_exporter and wrk, all aimed at
# one target server on loopback in the same run, and prints one table of the figures.
#
#   bench/probe/run.sh [--json] [--keep] [-- PROBEBENCH FLAGS...]
#
# See bench/probe/README.md.
set -euo pipefail

usage() {
	cat <<EOF
usage: $0 [--json] [--keep] [-- PROBEBENCH FLAGS...]

  --json   print the figures as JSON (no table, no profile summary)
  --keep   keep the scratch directory (binaries, CPU profile, server log)

Flags after -- go to probebench (go run ./bench/probe/cmd/probebench -h lists them).
EOF
}

json=0
keep=0
while [ $# -gt 0 ]; do
	case $1 in
	--json) json=1; shift ;;
	--keep) keep=1; shift ;;
	--) shift; break ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/greenlight-probebench.XXXXXX")
started=$SECONDS

server_pid=
cleanup() {
	if [ -n "$server_pid" ]; then
		kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	if [ "$keep" = 1 ]; then echo "scratch kept in $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# --- tools -------------------------------------------------------------------
command -v go >/dev/null || die "go is required"
missing=()
command -v prometheus-blackbox-exporter >/dev/null || missing+=(prometheus-blackbox-exporter)
command -v wrk >/dev/null || command -v hey >/dev/null || missing+=(wrk)
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
		die "missing ${missing[*]}: install them (Debian: apt-get install ${missing[*]})"
	fi
	say "installing ${missing[*]} (apt-get)"
	apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
raw=wrk
command -v wrk >/dev/null || raw=hey

# --- build and start the target ----------------------------------------------
say "building probebench and probeserver"
(cd "$root" && GOWORK=off go build -o "$work/" ./bench/probe/cmd/probebench ./bench/probe/cmd/probeserver)

"$work/probeserver" >"$work/urls" 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 100); do
	[ "$(wc -l <"$work/urls")" -ge 2 ] && break
	kill -0 "$server_pid" 2>/dev/null || die "probeserver exited: $(cat "$work/server.log")"
	sleep 0.1
done
[ "$(wc -l <"$work/urls")" -ge 2 ] || die "probeserver did not start within 10s"
targets=$(paste -sd, "$work/urls")
say "target: $targets (pid $server_pid)"

# --- measure -----------------------------------------------------------------
args=(-targets "$targets" -raw "$raw" -cpuprofile "$work/cpu.pprof")
[ "$json" = 1 ] && args+=(-json)
timeout -k 5 240 "$work/probebench" "${args[@]}" "$@"

if [ "$json" = 0 ] && [ -s "$work/cpu.pprof" ]; then
	echo
	echo "CPU profile of the engine at its saturating load (go tool pprof -top), hottest first:"
	(cd "$root" && go tool pprof -top -nodecount=20 "$work/probebench" "$work/cpu.pprof" 2>/dev/null | sed -n '/flat%/,$p')
	echo
	echo "the same by cumulative time (what the hot spots are called from):"
	(cd "$root" && go tool pprof -top -cum -nodecount=30 "$work/probebench" "$work/cpu.pprof" 2>/dev/null | sed -n '/flat%/,$p')
fi
say "total wall time: $((SECONDS - started))s"
