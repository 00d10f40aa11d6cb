#!/usr/bin/env python3
"""vmamatrix cost model: predicted wall time of a matrix run on N machines of
M cores (shards dealt as `run --shard K/N --weights` deals them), of
`--per-patch`, and with distcc, from the per-cell, per-stage seconds that a
real run recorded (`vmamatrix report --format json`, field `timing`).

    scripts/cost-model.py RUN_DIR [RUN_DIR...]            predictions
        [--machines 1,2,4,8] [--cores 2,16] [--distcc-hosts 0,1,4]
        [--link-secs S] [--preprocess-share P] [--distcc-overhead F]
        [--distcc-helper-cores C]
        [--build-dir O --series DIR]                      + --per-patch
    scripts/cost-model.py --check-shards REF_RUN[,REF_RUN...] SHARD_RUN...
        [--shard-cores C] [--overhead S] [--feasible LIST] predicted vs measured
    scripts/cost-model.py --measure O_DIR [--samples N]   the link tail and the
                                                          preprocess share of a
                                                          built kbuild O= dir
                                                          (vmamatrix's: work/*/
                                                          build/<cell>/<key>)

Several RUN_DIRs: a later run's record of a cell-tree replaces an earlier
one's. The model (BENCHMARKS.md, "Cost model", says where each parameter
was measured):

  stage secs S(c, t, st) as recorded at -j0 (the record's jobs);
  build at -j:   L + (S_build - L) * j0 / j         (L: serial link tail)
  configure, measure, boot: as recorded (not spread over cores);
  one machine of M cores runs P = max(1, M // 4) cells at once at -j M/P
  (vmamatrix's default), each tree in turn over all cells: the wall of a
  tree is the longest-first makespan of its cells over P slots;
  N machines: the cells dealt to N shards by their recorded seconds
  (longest first, as `run --shard --weights`), wall = the slowest shard;
  distcc over helper hosts of HC cores in all, DISTCC_HOSTS ending in
  localhost/M: the compile work C = (S_build - L) * j0 CPU-seconds; an
  object sent out costs p C locally (preprocessing) and (1 - p) C F on a
  helper, one kept is compiled whole here; balanced,
  wall = L + max(p C / M, C F / (F M + HC));
  --per-patch: each intermediate tree rebuilds the objects whose kbuild
  dependencies (.cmd files of a built O= dir) name a file or a Kconfig
  symbol the patch changes: S_build * rebuilt / objects + L.
"""
import argparse
import json
import os
import re
import subprocess
import sys
from collections import defaultdict

STAGES = ("configure", "build", "measure", "boot")


def vmamatrix():
    here = os.path.dirname(os.path.abspath(__file__))
    for p in (os.environ.get("VMAMATRIX"), os.path.join(here, "../target/release/vmamatrix")):
        if p and os.access(p, os.X_OK):
            return p
    return "vmamatrix"


def report(run_dir):
    out = subprocess.run([vmamatrix(), "report", "--format", "json", run_dir],
                         capture_output=True, text=True)
    # 5: the run did not finish; the stages it recorded still timed real work.
    if out.returncode not in (0, 1, 5):
        sys.exit(f"cost-model: vmamatrix report {run_dir}: {out.stderr.strip()}")
    return json.loads(out.stdout)


def timings(run_dirs):
    """{cell: {tree: {stage: (secs, jobs)}}} of the runs, later runs win."""
    t = defaultdict(dict)
    for d in run_dirs:
        per = defaultdict(dict)
        for r in report(d)["timing"]:
            per[(r["cell"], r["tree"])][r["stage"]] = (r["secs"], r["jobs"] or 1)
        for (cell, tree), stages in per.items():
            t[cell][tree] = stages
    return t


