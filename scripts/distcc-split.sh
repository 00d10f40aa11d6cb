#!/usr/bin/env bash
# A check of the cost model's distcc rule on one machine: its cores split
# into a "local" machine and a "helper host". A plain build runs on the local
# cores alone; then the same build runs on the local cores with distcc, and a
# distccd pinned to the other cores does the helper's share. The model
# predicts the second from the first (scripts/cost-model.py, the distcc row
# for 1 helper host) before it runs; the script prints both. BENCHMARKS.md
# ("distcc: the model against a split machine") has figures.
#
#   scripts/distcc-split.sh CELL OUT_DIR [LOCAL_CPUS [HELPER_CPUS]]
#
# LOCAL_CPUS and HELPER_CPUS are taskset lists (default 0 and 1). Each run is
# `vmamatrix run --only CELL --trees base --no-boot` from an empty cache.
# Environment: VMAMATRIX (default target/release/vmamatrix), VMAMATRIX_KERNEL
# (default ~/.cache/vmamatrix/linux), P and F: the model's preprocess share
# and distcc per-job factor (default 0.3 and 1.5, BENCHMARKS.md).
set -euo pipefail

die() { printf 'distcc-split: %s\n' "$*" >&2; exit 2; }

[ $# -ge 2 ] || die "usage: scripts/distcc-split.sh CELL OUT_DIR [LOCAL_CPUS [HELPER_CPUS]]"
cell=$1 out=$2 local_cpus=${3:-0} helper_cpus=${4:-1}
bin=$(realpath "${VMAMATRIX:-target/release/vmamatrix}") || die "no vmamatrix binary (cargo build --release, or set VMAMATRIX)"
kernel=${VMAMATRIX_KERNEL:-$HOME/.cache/vmamatrix/linux}
here=$(dirname "$(realpath "$0")")
command -v distccd >/dev/null || die "distccd not found (scripts/setup.sh installs distcc)"
ncpus() { taskset -c "$1" nproc 2>/dev/null || die "not a CPU list of this machine: '$1'"; }
nl=$(ncpus "$local_cpus")
nh=$(ncpus "$helper_cpus")
mkdir -p "$out"
out=$(realpath "$out")
[ -z "$(ls -A "$out")" ] || die "$out is not empty: give a new directory"

# The repository's matrix with the compiler behind distcc (paths made absolute).
repo=$(realpath "$here/..")
sed -e 's/^toolchain = .*/toolchain = '\''LLVM=-19 CC="distcc clang-19"'\''/' \
	-e "s|^series = .*|series = \"$repo/patches\"|" -e "s|^configs = .*|configs = \"$repo/configs\"|" \
	"$repo/matrix.toml" >"$out/distcc.toml"
grep -q 'distcc clang-19' "$out/distcc.toml" || die "matrix.toml has no toolchain line"

# run NAME CPUS JOBS [EXTRA...]
run() {
	local name=$1 cpus=$2 jobs=$3 start rc=0
	shift 3
	start=$(date +%s.%N)
	VMAMATRIX_CACHE=$out/cache-$name taskset -c "$cpus" "$bin" run --only "$cell" --trees base \
		--no-boot --jobs "$jobs" --kernel "$kernel" --results "$out/$name" "$@" \
		>"$out/$name.log" 2>&1 || rc=$?
	[ "$rc" -le 1 ] || die "$name run exited $rc (log: $out/$name.log)"
	awk -v a="$start" -v b="$(date +%s.%N)" -v n="$name" 'BEGIN { printf "%s wall %.1f s\n", n, b - a }' | tee -a "$out/walls"
	# C compiles kbuild recorded: .o.cmd files whose command compiles a .c
	# file (the distccd's COMPILE_OK count is out of these).
	printf '%s: %s C compiles\n' "$name" "$(find "$out/cache-$name"/work/*/build -name '*.o.cmd' \
		-exec grep -l -E '^savedcmd_.* -c -o .*\.c *$' {} + | wc -l)" | tee -a "$out/walls"
	rm -rf "$out/cache-$name"
}

run plain "$local_cpus" "$nl" --matrix "$repo/matrix.toml"
echo "prediction from the plain run (local: $nl cores, 1 helper host of $nh cores, p=${P:-0.3}, f=${F:-1.5}):"
VMAMATRIX=$bin python3 "$here/cost-model.py" "$out/plain/latest" --machines 1 --cores "$nl" \
	--distcc-hosts 0,1 --distcc-helper-cores "$nh" --link-secs 6 \
	--preprocess-share "${P:-0.3}" --distcc-overhead "${F:-1.5}" | tee "$out/prediction.md"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
taskset -c "$helper_cpus" distccd --daemon --no-detach --log-stderr --log-level info \
	--allow 127.0.0.1 --listen 127.0.0.1 --jobs "$nh" --port "$port" 2>"$out/distccd.log" &
daemon=$!
trap 'kill $daemon 2>/dev/null || true' EXIT
sleep 1
mkdir -p "$out/distcc-dir"
# The helper first, then this machine's own cores (distcc fills hosts in order).
DISTCC_HOSTS="127.0.0.1:$port/$((nh * 2)) localhost/$nl" DISTCC_DIR=$out/distcc-dir \
	run distcc "$local_cpus" $((2 * (nl + nh))) --matrix "$out/distcc.toml"
kill $daemon 2>/dev/null || true
wait $daemon 2>/dev/null || true
echo "distccd: $(grep -c 'COMPILE_OK' "$out/distccd.log") COMPILE_OK, $(grep -cE 'COMPILE_ERROR|EXEC_ERROR|TIMEOUT' "$out/distccd.log" || true) failed jobs"
for name in plain distcc; do
	printf '%s: ' "$name"
	"$bin" report --timing "$out/$name/latest" | grep "^| $cell | base"
done
