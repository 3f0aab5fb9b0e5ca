#!/usr/bin/env bash
# Times the same 50-step smoke suite run by greenlight, Step CI and Venom
# against one local server, as whole-process wall time, and prints the ratios.
#
#   bench/smoke/run.sh [-n RUNS] [--loop] [--without-greenlight] [--keep]
#
# See bench/smoke/README.md.
set -euo pipefail

STEPCI_VERSION=2.8.2
VENOM_VERSION=v1.4.0-beta.1
STEPS=50

usage() {
	cat <<EOF
usage: $0 [-n RUNS] [--loop] [--without-greenlight] [--keep]

  -n RUNS               timed runs per tool and suite (default 20)
  --loop                time with the built-in loop even if hyperfine is installed
  --without-greenlight  leave greenlight out (only Step CI and Venom)
  --keep                keep the scratch directory (timings, logs)
EOF
}

runs=20
use_hyperfine=1
with_greenlight=1
keep=0
while [ $# -gt 0 ]; do
	case $1 in
	-n) runs=${2:?-n needs a number}; shift 2 ;;
	-n*) runs=${1#-n}; shift ;;
	--loop) use_hyperfine=0; shift ;;
	--without-greenlight) with_greenlight=0; shift ;;
	--keep) keep=1; shift ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
case $runs in '' | *[!0-9]* | 0) echo "-n wants a positive number" >&2; exit 2 ;; esac

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/greenlight-bench
work=$(mktemp -d "${TMPDIR:-/tmp}/greenlight-bench.XXXXXX")
mkdir -p "$work/bin" "$work/cwd" "$work/times" "$work/xdg-config"

pids=()
cleanup() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	if [ "$keep" = 1 ]; then echo "scratch kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Nothing may reach the network: no Step CI analytics, no npm update checks,
# and Step CI's settings file (an analytics id) goes to the scratch directory.
export STEPCI_DISABLE_ANALYTICS=1 NO_UPDATE_NOTIFIER=1 NPM_CONFIG_UPDATE_NOTIFIER=false
export XDG_CONFIG_HOME="$work/xdg-config"
export GOWORK=off

# --- tools -------------------------------------------------------------------
command -v go >/dev/null || die "go is required"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	die "node and npm are required for Step CI (Debian: apt-get install nodejs npm)"
fi

stepci=$cache/stepci-$STEPCI_VERSION/node_modules/.bin/stepci
if [ ! -x "$stepci" ]; then
	say "installing stepci@$STEPCI_VERSION into $cache"
	npm install --prefix "$cache/stepci-$STEPCI_VERSION" --no-audit --no-fund --loglevel=error \
		"stepci@$STEPCI_VERSION" >&2
fi

venom=$cache/venom-$VENOM_VERSION/venom
if [ ! -x "$venom" ]; then
	say "installing venom $VENOM_VERSION into $cache (takes a few minutes)"
	# Outside any module, so the project's go.mod is not touched.
	(cd "$work" && GOBIN="$cache/venom-$VENOM_VERSION" GOFLAGS="" \
		go install "github.com/ovh/venom/cmd/venom@$VENOM_VERSION") >&2
fi

say "building the server, the suite generator and the report"
(
	cd "$root"
	go build -o "$work/bin/server" ./bench/smoke/server
	go build -o "$work/bin/gen" ./bench/smoke/gen
	go build -o "$work/bin/report" ./bench/smoke/report
)
greenlight=$work/bin/greenlight
if [ "$with_greenlight" = 1 ]; then
	say "building greenlight"
	(cd "$root" && go build -o "$greenlight" ./cmd/greenlight) ||
		die "greenlight does not build (use --without-greenlight to time only Step CI and Venom)"
fi

# --- suites --------------------------------------------------------------------
# The committed 50-step files must be what the generator writes today.
"$work/bin/gen" -out "$work/suites/full"
for f in greenlight.yaml stepci.yaml venom.yml; do
	cmp -s "$work/suites/full/$f" "$here/$f" ||
		die "bench/smoke/$f is stale: run 'go run ./bench/smoke/gen -out bench/smoke' from the module root"
done
"$work/bin/gen" -out "$work/suites/one" -profiles 0 -order=false # start-up: login only
"$work/bin/gen" -out "$work/suites/broken" -username nobody     # must fail
full=$here

# --- server ------------------------------------------------------------------
check_url='' url=
# start_server LOGFILE VAR [flags]: starts the server, puts its URL into VAR.
start_server() {
	local log=$1 var=$2 i
	shift 2
	"$work/bin/server" -addr 127.0.0.1:0 "$@" >"$log.url" 2>"$log" &
	pids+=($!)
	for i in $(seq 100); do
		if [ -s "$log.url" ]; then
			printf -v "$var" '%s' "$(head -n1 "$log.url")"
			return
		fi
		sleep 0.05
	done
	die "server did not start: $(cat "$log")"
}

