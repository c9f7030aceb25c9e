#!/usr/bin/python3
"""scale_table.py: the final table of bench/scale.sh, in Markdown, from the
"ROW {...}" and "PY {...}" lines it wrote (one or more results files, so runs
made separately can be put in one table)."""
import json
import sys

STAGES = ("extract", "preprocess", "train", "evaluate", "load_model")
rows, py = [], {}
for path in sys.argv[1:]:
    for line in open(path):
        if line.startswith("ROW "):
            rows.append(json.loads(line[4:]))
        elif line.startswith("PY "):
            p = json.loads(line[3:])
            py[p["rows"]] = p
print("| source | state | end to end s | " + " | ".join(s + " s" for s in STAGES) +
      " | attempts per task (max) | broker RssAnon MiB | largest worker RssAnon MiB"
      " | largest TASK B | largest RESULT B |")
print("|" + " --- |" * (8 + len(STAGES)))
for r in rows:
    st = " | ".join("%.1f" % r["stages"][s] if s in r["stages"] else "-" for s in STAGES)
    print("| %s | %s | %.1f | %s | %d | %.0f | %.0f | %d | %d |" % (
        r["source"], r["state"], r["e2e"], st, r["attempts"], r["broker"], r["worker"],
        r["task"], r["result"]))
if py:
    ours = {int(r["source"].rsplit("-", 1)[1]): r["e2e"] for r in rows
            if r["source"].startswith("titanic-csv-")}
    print("\n| Titanic CSV rows | Python reference process s | its pipeline s | ours end to end s | Python / ours |")
    print("| --- | --- | --- | --- | --- |")
    for n, p in sorted(py.items()):
        o = ours.get(n)
        print("| %d | %.1f | %.1f | %s | %s |" % (n, p["process"], p["pipeline"],
              "%.1f" % o if o else "not run", "%.1f x" % (p["process"] / o) if o else "-"))
