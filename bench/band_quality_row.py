#!/usr/bin/env python3
"""One line of README.md's quality table from `crmhost backtest --json` on stdin."""
import json
import sys

data, date, horizon = sys.argv[1:4]
report = json.load(sys.stdin)
rows = {row["scorer"]: row for row in report["scorers"]}
bands = rows["bands"]
singles = {k: v["roc_auc"] for k, v in rows.items()
           if k not in ("bands", "baseline_recency", bands["band_scorer"]) and v["roc_auc"] is not None}
best = max(singles.values())
recency = rows["baseline_recency"]["roc_auc"]
ok = bands["roc_auc"] >= best - 0.01 and bands["roc_auc"] >= recency
cells = " ".join(f"{k}={v:.3f}" for k, v in sorted(singles.items()))
precision = " ".join(
    f"{b['band']}:{b['customers']}/{(b['precision'] if b['precision'] is not None else float('nan')):.2f}"
    for b in bands["bands"])
probability = bands["churn_probability"]
print(f"{data} {date} H={horizon}: customers={bands['customers']} churned={bands['churned']} "
      f"recency={recency:.3f} {cells} bands={bands['roc_auc']:.3f} ({'ok' if ok else 'BELOW'}) "
      f"brier={probability['brier'] if probability['brier'] is not None else float('nan'):.4f} "
      f"acc@red={bands['accuracy_at_red']:.3f} bands(n/churned share)={precision}")
for scorer, row in rows.items():
    for warning in row.get("warnings", []):
        print(f"   {scorer}: {warning}")
if len(sys.argv) > 4 and sys.argv[4] == "--markdown":
    def cell(scorer):
        row = rows[scorer]
        return f"{row['roc_auc']:.3f} ({row['precision_top10']:.2f})"
    shares = " / ".join(f"{b['precision']:.2f}" if b["precision"] is not None else "-" for b in bands["bands"])
    print(f"| {data}, {date}, {horizon} | {recency:.3f} | {cell('scorer_logit')} | {cell('scorer_rfm')} | "
          f"{cell('scorer_bgnbd')} | **{bands['roc_auc']:.3f}** ({bands['precision_top10']:.2f}) | "
          f"{probability['brier']:.3f} | {bands['accuracy_at_red']:.2f} | {shares} |")
