#!/usr/bin/env python3
"""Markdown table of one or more sweep directories (their sweep.json, docs/sweep.md).

usage: sweep_table.py [--compare] SWEEP_DIR...
Per setting: the validation metric (mean ± std over seeds, 95 % interval, n); the selected
setting (best validation mean) is marked and only its test metric is shown: the test split
is read once, for the setting the validation split chose.
--compare: the grid is the variable under study (methods, fractions), not a hyper-parameter
to tune, so every setting is a result of its own and its test metric is shown.
"""
import json
import sys


def cell(m):
    if m is None:
        return "-"
    ci = m.get("ci95")
    # One seed has no spread: the sweep writes its interval as [null, null].
    ci = f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci and None not in ci else ""
    std = f" ± {m['std']:.2f}" if m.get("std") is not None else ""
    return f"{m['mean']:.2f}{std}{ci} (n={m['n']})"


def main():
    args = sys.argv[1:]
    compare = "--compare" in args
    for d in [a for a in args if a != "--compare"]:
        s = json.load(open(f"{d}/sweep.json"))
        sel, test = s["select"]["metric"], s["select"]["test_metric"]
        best = s.get("best", {}).get("setting")
        commits = s["commits"]
        print(f"\n**{d.rstrip('/').split('/')[-1]}**: `{s['command']} {s['target']}` with "
              f"{' '.join(s.get('args', []) + ['--set ' + x for x in s['set']])}; seeds {s['seeds']}; "
              f"commit{'s' if len(commits) > 1 else ''} {', '.join('`' + c[:7] + '`' for c in commits)}"
              f"{' (MIXED: do not compare)' if s.get('mixed_commits') else ''}\n")
        print(f"| setting | {sel} | {test}{'' if compare else ' (selected setting only)'} |")
        print("|---|---|---|")
        for st in s["settings"]:
            name = ", ".join(f"{k}={v}" for k, v in st["overrides"].items()) or "(config)"
            chosen = st["id"] == best
            t = cell(st["metrics"].get(test)) if chosen or compare else ""
            mark = "**" if chosen else ""
            print(f"| {mark}{st['id']}: {name}{mark} | {cell(st['metrics'].get(sel))} | {t} |")


if __name__ == "__main__":
    main()
