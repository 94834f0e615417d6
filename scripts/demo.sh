#!/usr/bin/env bash
# Installs what is missing, builds, and runs the bundled example with an
# embedded SQLite database (build/demo/crm.db): the main job (sync, score,
# alert) as of two dates of the real Online Retail sample, with the console
# channel writing to build/demo/alerts.txt; then a customer's alert history
# from yellow to red, the open alerts, and the riskiest customer explained.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$CRM_ROOT"

crm_install_dependencies
echo "building (this takes a minute or two the first time)..."
crm_build build
mkdir -p build/demo
rm -f build/demo/crm.db* build/demo/alerts.txt
crmhost() {
  echo
  echo "\$ crmhost --config examples/demo/crmhost.json $*"
  build/bin/crmhost --config examples/demo/crmhost.json --log-level warn "$@"
}
crmhost run --as-of 2011-06-01
crmhost train --as-of 2011-06-01 --horizon 90
crmhost run --as-of 2011-09-10
crmhost run --as-of 2011-09-10  # again: nothing new is sent

# A customer who went from yellow to red between the two dates.
customer=$(sqlite3 build/demo/crm.db "SELECT a.customer_id FROM alerts a JOIN outbox o ON o.alert_id = a.id
  WHERE a.reason = 'band' AND a.level = 'red' AND o.notification LIKE '%\"event\":\"escalated\"%'
  AND EXISTS (SELECT 1 FROM outbox f WHERE f.alert_id = a.id AND f.notification LIKE '%\"level\":\"yellow\"%')
  ORDER BY a.customer_id LIMIT 1")
if [[ -n "$customer" ]]; then
  echo
  echo "customer $customer went from yellow to red; what the console channel delivered (build/demo/alerts.txt):"
  grep -A4 "customer $customer: health" build/demo/alerts.txt | grep -v '^--$' || true
  crmhost explain "$customer"
fi
crmhost alerts list --state open | tail -5
