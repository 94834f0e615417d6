#!/usr/bin/env bash
# Installs what is missing, builds, and runs the bundled example with an
# embedded SQLite database (build/demo/crm.db): the main job (sync), then
# churn detection on the real Online Retail sample: train the learning
# scorers, score as of two dates, and explain the riskiest customer.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$CRM_ROOT"

crm_install_dependencies
echo "building (this takes a minute or two the first time)..."
crm_build build
mkdir -p build/demo
rm -f build/demo/crm.db*
crmhost() {
  echo
  echo "\$ crmhost --config examples/demo/crmhost.json $*"
  build/bin/crmhost --config examples/demo/crmhost.json "$@"
}
crmhost run --db build/demo/crm.db
crmhost train --db build/demo/crm.db --as-of 2011-09-10 --horizon 90
crmhost score --db build/demo/crm.db --as-of 2011-06-01
crmhost score --db build/demo/crm.db --as-of 2011-09-10
riskiest=$(sqlite3 build/demo/crm.db \
  "SELECT customer_id FROM customer_scores WHERE run_id = (SELECT max(id) FROM score_runs) AND score IS NOT NULL
   ORDER BY score, customer_id LIMIT 1")
crmhost explain --db build/demo/crm.db "$riskiest"
