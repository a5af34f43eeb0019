"""Summaries and the results files every bench writes: median, p90 and
max of each side, and ours/peer as a ratio (the figure that survives a
noisy machine)."""
import datetime
import json
import statistics
from pathlib import Path

OUT = Path("bench-results")


def percentile(ordered, fraction):
    return ordered[min(len(ordered) - 1,
                       max(0, int(round(fraction * len(ordered))) - 1))]


def summary(values):
    """None in ``values`` is a miss: counted, never averaged in."""
    got = sorted(v for v in values if v is not None)
    if not got:
        return {"n": 0, "missed": len(values)}
    return {"n": len(got), "missed": len(values) - len(got),
            "median": statistics.median(got),
            "p90": percentile(got, 0.9), "max": got[-1]}


def comparison_table(title, unit, results, ratio="ours/peer"):
    """Markdown for {name: [values]}, ours first, the peer second."""
    stats = {name: summary(values) for name, values in results.items()}
    lines = ["| %s | n | missed | median %s | p90 %s | max %s |"
             % (title, unit, unit, unit), "|---|---|---|---|---|---|"]
    for name, s in stats.items():
        lines.append("| %s | %d | %d | %s | %s | %s |" % (
            name, s["n"], s["missed"], *("%.3f" % s[k] if k in s else "-"
                                         for k in ("median", "p90", "max"))))
    ours, theirs = (list(stats.values()) + [{}, {}])[:2]
    if "median" in ours and "median" in theirs:
        lines.append("| ratio %s | | | %s |" % (ratio, " | ".join(
            "%.2f" % (ours[k] / theirs[k]) if theirs[k] else "-"
            for k in ("median", "p90", "max"))))
    return "\n".join(lines), stats


def write(name, markdown, data):
    """bench-results/<name>-<time>.md and .json; returns the .md path."""
    OUT.mkdir(exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    md = OUT / ("%s-%s.md" % (name, stamp))
    md.write_text(markdown + "\n")
    md.with_suffix(".json").write_text(json.dumps(data, indent=2))
    return md