# tool_cmd TOOL SUITE_DIR URL: the command line that runs TOOL, one word a line.
tool_cmd() {
	case $1 in
	greenlight) printf '%s\n' "$greenlight" smoke "$2/greenlight.yaml" --target "$3" ;;
	stepci) printf '%s\n' "$stepci" run "$2/stepci.yaml" -e "host=$3" ;;
	venom) printf '%s\n' "$venom" run "$2/venom.yml" --var "host=$3" ;;
	esac
}

tools=(stepci venom)
[ "$with_greenlight" = 1 ] && tools=(greenlight "${tools[@]}")

# --- correctness -------------------------------------------------------------
# Every tool must pass the suite sending exactly one request a step, and must
# fail the broken copy (profile steps expect username "nobody").
start_server "$work/check.log" check_url -log
say "checking each tool against $check_url"
cd "$work/cwd" # Venom writes venom.log into the working directory
for t in "${tools[@]}"; do
	for suite in full one broken; do
		dir=$work/suites/$suite
		[ "$suite" = full ] && dir=$full
		want=$STEPS
		[ "$suite" = one ] && want=1
		mapfile -t cmd < <(tool_cmd "$t" "$dir" "$check_url")
		before=$(wc -l <"$work/check.log")
		set +e
		"${cmd[@]}" >"$work/$t-$suite.out" 2>&1
		rc=$?
		set -e
		sent=$(($(wc -l <"$work/check.log") - before))
		if [ "$suite" = broken ]; then
			[ "$rc" != 0 ] || die "$t passed the broken suite (see $work/$t-$suite.out)"
			say "$t: broken suite fails as it should (exit $rc)"
		else
			[ "$rc" = 0 ] || { keep=1; die "$t failed the $suite suite (exit $rc); output: $work/$t-$suite.out"; }
			[ "$sent" = "$want" ] || { keep=1; die "$t sent $sent requests for a $want-step suite"; }
			if grep -v ' 20[01]$' <(tail -n "$sent" "$work/check.log") >/dev/null; then
				keep=1
				die "$t got error responses; see $work/check.log"
			fi
			say "$t: $suite suite passes ($sent of $want requests answered 200/201)"
		fi
	done
done

# --- timing ------------------------------------------------------------------
start_server "$work/timing.log" url
names=()
cmds=()
for suite in full one; do
	dir=$work/suites/one steps=1
	[ "$suite" = full ] && dir=$full steps=$STEPS
	for t in "${tools[@]}"; do
		mapfile -t cmd < <(tool_cmd "$t" "$dir" "$url")
		names+=("$t/$steps")
		cmds+=("$(printf '%q ' "${cmd[@]}")")
	done
done
k=${#names[@]}

if [ "$use_hyperfine" = 1 ] && ! command -v hyperfine >/dev/null; then
	say "hyperfine not found (Debian: apt-get install hyperfine); using the built-in loop"
	use_hyperfine=0
fi
timer=loop
[ "$use_hyperfine" = 1 ] && timer="hyperfine $(hyperfine --version | awk '{print $2}')"
say "timing: $runs rounds x $k commands, round-robin, timer: $timer"

# One round runs every command once; each round starts one command further
# on, so no tool always goes first. Round 0 is a warm-up and is not kept.
for ((r = 0; r <= runs; r++)); do
	args=()
	for ((j = 0; j < k; j++)); do
		i=$(((r + j) % k))
		args+=("$i")
	done
	if [ "$use_hyperfine" = 1 ]; then
		hf=(hyperfine -N --runs 1 --style none --export-json "$work/times/round-$r.json")
		for i in "${args[@]}"; do hf+=(-n "${names[$i]}" "${cmds[$i]}"); done
		"${hf[@]}" >/dev/null
	else
		for i in "${args[@]}"; do
			eval "cmd=(${cmds[$i]})"
			t0=$EPOCHREALTIME
			"${cmd[@]}" >/dev/null 2>&1 || die "${names[$i]} failed during timing"
			t1=$EPOCHREALTIME
			printf '%s\t%s\n' "${names[$i]}" \
				"$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }')" >>"$work/times/round-$r.tsv"
		done
	fi
	printf '.' >&2
done
printf '\n' >&2
rm -f "$work/times/round-0."*

# --- report ------------------------------------------------------------------
echo
echo "machine: $(nproc) cores, $(uname -sr); timer: $timer"
printf 'versions: '
[ "$with_greenlight" = 1 ] && printf 'greenlight (this tree), '
printf 'Step CI %s (node %s), ' "$("$stepci" --version 2>/dev/null | tr -d '\n')" "$(node --version)"
printf 'Venom %s\n' "$(go version -m "$venom" | awk '$1 == "mod" { print $3 }')"
echo
"$work/bin/report" -steps "$STEPS" "$work"/times/round-*
