#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Draw the pre-copy figures of a tern-bench JSON file as SVG, or the N-VF
row of nvf.py's JSON.

Reads the "precopy" member of the JSON that `tern-bench --json` writes
(`make bench`: $out/bench.json) and writes two plots into OUTDIR (default:
the JSON file's directory):

  bench-convergence.svg  bytes pending at the start of each pre-copy pass
                         (PRECOPY_INFO initial_bytes + dirty_bytes), one line
                         per rewrite rate, log scale; the last point of each
                         line is the stop-copy phase (what read() returned
                         after STOP_COPY). The median repetition (by stop-copy
                         bytes) is drawn bold, the others faintly.
  bench-downtime.svg     stop-copy time and stop-copy bytes without and with
                         pre-copy per rewrite rate: median bars, min..max
                         whiskers, log scale, the median ratio with/without
                         above each pair.

From the JSON of tools/tern/nvf.py (`make bench`: $out/nvf/nvf.json):

  bench-nvf.svg          per consumer: QEMU's downtime against the number
                         of VFs migrated at once, without and with multifd
                         (median, min..max whiskers), the median VF's device
                         time inside it and mtty's downtime; and the ratio
                         with multifd / without against N beside the
                         published multifd series' (mlx5).

The files are deterministic: the same JSON and matplotlib version give the
same bytes (fixed SVG hash salt, no date, text kept as text). A JSON without
pre-copy data (BENCH_ONLY without precopy) gives no plots, exit status 0.

usage: plots.py BENCH_JSON|NVF_JSON [OUTDIR]
"""
import io
import json
import os
import statistics
import sys

try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator
except ImportError:
    sys.exit("plots.py: no matplotlib for " + sys.executable + ": Debian's "
             "python3-matplotlib (tools/rig/setup.sh installs it) is for "
             "/usr/bin/python3")

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
from table import reduction        # noqa: E402 (after the check above)

# the same bytes for the same input
matplotlib.rcParams.update({
    "svg.hashsalt": "tern-bench",
    "svg.fonttype": "none",         # text as <text>: small, diffable
    "font.size": 9,
})
METADATA = {"Date": None, "Creator": "tools/tern/plots.py"}
COLORS = ["tab:green", "tab:blue", "tab:red", "tab:purple", "tab:orange"]


def save(fig, path):
    """Write @fig as SVG to @path, without trailing blanks (matplotlib ends
    path data lines with one), and close it. Other formats as matplotlib
    writes them (plots.py itself only writes SVG)."""
    if path.endswith(".svg"):
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata=METADATA)
        with open(path, "w") as f:
            f.writelines(line.rstrip() + "\n"
                         for line in buf.getvalue().splitlines())
    else:
        fig.savefig(path)
    plt.close(fig)


def human_bytes(v, _pos=None):
    """Axis label for a byte count: 256 B, 4 KiB, 1 MiB ..."""
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if v >= size:
            return f"{v / size:g} {unit}"
    return f"{v:g} B"


def human_secs(v, _pos=None):
    """Axis label for a time: 100 µs, 10 ms, 1 s ..."""
    if v >= 1:
        return f"{v:g} s"
    if v >= 1e-3:
        return f"{v * 1e3:g} ms"
    return f"{v * 1e6:g} µs"


def median_rep(reps):
    """The repetition whose pre-copy stop-copy bytes are the median (the
    lower middle one for an even count; the first of equal ones)."""
    order = sorted(reps, key=lambda r: (r["with"]["stop_bytes"], r["rep"]))
    return order[(len(order) - 1) // 2]


def series(rep):
    """Pending bytes at each pass's start, then the stop-copy bytes."""
    m = rep["with"]
    ys = [p["initial_bytes"] + p["dirty_bytes"] for p in m["passes"]]
    return list(range(1, len(ys) + 2)), ys + [m["stop_bytes"]]


def bytes_axis(ax):
    """A log y axis of bytes, ticks at powers of 16: 4 KiB, 64 KiB, 1 MiB."""
    ax.set_yscale("log", base=2)
    ax.yaxis.set_major_locator(LogLocator(base=16))
    ax.yaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_major_formatter(FuncFormatter(human_bytes))


def convergence(data, path):
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    maxx = 1
    for i, rate in enumerate(data["precopy"]):
        color = COLORS[i % len(COLORS)]
        med = median_rep(rate["reps"])
        for rep in rate["reps"]:
            if rep is med:
                continue
            xs, ys = series(rep)
            ax.plot(xs, ys, color=color, alpha=0.25, linewidth=0.8)
        xs, ys = series(med)
        maxx = max(maxx, max(len(series(r)[0]) for r in rate["reps"]))
        # the passes solid, the step to the stop-copy phase dotted
        n = len(xs) - 1
        ax.plot(xs[:-1], ys[:-1], color=color, marker="o", markersize=3.5,
                linewidth=1.6,
                label=f"{rate['rewrite_pct']:g} %/s rewrite "
                      f"(bold: {n} pass{'es' if n != 1 else ''})")
        ax.plot(xs[-2:], ys[-2:], color=color, linestyle=":", linewidth=1.2)
        ax.plot(xs[-1:], ys[-1:], color=color, marker="s", markersize=5,
                markerfacecolor="white")
    bytes_axis(ax)
    ax.set_xticks(range(1, maxx + 1))
    ax.set_xlabel("pre-copy pass (hollow square: the stop-copy phase)")
    ax.set_ylabel("bytes pending at the pass's start; stop-copy bytes")
    ax.set_title(f"Pre-copy convergence, {data['devmem_mib']} MiB device "
                 f"memory\n{data['reps']} repetitions per rate, the median "
                 f"one bold")
    ax.grid(True, which="major", linewidth=0.3)
    ax.legend(loc="upper right", frameon=False)
    fig.tight_layout()
    save(fig, path)


def bars(ax, data, key, ylabel):
    """Median bars without / with pre-copy per rate, min..max whiskers."""
    rates = data["precopy"]
    width = 0.38
    for side, (mode, color) in enumerate((("without", "0.6"),
                                          ("with", "tab:blue"))):
        xs, med, lo, hi = [], [], [], []
        for i, rate in enumerate(rates):
            v = [r[mode][key] for r in rate["reps"]]
            m = statistics.median(v)
            xs.append(i + (side - 0.5) * width)
            med.append(m)
            lo.append(m - min(v))
            hi.append(max(v) - m)
        ax.bar(xs, med, width, color=color, yerr=[lo, hi], capsize=3,
               error_kw={"linewidth": 0.8},
               label=f"{mode} pre-copy")
    for i, rate in enumerate(rates):
        ratio = statistics.median(r["with"][key] / r["without"][key]
                                  for r in rate["reps"])
        top = max(max(r["with"][key], r["without"][key]) for r in rate["reps"])
        text = f"{ratio:.2g}"
        if ratio < 1:
            text += f"\n{reduction(ratio)} % less"
        ax.annotate(text, (i, top), xytext=(0, 4), textcoords="offset points",
                    ha="center", va="bottom", fontsize=7.5)
    if key == "stop_bytes":
        bytes_axis(ax)
    else:
        ax.set_yscale("log")
        ax.yaxis.set_minor_locator(NullLocator())
        ax.yaxis.set_major_formatter(FuncFormatter(human_secs))
    ax.set_xticks(range(len(rates)))
    ax.set_xticklabels([f"{r['rewrite_pct']:g} %/s" for r in rates])
    ax.set_xlabel("rewrite rate")
    ax.set_ylabel(ylabel)
    ax.margins(y=0.25)
    ax.grid(True, axis="y", linewidth=0.3)


def downtime(data, path):
    fig, (ax_t, ax_b) = plt.subplots(1, 2, figsize=(8.0, 4.0))
    bars(ax_t, data, "stop_s", "stop-copy time (STOP_COPY to dst RUNNING)")
    bars(ax_b, data, "stop_bytes", "stop-copy bytes")
    fig.legend(*ax_t.get_legend_handles_labels(), loc="lower center",
               ncol=2, frameon=False)
    fig.suptitle(f"Stop-copy without and with pre-copy, "
                 f"{data['devmem_mib']} MiB device memory\nbars: median, "
                 f"whiskers: min, max of {data['reps']} repetitions; "
                 f"above: median ratio with/without")
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    save(fig, path)


# The published multifd device-state series (QEMU 10.0, Maciej S.
# Szmigiero; 4x ConnectX-7 VFs, ~400 MiB of device state): downtime with
# multifd / without, 25 % less with 1 VF and 42 % less with 4, the
# endpoints issue 25 quotes; its shape, not its values, is what compares.
PUBLISHED_MULTIFD = [(1, 0.75), (4, 0.58)]


def nvf_consumer(ax_t, ax_r, c):
    """Downtime vs N (left) and multifd / without vs N (right)."""
    ns = sorted({p["n"] for p in c["points"]})
    for mf, color, label in ((0, "0.45", "without multifd"),
                             (1, "tab:blue", "with multifd")):
        pts = [p for p in c["points"] if bool(p["multifd"]) == bool(mf)]
        xs = [p["n"] for p in pts]
        med = [p["downtime_ms"]["median"] for p in pts]
        lo = [m - p["downtime_ms"]["min"] for m, p in zip(med, pts)]
        hi = [p["downtime_ms"]["max"] - m for m, p in zip(med, pts)]
        ax_t.errorbar(xs, med, yerr=[lo, hi], color=color, marker="o",
                      markersize=4, capsize=3, linewidth=1.4,
                      label=f"downtime, {label}")
        ax_t.plot(xs, [p["vf_ms"]["median"] for p in pts], color=color,
                  linestyle=":", marker="s", markersize=3,
                  label=f"one VF's device time, {label}")
    ax_t.axhline(c["mtty"]["downtime_ms"]["median"], color="tab:green",
                 linestyle="--", linewidth=1, label="mtty downtime")
    one = [p for p in c["points"] if p["n"] == 1 and p["multifd"]]
    if one:
        ax_t.axhline(2 * one[0]["downtime_ms"]["median"], color="tab:blue",
                     linestyle="-.", linewidth=0.8,
                     label="goal: 2 x one VF's downtime, multifd")
    ax_t.set_xticks(ns)
    ax_t.set_xlabel("VFs migrated at once (N)")
    ax_t.set_ylabel("ms")
    ax_t.set_ylim(bottom=0)
    ax_t.set_title(f"QEMU {c['qemu']}: downtime and device time")
    ax_t.grid(True, linewidth=0.3)
    ax_t.legend(loc="upper left", frameon=False, fontsize=7)

    pts = [p for p in c["points"] if p["multifd"] and p.get("multifd_per_off")]
    xs = [p["n"] for p in pts]
    med = [p["multifd_per_off"]["median"] for p in pts]
    lo = [m - p["multifd_per_off"]["min"] for m, p in zip(med, pts)]
    hi = [p["multifd_per_off"]["max"] - m for m, p in zip(med, pts)]
    ax_r.errorbar(xs, med, yerr=[lo, hi], color="tab:blue", marker="o",
                  markersize=4, capsize=3, label="tern (this run)")
    ax_r.plot([x for x, _ in PUBLISHED_MULTIFD],
              [y for _, y in PUBLISHED_MULTIFD], color="tab:red",
              linestyle="--", marker="D", markersize=4,
              label="published, mlx5 (1 and 4 VFs)")
    ax_r.axhline(1, color="0.3", linewidth=0.8)
    ax_r.set_xticks(ns)
    ax_r.set_xlabel("VFs migrated at once (N)")
    ax_r.set_ylabel("downtime with multifd / without")
    ax_r.set_ylim(bottom=0)
    ax_r.set_title("multifd's effect (below 1: it helps)")
    ax_r.grid(True, linewidth=0.3)
    ax_r.legend(loc="lower left", frameon=False, fontsize=7)


def nvf(data, path):
    consumers = data["nvf"]["consumers"]
    fig, axes = plt.subplots(len(consumers), 2, squeeze=False,
                             figsize=(9.0, 4.0 * len(consumers)))
    for row, c in zip(axes, consumers):
        nvf_consumer(row[0], row[1], c)
    reps = len(consumers[0]["mtty"]["reps"])
    fig.suptitle(f"Every VF of a PF at once: medians of {reps} repetitions "
                 f"after a warm-up, whiskers min..max")
    fig.tight_layout()
    save(fig, path)


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__.strip().splitlines()[-1])
    with open(sys.argv[1]) as f:
        data = json.load(f)
    outdir = sys.argv[2] if len(sys.argv) == 3 else \
        os.path.dirname(os.path.abspath(sys.argv[1]))
    os.makedirs(outdir, exist_ok=True)
    if data.get("nvf"):
        path = os.path.join(outdir, "bench-nvf.svg")
        nvf(data, path)
        print(f"plots.py: wrote {path}")
        return
    if not data.get("precopy"):
        print(f"plots.py: {sys.argv[1]} has no pre-copy data: no plots")
        return
    for name, draw in (("bench-convergence.svg", convergence),
                       ("bench-downtime.svg", downtime)):
        path = os.path.join(outdir, name)
        draw(data, path)
        print(f"plots.py: wrote {path}")


if __name__ == "__main__":
    main()
