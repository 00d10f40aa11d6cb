#!/usr/bin/env bash
# Curate a real run for results/curated/: the markdown report under a
# label that says how the run was made, the HTML page, its screenshot in
# headless chromium, the mail reply and the KCIDB JSON.
#
#   scripts/curate.sh RUN_DIR NAME NOTE_FILE
#
# RUN_DIR   a run directory (results/<run-id>)
# NAME      file name stem under results/curated/ (e.g. 2026-11-26-debug-x86)
# NOTE_FILE text that says how the run was made (machine, command, commit)
#
# Environment: VMAMATRIX (the binary; default: target/release/vmamatrix).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 3 ] || { echo "usage: $0 RUN_DIR NAME NOTE_FILE" >&2; exit 2; }
run=$1 name=$2 note=$3
bin=${VMAMATRIX:-target/release/vmamatrix}
out=results/curated
[ -f "$run/run.json" ] || { echo "$run: no run.json" >&2; exit 3; }
[ -f "$note" ] || { echo "$note: no such file" >&2; exit 3; }
mkdir -p "$out"

# report exits 1 on regressions: that is a result, not a failure here.
report() { "$bin" report "$run" "$@" || [ $? -eq 1 ]; }

# The label is shown, not hidden in a comment: whoever reads the page must
# see how the run was made before its figures. The renderer is named by its
# version (source identity) and the binary's own hash: the source identity
# leaves the report code out, and the checkout need not be the binary's.
ver=$("$bin" --version)
sum=$(sha256sum "$bin" | cut -c1-16)
rev=$(git rev-parse --short HEAD)
git diff --quiet HEAD -- src || rev="$rev, src/ modified"
tmp=$out/$name.md.tmp
{
	printf '**Curated vmamatrix report.** How it was made:\n\n'
	awk '{ print "    " $0 }' "$note" # ends the last line too
	printf '    rendered by: %s report (binary sha256 %s; checkout %s)\n\n---\n\n' \
		"$ver" "$sum" "$rev"
	report
} >"$tmp"
mv "$tmp" "$out/$name.md"

# The page links its logs relative to the run directory: curated copies
# keep the links pointing at results/<run-id>, which is not committed.
report --format html -o "$out/$name.html"
report --format mail >"$out/$name.eml.tmp"
mv "$out/$name.eml.tmp" "$out/$name.eml"
report --format kcidb -o "$out/$name.kcidb.json"

profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
chromium --headless=new --no-sandbox --disable-gpu --no-first-run --hide-scrollbars \
	--user-data-dir="$profile" --window-size=1400,2400 \
	--screenshot="$PWD/$out/$name.png" "file://$PWD/$out/$name.html" 2>/dev/null
ls -l "$out/$name".*
