#!/usr/bin/env bash
# vmamatrix benchmarks: every figure is measured in this one run, on this
# machine, against the real kernel tree, and printed as a ratio. BENCHMARKS.md
# records the figures of one run and how it was made.
#
#   scripts/bench.sh               overhead, incremental, no-op, struct fast
#                                  path (one cell, and the whole matrix)
#   BENCH_JOBSERVER=structs scripts/bench.sh + shared jobserver vs split -j
#                      (2 cells, --structs-only runs; =full for full builds)
#   BENCH_CCACHE=1 scripts/bench.sh      + cold and warm ccache builds
#   BENCH_STRUCTS_ALL=1                  with BENCH_CORE=0: still run the
#                      whole-matrix --structs-only figure and its no-op re-run
#   BENCH_CORE=0 BENCH_JOBSERVER=structs scripts/bench.sh
#                      only the optional figures (skips the four clean
#                      builds of the core figures, about 45 minutes here)
#
# Environment:
#   BENCH_CELL    cell to measure (default x86-up-mmu)
#   BENCH_CELL2   second cell for the jobserver figure (default x86-smp-mmu)
#   BENCH_NOOP    --only spec of a full no-op re-run against the main cache
#                 ($VMAMATRIX_CACHE), whose cells a previous `vmamatrix run`
#                 completed (default: skip); the bench cache is separate.
#   BENCH_NOOP_TREES  trees of that re-run (default base,patched)
#   KERNEL        kernel git tree (default ~/.cache/vmamatrix/linux)
set -euo pipefail
cd "$(dirname "$0")/.."

CELL=${BENCH_CELL:-x86-up-mmu}
CELL2=${BENCH_CELL2:-x86-smp-mmu}
MAIN_CACHE=${VMAMATRIX_CACHE:-$HOME/.cache/vmamatrix}
KERNEL=${KERNEL:-$MAIN_CACHE/linux}
JOBS=$(nproc)
BENCH=$(mktemp -d "${TMPDIR:-/tmp}/vmamatrix-bench.XXXXXX")
trap 'rm -rf "$BENCH"' EXIT

cargo build --release --quiet
# A copy, so rebuilding the crate while the bench runs changes nothing here.
cp target/release/vmamatrix "$BENCH/vmamatrix"
VM=$BENCH/vmamatrix
[ -d "$KERNEL/.git" ] || { echo "bench: no kernel tree at $KERNEL (run scripts/setup.sh)" >&2; exit 3; }

now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.1f}')"; }
ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }
# vm CACHE RESULTS ARGS...: one vmamatrix run with its own cache; prints wall s.
vm() {
	local cache=$1 res=$2 t0 t1
	shift 2
	t0=$(now)
	VMAMATRIX_CACHE=$cache "$VM" run --kernel "$KERNEL" --results "$res" "$@" \
		>"$BENCH/last.out" 2>"$BENCH/last.err" || [ $? -eq 1 ] || {
		echo "bench: vmamatrix run $* failed:" >&2
		tail -n 20 "$BENCH/last.err" >&2
		return 1
	}
	t1=$(now)
	secs "$t0" "$t1"
}
# stage_secs RESULTS CELL TREE STAGE: seconds the stage took in the latest
# run; it must really have run (not replayed from the cache).
stage_secs() {
	python3 - "$1/latest/$2/$3/$4.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
if r.get("cached"):
    sys.exit(f"bench: {sys.argv[1]} was replayed from the cache, not measured")
print(f"{r['secs']:.1f}")
PY
}
# cached_stages RUN_DIR: how many of the run's stage records were replayed.
cached_stages() {
	python3 - "$1" <<'PY'
import json, pathlib, sys
recs = [json.load(open(p)) for p in pathlib.Path(sys.argv[1]).glob("*/*/*.json")]
print(f"{sum(1 for r in recs if r.get('cached'))}/{len(recs)} stages cached")
PY
}
# plain_make BUILD_JSON CONFIG OUT: the make command vmamatrix recorded for
# the build, run by hand on the same .config in a clean O= directory (the
# recorded command has no CC=ccache: --ccache adds it to make's environment).
plain_make() {
	local rec=$1 config=$2 out=$3 t0 t1
	local -a cmd
	mapfile -t cmd < <(python3 - "$rec" "$out" "$JOBS" <<'PY'
import json, shlex, sys
rec, out, jobs = sys.argv[1], sys.argv[2], sys.argv[3]
argv = shlex.split(json.load(open(rec))["commands"][0])
argv = [f"O={out}" if a.startswith("O=") else a for a in argv if not a.startswith("-j")]
# Plain: without what --ccache adds (CCACHE_* in the environment, CC=ccache
# on the command line), or this make would hit the bench's warm cache.
argv = [a for a in argv if not a.startswith(("CCACHE_", "CC=ccache "))]
# The recorded command starts with its environment (NAME=value ...): env
# runs it as recorded.
print("\n".join(["env"] + argv[:-1] + [f"-j{jobs}", "olddefconfig", argv[-1]]))
PY
)
	mkdir -p "$out"
	cp "$config" "$out/.config"
	t0=$(now)
	"${cmd[@]}" >"$BENCH/make.log" 2>&1 || { echo "bench: plain make failed, see $BENCH/make.log" >&2; tail "$BENCH/make.log" >&2; exit 1; }
	t1=$(now)
	rm -rf "$out"
	secs "$t0" "$t1"
}

