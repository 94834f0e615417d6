#!/usr/bin/env bash
# Installs what is missing, builds, and runs the main job on the bundled
# example with an embedded SQLite database (build/demo/crm.db).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$CRM_ROOT"

crm_install_dependencies
echo "building (this takes a minute or two the first time)..."
crm_build build
mkdir -p build/demo
echo
echo "\$ crmhost --config examples/demo/crmhost.json run --db build/demo/crm.db"
build/bin/crmhost --config examples/demo/crmhost.json run --db build/demo/crm.db "$@"
