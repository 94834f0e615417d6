#!/usr/bin/env bash
# The Telco row of README.md's quality table: imports the IBM Telco file into a fresh store as
# customer attributes (examples/telco/telco.json), runs crmhost's 5-fold stratified
# cross-validation and, on the same folds (crmhost exports them), the scikit-learn peer:
# LogisticRegression with one-hot categoricals and standardised numerics. Prints both, and the
# difference of the learned scorer's ROC-AUC to the peer's. Needs build/bin/crmhost and
# /usr/bin/python3 with python3-sklearn and python3-pandas.
#   bench/telco_cv.sh
set -euo pipefail
cd "$(dirname "$0")/.."
crmhost=build/bin/crmhost
config=examples/telco/telco.json
data=../shared/data/telco/Telco-Customer-Churn.csv
mkdir -p build/telco
rm -f build/telco/telco.db build/telco/telco.db-wal build/telco/telco.db-shm
"$crmhost" --config "$config" sync
"$crmhost" --config "$config" backtest --folds 5 --label churned --folds-out build/telco/folds.csv --json \
  > build/telco/cv.json
"$crmhost" --config "$config" backtest --folds 5 --label churned
/usr/bin/python3 bench/telco_peer.py "$data" build/telco/folds.csv
/usr/bin/python3 bench/telco_peer.py "$data" build/telco/folds.csv --json > build/telco/peer.json
/usr/bin/python3 - build/telco/cv.json build/telco/peer.json <<'PY'
import json, sys
cv = json.load(open(sys.argv[1]))
peer = json.load(open(sys.argv[2]))
logit = next(row for row in cv["scorers"] if row["scorer"] == "scorer_logit")
for what in ("mean_roc_auc", "pooled_roc_auc"):
    diff = logit[what] - peer[what]
    print(f"scorer_logit {what} {logit[what]:.4f} vs peer {peer[what]:.4f}: {diff:+.4f} "
          f"({'at least the peer' if diff >= 0 else 'below the peer'})")
PY