def fill(t, feasible, all_cells):
    """The whole matrix from a partial reference: a feasible cell no run
    measured gets, for each tree and stage, the median of the measured
    feasible cells; a refused cell, the median configure time, per tree."""
    import statistics
    measured = [c for c in feasible if c in t]
    if not measured:
        sys.exit("cost-model: no feasible cell of --feasible was measured by the runs")
    trees = sorted({tr for c in measured for tr in t[c]}, key=tree_order)
    med = {}
    for tr in trees:
        med[tr] = {}
        for st in STAGES:
            v = [t[c][tr][st] for c in measured if st in t[c].get(tr, {})]
            if v:
                med[tr][st] = (statistics.median(x for x, _ in v), v[0][1])
    out = {c: t[c] for c in measured}
    for c in feasible:
        out.setdefault(c, {tr: dict(v) for tr, v in med.items()})
    conf = {tr: {"configure": med[tr]["configure"]} for tr in trees if "configure" in med[tr]}
    for i in range(all_cells - len(feasible)):
        out[f"refused-{i + 1}"] = conf
    print(f"filled: {len(feasible) - len(measured)} feasible cells unmeasured (medians of "
          f"{', '.join(measured)}), {all_cells - len(feasible)} refused cells (configure only)")
    return out


def build_secs(secs, j0, j, link):
    link = min(link, secs)
    return link + (secs - link) * j0 / j


def cell_secs(stages, j, link, distcc=None):
    """Seconds of one cell-tree at -j (distcc: (helper cores, p, f))."""
    s = 0.0
    for st, (secs, j0) in stages.items():
        if st != "build":
            s += secs
        elif distcc is None:
            s += build_secs(secs, j0, j, link)
        else:
            helper_cores, p, f = distcc
            link_ = min(link, secs)
            c = (secs - link_) * j0
            s += link_ + distcc_compile(c, j, helper_cores, p, f)
    return s


def distcc_compile(c, m, hc, p, f):
    """Seconds of C CPU-seconds of compiles on M local cores with distcc and
    HC helper cores, DISTCC_HOSTS listing the helpers and `localhost/M`.
    A share x of the objects goes out: this machine preprocesses it (p of
    its cost) and a helper compiles the rest at f times the cost (the
    compiler fed by the network); the local cores compile the others
    whole. Balanced, (1 - x (1 - p)) / M = x (1 - p) f / HC, which gives
    C f / (f M + HC); with many helpers x reaches 1 and the local
    preprocessing bounds it: p C / M. No helpers: C / M, a plain build."""
    if hc <= 0:
        return c / m
    return max(p * c / m, c * f / (f * m + hc))


def makespan(costs, slots):
    load = [0.0] * max(1, slots)
    for c in sorted(costs, reverse=True):
        i = load.index(min(load))
        load[i] += c
    return max(load)


def deal(cells, weights, n):
    """`run --shard K/N --weights`: longest first to the least loaded shard
    (ties: lower matrix index, lower shard)."""
    order = sorted(range(len(cells)), key=lambda i: (-weights[cells[i]], i))
    load, out = [0.0] * n, [[] for _ in range(n)]
    for i in order:
        k = min(range(n), key=lambda s: (load[s], s))
        load[k] += weights[cells[i]]
        out[k].append(cells[i])
    return out