echo "vmamatrix bench: cell $CELL, $JOBS CPUs, $(date -u +%F)" >&2
if [ "${BENCH_CORE:-1}" != 0 ]; then
C1=$BENCH/cache1 R1=$BENCH/res1
mkdir -p "$C1" "$R1"

# 1. vmamatrix: clean base build of the cell (configure, build, measure, boot).
w_vm_base=$(vm "$C1" "$R1" --only "$CELL" --trees base)
b_vm_base=$(stage_secs "$R1" "$CELL" base build)
# 2. plain make of the same .config from the same source, clean O= dir.
b_make_base=$(plain_make "$R1/latest/$CELL/base/build.json" "$R1/latest/$CELL/base/config" "$BENCH/o-base")
# 3. vmamatrix: patched, in the build directory the base build left.
w_vm_patched=$(vm "$C1" "$R1" --only "$CELL" --trees patched)
b_vm_patched=$(stage_secs "$R1" "$CELL" patched build)
# 4. plain make of the patched source, clean O= dir.
b_make_patched=$(plain_make "$R1/latest/$CELL/patched/build.json" "$R1/latest/$CELL/patched/config" "$BENCH/o-patched")
# 5. no-op re-run of the cell, both trees.
w_noop_cell=$(vm "$C1" "$R1" --only "$CELL")
# 6. struct-size fast path, clean cache.
C2=$BENCH/cache2 R2=$BENCH/res2
mkdir -p "$C2" "$R2"
w_structs=$(vm "$C2" "$R2" --only "$CELL" --structs-only --trees base)
rm -rf "$C2"

printf '\n| figure | measured | ratio |\n|---|---|---|\n'
printf '| build stage vs plain make, clean base build | %s s vs %s s | %s |\n' \
	"$b_vm_base" "$b_make_base" "$(ratio "$b_vm_base" "$b_make_base")"
printf '| whole base run (configure+build+measure+boot+host vma tests) vs plain make | %s s vs %s s | %s |\n' \
	"$w_vm_base" "$b_make_base" "$(ratio "$w_vm_base" "$b_make_base")"
printf '| patched build after base (same O= dir) vs clean patched make | %s s vs %s s | %s |\n' \
	"$b_vm_patched" "$b_make_patched" "$(ratio "$b_vm_patched" "$b_make_patched")"
printf '| patched run (whole) | %s s | |\n' "$w_vm_patched"
printf '| no-op re-run of %s (base+patched, all cached) vs clean base build | %s s vs %s s | %s |\n' \
	"$CELL" "$w_noop_cell" "$b_vm_base" "$(ratio "$w_noop_cell" "$b_vm_base")"
printf '| --structs-only base run vs full base run, clean caches | %s s vs %s s | %s |\n' \
	"$w_structs" "$w_vm_base" "$(ratio "$w_structs" "$w_vm_base")"

else
	printf '\n| figure | measured | ratio |\n|---|---|---|\n'
fi
# 7. Struct-size fast path for the whole matrix (every feasible cell, base and
# patched, plan included), clean cache, then a no-op re-run of it. The full
# matrix is not built here (4-5 hours on 2 cores): it is estimated as that
# many cell-trees times this run's clean full run of one cell.
if [ "${BENCH_CORE:-1}" != 0 ] || [ -n "${BENCH_STRUCTS_ALL:-}" ]; then
	C3=$BENCH/cache3 R3=$BENCH/res3
	mkdir -p "$C3" "$R3"
	w_structs_all=$(vm "$C3" "$R3" --structs-only)
	n_trees=$(find "$R3/latest/" -mindepth 3 -maxdepth 3 -name measure.json | wc -l)
	w_noop_all=$(vm "$C3" "$R3" --structs-only)
	n_cached=$(cached_stages "$R3/latest")
	rm -rf "$C3"
	if [ -n "${w_vm_base:-}" ]; then
		est_full=$(python3 -c "print(f'{$n_trees * $w_vm_base:.0f}')")
		printf '| --structs-only of the whole matrix (%s cell-trees measured) vs full matrix estimated as %s x the clean full run of %s | %s s vs %s s | %s |\n' \
			"$n_trees" "$n_trees" "$CELL" "$w_structs_all" "$est_full" "$(ratio "$w_structs_all" "$est_full")"
	else
		printf '| --structs-only of the whole matrix (%s cell-trees measured), clean cache | %s s | |\n' \
			"$n_trees" "$w_structs_all"
	fi
	printf '| no-op re-run of the whole matrix, --structs-only (%s) | %s s | |\n' "$n_cached" "$w_noop_all"
