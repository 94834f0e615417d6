#!/usr/bin/env bash
# The quality table of README.md: backtests of every scorer and of the score that decides the
# bands on Online Retail and CDNOW at the listed dates and at others, with the calibrated churn
# probability's Brier score and each band's churned share. Needs build/bin/crmhost and the data
# of ../shared/data; imports each data set once into build/backtest/.
#   bench/band_quality.sh              every row, with warnings
#   bench/band_quality.sh --markdown   and the rows of the table
set -euo pipefail
cd "$(dirname "$0")/.."
crmhost=build/bin/crmhost
mkdir -p build/backtest
if [[ ! -s build/backtest/online_retail.csv ]]; then
  gzip -dc ../shared/data/online_retail/online_retail_2010-12_2011-12.csv.gz > build/backtest/online_retail.csv
fi
for data in online_retail cdnow; do
  if [[ ! -s build/backtest/$data.db ]]; then
    "$crmhost" --config examples/backtest/$data.json sync > /dev/null
  fi
done
rows=(
  "online_retail 2011-09-10 90" "online_retail 2011-06-01 90" "cdnow 1998-01-01 180"
  "online_retail 2011-07-15 90" "online_retail 2011-08-01 90" "online_retail 2011-04-01 90"
  "online_retail 2011-07-31 60" "online_retail 2011-09-30 30"
  "cdnow 1997-12-01 180" "cdnow 1997-10-01 180" "cdnow 1997-12-01 90" "cdnow 1998-03-03 60"
)
for row in "${rows[@]}"; do
  read -r data date horizon <<< "$row"
  "$crmhost" --config examples/backtest/$data.json backtest --as-of "$date" --horizon "$horizon" --lead-step 0 --json \
    2> /dev/null | python3 bench/band_quality_row.py "$data" "$date" "$horizon" "${1:-}"
done