def machine_wall(t, cells, cores, link, distcc=None):
    """distcc: (helper hosts, cores per host, p, f); the cells built at once
    share the helpers."""
    par = max(1, cores // 4)
    j = max(1, cores // par)
    d = None if distcc is None else (distcc[0] * distcc[1] / par, distcc[2], distcc[3])
    trees = sorted({tr for c in cells for tr in t[c]}, key=tree_order)
    return sum(makespan([cell_secs(t[c][tr], j, link, d) for c in cells if tr in t[c]], par)
               for tr in trees)


def tree_order(tr):
    if tr == "base":
        return (0, 0)
    if tr.startswith("patch-"):
        return (1, int(tr[6:]))
    return (2, 0)


def matrix_wall(t, machines, cores, link, distcc=None):
    cells = sorted(t)
    weights = {c: sum(s for st in t[c].values() for s, _ in st.values()) for c in cells}
    return max(machine_wall(t, shard, cores, link, distcc) for shard in deal(cells, weights, machines) if shard)


def linked(build_dir):
    """The objects the last build linked: the members of vmlinux.a and the
    lib.a archives (a build dir keeps the .cmd files of objects an earlier
    configuration built; those are not part of this build)."""
    out = set()
    for root, _, files in os.walk(build_dir):
        for f in files:
            if f in ("vmlinux.a", "lib.a") and root.count(os.sep) - build_dir.count(os.sep) <= 3:
                r = subprocess.run(["llvm-ar-19", "t", os.path.join(root, f)], capture_output=True, text=True)
                base = build_dir if f == "vmlinux.a" else root
                out |= {os.path.normpath(os.path.join(base, m)) for m in r.stdout.split()}
    if not out:
        sys.exit(f"cost-model: {build_dir}: no vmlinux.a: not a finished kbuild build")
    return out


def cmd_files(build_dir):
    """(path of the .cmd file, its text) of every linked object."""
    objs = linked(build_dir)
    for root, _, files in os.walk(build_dir):
        for f in sorted(files):
            if f.startswith(".") and f.endswith(".o.cmd"):
                if os.path.normpath(os.path.join(root, f[1:-4])) in objs:
                    yield os.path.join(root, f), open(os.path.join(root, f), errors="replace").read()


def rebuilt_fractions(build_dir, series_dir):
    """Per patch: the share of the build's objects it makes kbuild rebuild."""
    deps = {}
    for path, text in cmd_files(build_dir):
        m = re.search(r"^source_\S+ := (\S+)", text, re.M)
        if not m or not m.group(1).endswith((".c", ".S")):
            continue
        paths = set(re.findall(r"(\S+\.[chS])\b", text))
        syms = set(re.findall(r"include/config/(\w+)", text))
        deps[path] = (paths, syms)
    out = []
    for name in sorted(os.listdir(series_dir)):
        if not name.endswith(".patch") or name.startswith("0000"):
            continue
        text = open(os.path.join(series_dir, name), errors="replace").read()
        files = set(re.findall(r"^diff --git a/(\S+)", text, re.M))
        syms = set()
        for hunk in re.split(r"^diff --git ", text, flags=re.M)[1:]:
            if "Kconfig" in hunk.split("\n", 1)[0]:
                syms |= set(re.findall(r"^[-+]\s*(?:menu)?config\s+(\w+)", hunk, re.M))
                syms |= set(re.findall(r"^[-+]\s*(?:select|imply)\s+(\w+)", hunk, re.M))
        hit = sum(1 for paths, s in deps.values()
                  if (s & syms) or any(p.endswith("/" + f) or p == f for p in paths for f in files))
        out.append((name, hit, len(deps)))
    return out


def check_shards(t, shard_dirs, link, cores=None, overhead=None):
    """Each shard run's wall against the model's prediction from the
    reference timings T of the shard's cells (a cell T lacks weighs as T's
    refused cells when `fill` made some). cores: the cores each shard had
    (default: this machine's, split between the shards, as when they ran
    side by side on it). The model has stages only; a run also applies the
    series, runs the host tests and the per-patch checks and sets up its
    work tree. `its own stages` is the model's schedule of the stage times
    the shard recorded itself (their sum, one cell at a time), `per-run
    work` the rest of its wall (so also the model's scheduling error), and
    `predicted wall` adds the given overhead (seconds, e.g. the mean per-run
    work of an earlier set of shards)."""
    refused = next((v for c, v in t.items() if c.startswith("refused-")), None)
    if cores is None:
        cores = max(1, (os.cpu_count() or 2) // len(shard_dirs))
    print(f"| shard | cells | predicted stages s | its own stages s | per-run work s | "
          f"predicted wall s | measured wall s |")
    print("|---|---|---|---|---|---|---|")
    works = []
    for d in shard_dirs:
        rep = report(d)
        run = rep["run"]
        k, n = run["shard"]
        mine = [c["id"] for c in rep["cells"] if c["selected"]]
        ref = dict(t)
        for c in mine:
            if c not in ref and refused is not None:
                ref[c] = refused
        pred = machine_wall(ref, [c for c in mine if c in ref], cores, link)
        own = timings([d])
        rec = machine_wall(own, [c for c in mine if c in own], cores, link)
        meas = wall(run)
        works.append(meas - rec)
        pw = "-" if overhead is None else f"{pred + overhead:.0f}"
        print(f"| {k}/{n} | {len(mine)}: {', '.join(mine)} | {pred:.0f} | {rec:.0f} | {meas - rec:.0f} | {pw} | {meas:.0f} |")
    print(f"mean per-run work: {sum(works) / len(works):.0f} s")


def measure(build_dir, samples):
    """Link tail: `make vmlinux` in an up-to-date copy of the built O= dir
    with the final link's outputs removed (make's walk of the tree plus the
    link). The
    preprocess share: kbuild's own compile commands of a sample of objects,
    run with -E and as they are, one at a time."""
    import shlex
    import shutil
    import tempfile
    import time
    cmds = []
    for _, text in cmd_files(build_dir):
        m = re.search(r"^savedcmd_(\S+) := (.*)$", text, re.M)
        if m and re.search(r"^source_\S+ := \S+\.c$", text, re.M) and " -c " in m.group(2):
            cmds.append(m.group(2))
    cmds = sorted(cmds)[:: max(1, len(cmds) // samples)][:samples]
    tmp = tempfile.mkdtemp(prefix="cost-model.")
    try:
        pre = comp = 0.0
        for c in cmds:
            # kbuild chains objtool and the like after the compile: " ; ".
            argv = shlex.split(c.split(" ; ")[0])
            argv = [("-Wp,-MMD," + tmp + "/x.d") if a.startswith("-Wp,-MMD,") else a for a in argv]
            i = argv.index("-o")
            full = argv[: i + 1] + [tmp + "/x.o"] + argv[i + 2:]
            e = [a for a in full if a != "-c"]
            e[e.index("-o") + 1] = "/dev/null"
            e.insert(1, "-E")
            for argv_, acc in ((e, "pre"), (full, "comp")):
                t0 = time.monotonic()
                r = subprocess.run(argv_, cwd=build_dir, capture_output=True)
                dt = time.monotonic() - t0
                if r.returncode != 0:
                    sys.exit(f"cost-model: {argv_[:3]}... failed: {r.stderr[-300:]!r}")
                if acc == "pre":
                    pre += dt
                else:
                    comp += dt
        print(f"preprocess share: {pre:.1f} s of -E against {comp:.1f} s of -c over {len(cmds)} objects: {pre / comp:.2f}")
        copy = os.path.join(tmp, "o")
        shutil.copytree(build_dir, copy, symlinks=True)
        src = os.path.realpath(os.path.join(build_dir, "source"))
        arch = re.search(r"^CONFIG_(X86|ARM64|ARM|RISCV|LOONGARCH|PPC|S390)=y", open(os.path.join(build_dir, ".config")).read(), re.M)
        arch = {"X86": "x86", "ARM64": "arm64", "ARM": "arm", "RISCV": "riscv", "LOONGARCH": "loongarch",
                "PPC": "powerpc", "S390": "s390"}[arch.group(1)]
        make = ["make", "-C", src, f"O={copy}", f"ARCH={arch}", "LLVM=-19", f"-j{os.cpu_count()}", "vmlinux"]
        # First bring the copy up to date with the source as it is now (the
        # shared source may be at another tree than the dir's last build).
        r = subprocess.run(make, capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"cost-model: make failed: {r.stderr[-500:]}")
        for f in os.listdir(copy):
            if f.startswith(("vmlinux", ".tmp_vmlinux")) and not f.endswith(".cmd"):
                p = os.path.join(copy, f)
                os.remove(p) if os.path.isfile(p) else shutil.rmtree(p)
        t0 = time.monotonic()
        r = subprocess.run(make, capture_output=True, text=True)
        dt = time.monotonic() - t0
        if r.returncode != 0:
            sys.exit(f"cost-model: relink failed: {r.stderr[-500:]}")
        rebuilt = len(re.findall(r"^\s+CC\s", r.stdout, re.M))
        print(f"link tail: {dt:.1f} s (make vmlinux after removing its outputs; {rebuilt} objects compiled on the way)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def wall(run):
    from datetime import datetime
    f = "%Y-%m-%dT%H:%M:%SZ"
    return (datetime.strptime(run["finished"], f) - datetime.strptime(run["started"], f)).total_seconds()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="*")
    ap.add_argument("--machines", default="1,2,4,8")
    ap.add_argument("--cores", default="2,16")
    ap.add_argument("--distcc-hosts", default="0,1,4")
    ap.add_argument("--link-secs", type=float, default=30.0)
    ap.add_argument("--preprocess-share", type=float, default=0.3)
    ap.add_argument("--distcc-overhead", type=float, default=1.0)
    ap.add_argument("--distcc-helper-cores", type=int,
                    help="cores of each distcc helper host (default: as many as the machine's, --cores)")
    ap.add_argument("--build-dir")
    ap.add_argument("--series")
    ap.add_argument("--feasible", metavar="LIST",
                    help="the matrix's feasible cells (`vmamatrix plan`): those the runs did not "
                         "measure take the median of the measured ones, stage by stage")
    ap.add_argument("--all-cells", type=int, default=28,
                    help="cells in the matrix; the refused ones cost their configure (default 28)")
    ap.add_argument("--check-shards", nargs="+", metavar="RUN")
    ap.add_argument("--shard-cores", type=int,
                    help="--check-shards: cores each shard had (default: this machine's, split between them)")
    ap.add_argument("--overhead", type=float,
                    help="--check-shards: per-run seconds outside the stages, added to each prediction")
    ap.add_argument("--measure", metavar="O_DIR")
    ap.add_argument("--samples", type=int, default=40)
    a = ap.parse_args()
    if a.measure:
        measure(os.path.abspath(a.measure), a.samples)
        return
    if a.check_shards:
        if len(a.check_shards) < 2:
            ap.error("--check-shards REF_RUN SHARD_RUN...: give the reference run and at least one shard run")
        # REF may name several runs, comma separated (later runs win), and
        # --feasible fills the cells they did not measure, as for predictions.
        t = timings(a.check_shards[0].split(","))
        if a.feasible:
            t = fill(t, a.feasible.split(","), a.all_cells)
        check_shards(t, a.check_shards[1:], a.link_secs, a.shard_cores, a.overhead)
        return
    if not a.runs:
        ap.error("give at least one run directory")
    t = timings(a.runs)
    if a.feasible:
        t = fill(t, a.feasible.split(","), a.all_cells)
    ms = [int(x) for x in a.machines.split(",")]
    cs = [int(x) for x in a.cores.split(",")]
    print(f"reference: {len(t)} cells, {sum(len(v) for v in t.values())} cell-trees from {', '.join(a.runs)}")
    print(f"parameters: link tail {a.link_secs:.0f} s, preprocess share {a.preprocess_share:.2f}, "
          f"distcc per-job factor {a.distcc_overhead:.2f}\n")
    print("| machines | " + " | ".join(f"{c} cores" for c in cs) + " |")
    print("|---" * (len(cs) + 1) + "|")
    for m in ms:
        print(f"| {m} | " + " | ".join(f"{matrix_wall(t, m, c, a.link_secs) / 60:.1f} min" for c in cs) + " |")
    hosts = [int(x) for x in a.distcc_hosts.split(",")]
    helper = "" if a.distcc_helper_cores is None else f", helpers {a.distcc_helper_cores}"
    print("\n| one machine + distcc helper hosts | " + " | ".join(f"{c} cores{helper}" for c in cs) + " |")
    print("|---" * (len(cs) + 1) + "|")
    for h in hosts:
        row = [matrix_wall(t, 1, c, a.link_secs,
                           (h, a.distcc_helper_cores or c, a.preprocess_share, a.distcc_overhead)) / 60
               for c in cs]
        print(f"| {h} | " + " | ".join(f"{x:.1f} min" for x in row) + " |")
    if a.build_dir and a.series:
        fr = rebuilt_fractions(a.build_dir, a.series)
        print(f"\n--per-patch: objects each patch makes kbuild rebuild ({a.build_dir}):")
        for name, hit, total in fr:
            print(f"  {name}: {hit}/{total}")
        share = [hit / max(1, total) for _, hit, total in fr]
        # The whole series at once (the patched tree of a plain run) rebuilds
        # at most the union, at least the largest patch's share.
        union = min(1.0, sum(share))
        print(f"  a plain run's patched build rebuilds about {max(share, default=0):.2f}-{union:.2f} of the objects; "
              f"--per-patch builds {len(fr) - 1} more trees, {sum(share):.2f} of a build in all")
        for c in cs:
            per = max(1, c // 4)
            j = max(1, c // per)
            add = 0.0
            for v in t.values():
                st = v.get("base", {})
                if "build" not in st:
                    continue
                secs, j0 = st["build"]
                other = sum(s for k, (s, _) in st.items() if k != "build")
                add += sum(build_secs(secs * f, j0, j, a.link_secs) for f in share[:-1]) + other * (len(fr) - 1)
            print(f"  {c} cores, one machine: at most +{add / per / 60:.0f} min over the plain run "
                  f"(intermediate trees: their rebuilt share, link tail, configure, measure, boot)")


if __name__ == "__main__":
    main()
