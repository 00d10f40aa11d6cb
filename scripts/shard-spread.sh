#!/usr/bin/env bash
# How close together N shards finish, dealt every N-th cell and dealt by
# recorded seconds (`run --shard K/N` without and with `--weights`), measured
# on this machine. Each shard runs alone, one after the other, from an empty
# cache of its own, as it would on a machine of its own; so every shard's wall
# time is a cold run of its cells. BENCHMARKS.md ("Shard balance") has figures.
#
#   scripts/shard-spread.sh N OUT_DIR [RUN OPTIONS...]
#
# Pass 1 deals every N-th cell. Its shards are merged and `report --weights`
# of the merged run is the weights file of pass 2 (or $WEIGHTS, when set).
# Pass 2 deals by those weights. The model's reference is always the merged
# pass-1 run.
# Then it prints each shard's wall and the spread of each pass, and
# scripts/cost-model.py --check-shards's prediction of every shard from the
# merged pass-1 run. RUN OPTIONS go to every run (e.g. --structs-only).
#
# Environment: VMAMATRIX (default target/release/vmamatrix), VMAMATRIX_KERNEL
# (default ~/.cache/vmamatrix/linux), KEEP=1 keeps the shard caches (each one
# holds a work tree of the kernel: a few GB), AGAIN=weighted redoes pass 2
# only, in an OUT_DIR that has pass 1.
set -euo pipefail

die() { printf 'shard-spread: %s\n' "$*" >&2; exit 2; }

[ $# -ge 2 ] || die "usage: scripts/shard-spread.sh N OUT_DIR [RUN OPTIONS...]"
n=$1 out=$2
shift 2
case $n in '' | *[!0-9]* | 0 | 1) die "N must be a number of shards, 2 or more (got '$n')" ;; esac
bin=$(realpath "${VMAMATRIX:-target/release/vmamatrix}") || die "no vmamatrix binary (cargo build --release, or set VMAMATRIX)"
[ -x "$bin" ] || die "no vmamatrix binary at $bin"
kernel=${VMAMATRIX_KERNEL:-$HOME/.cache/vmamatrix/linux}
here=$(dirname "$(realpath "$0")")
mkdir -p "$out"
out=$(realpath "$out")
# AGAIN=weighted: pass 1 is in OUT already (a run of this script that
# stopped after it); only pass 2 and the figures are made.
if [ "${AGAIN:-}" = weighted ]; then
	if [ ! -e "$out/every/merged/latest" ] || ! grep -q '^every ' "$out/walls"; then
		die "AGAIN=weighted: no finished pass 1 in $out"
	fi
	rm -rf "$out/weighted"
	sed -i '/^weighted /d' "$out/walls"
else
	[ -z "$(ls -A "$out")" ] || die "$out is not empty: give a new directory (or AGAIN=weighted)"
fi

# run_pass NAME [--weights FILE]: the N shards of one deal, one at a time.
run_pass() {
	local name=$1 k start rc
	shift
	for k in $(seq 1 "$n"); do
		start=$(date +%s.%N)
		rc=0
		VMAMATRIX_CACHE=$out/$name/cache-$k "$bin" run --shard "$k/$n" "$@" \
			--kernel "$kernel" --results "$out/$name/shard-$k" "${run_opts[@]}" \
			>"$out/$name/shard-$k.log" 2>&1 || rc=$?
		# 1 is a run that found regressions: a result, not a failure.
		[ "$rc" -le 1 ] || die "$name shard $k/$n exited $rc (log: $out/$name/shard-$k.log)"
		awk -v a="$start" -v b="$(date +%s.%N)" -v k="$k" -v name="$name" \
			'BEGIN { printf "%s %d %.1f\n", name, k, b - a }' >>"$out/walls"
		[ -n "${KEEP:-}" ] || rm -rf "$out/$name/cache-$k"
	done
	"$bin" merge "$out/$name"/shard-*/latest/ --results "$out/$name/merged" >"$out/$name/merge.log" 2>&1 ||
		[ $? -eq 1 ] || die "merge of $name failed (log: $out/$name/merge.log)"
}

run_opts=("$@")
mkdir -p "$out/every" "$out/weighted"
[ "${AGAIN:-}" = weighted ] || run_pass every
weights=${WEIGHTS:-$out/weights.toml}
if [ -z "${WEIGHTS:-}" ]; then
	# report exits 1 when the run has regressions: a result, not a failure.
	"$bin" report --weights "$out/every/merged/latest" -o "$weights" || [ $? -eq 1 ] ||
		die "report --weights of the merged every-N-th run failed"
fi
run_pass weighted --weights "$weights"

echo "shard walls (s), each shard alone from an empty cache, $(nproc) cores:"
for name in every weighted; do
	awk -v name="$name" '$1 == name { if ($3 > hi) hi = $3; if (lo == "" || $3 < lo) lo = $3; s = s sprintf(" %d: %.1f", $2, $3) }
		END { printf "  %-8s%s  (slowest %.1f, spread %.1f s, slowest/fastest %.2f)\n", name, s, hi, hi - lo, hi / lo }' "$out/walls"
done
echo "model (scripts/cost-model.py --check-shards; reference: the merged every-N-th run; per-run work of pass 2 predicted as pass 1's mean):"
# model OVERHEAD SHARD_RUN...: an empty OVERHEAD predicts the stages only.
model() {
	local opts=(--shard-cores "$(nproc)")
	[ -z "$1" ] || opts+=(--overhead "$1")
	shift
	VMAMATRIX=$bin python3 "$here/cost-model.py" "${opts[@]}" --check-shards "$out/every/merged/latest" "$@"
}
model "" "$out/every"/shard-*/latest/ | tee "$out/model-every.md"
work=$(sed -n 's/^mean per-run work: \(-\{0,1\}[0-9.]*\) s$/\1/p' "$out/model-every.md")
model "$work" "$out/weighted"/shard-*/latest/ | tee "$out/model-weighted.md"