fi
if [ -n "${BENCH_NOOP:-}" ]; then
	RN=$BENCH/res-noop
	mkdir -p "$RN"
	w=$(vm "$MAIN_CACHE" "$RN" --only "$BENCH_NOOP" --trees "${BENCH_NOOP_TREES:-base,patched}")
	n=$(cached_stages "$RN/latest")
	printf '| no-op re-run, main cache, --only %s --trees %s (%s) | %s s | |\n' \
		"$BENCH_NOOP" "${BENCH_NOOP_TREES:-base,patched}" "$n" "$w"
fi

if [ -n "${BENCH_JOBSERVER:-}" ]; then
	declare -A walls
	for mode in sequential split jobserver; do
		C=$BENCH/cache-$mode R=$BENCH/res-$mode
		mkdir -p "$C" "$R"
		case $mode in
		sequential) args=(--parallel 1) ;;
		split) args=(--parallel 2) ;;
		jobserver) args=(--parallel 2 --jobserver) ;;
		esac
		[ "$BENCH_JOBSERVER" = full ] || args+=(--structs-only)
		w=$(vm "$C" "$R" --only "$CELL,$CELL2" --trees base "${args[@]}")
		walls[$mode]=$w
		rm -rf "$C"
	done
	what="full builds"
	[ "$BENCH_JOBSERVER" = full ] || what="--structs-only"
	printf '| 2 cells (%s, %s), clean base, %s, -j%s: split -j (--parallel 2) vs one cell at a time | %s s vs %s s | %s |\n' \
		"$CELL" "$CELL2" "$what" "$JOBS" "${walls[split]}" "${walls[sequential]}" "$(ratio "${walls[split]}" "${walls[sequential]}")"
	printf '| same, shared jobserver (--parallel 2 --jobserver) vs one cell at a time | %s s vs %s s | %s |\n' \
		"${walls[jobserver]}" "${walls[sequential]}" "$(ratio "${walls[jobserver]}" "${walls[sequential]}")"
fi

if [ -n "${BENCH_CCACHE:-}" ]; then
	C=$BENCH/cache-ccache R=$BENCH/res-ccache
	mkdir -p "$C" "$R"
	vm "$C" "$R" --only "$CELL" --trees base --ccache >/dev/null
	cold=$(stage_secs "$R" "$CELL" base build)
	cold_stats=$(python3 -c "import json;c=json.load(open('$R/latest/$CELL/base/build.json'))['build']['ccache'];print(f\"{c['hits']} hits, {c['misses']} misses, {c.get('uncacheable', 0)} uncacheable\")")
	rm -rf "$C"/work/*/build "$C"/records
	vm "$C" "$R" --only "$CELL" --trees base --ccache >/dev/null
	warm=$(stage_secs "$R" "$CELL" base build)
	rate=$(python3 -c "import json;c=json.load(open('$R/latest/$CELL/base/build.json'))['build']['ccache'];print(f\"{c['hits']}/{c['hits']+c['misses']}\")")
	printf '| --ccache: warm rebuild (build dir removed, hits %s) vs cold build | %s s vs %s s | %s |\n' \
		"$rate" "$warm" "$cold" "$(ratio "$warm" "$cold")"
	# Without the core figures, a plain make (no ccache) of the same .config.
	[ -n "${b_make_base:-}" ] ||
		b_make_base=$(plain_make "$R/latest/$CELL/base/build.json" "$R/latest/$CELL/base/config" "$BENCH/o-ccache-ref")
	printf '| --ccache cold build (%s) vs plain make (ccache overhead) | %s s vs %s s | %s |\n' \
			"$cold_stats" "$cold" "$b_make_base" "$(ratio "$cold" "$b_make_base")"
	# A second plain make after the ccache builds bounds the machine's
	# noise: two plain makes of one .config differed by 20% here before.
	b_make_again=$(plain_make "$R/latest/$CELL/base/build.json" "$R/latest/$CELL/base/config" "$BENCH/o-ccache-ref2")
	printf '| --ccache cold build vs a second plain make, after it | %s s vs %s s | %s |\n' \
			"$cold" "$b_make_again" "$(ratio "$cold" "$b_make_again")"
fi
