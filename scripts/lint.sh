#!/usr/bin/env bash
# Formatting (.clang-format) and static checks (.clang-tidy) of project code.
#   scripts/lint.sh          check; exits non-zero on any finding
#   scripts/lint.sh --fix    rewrite the formatting in place
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$CRM_ROOT"
crm_install_dependencies lint

mapfile -t sources < <(git ls-files '*.c' '*.h' '*.cpp' '*.hpp')
if [[ "${1:-}" == "--fix" ]]; then
  clang-format -i "${sources[@]}"
  exit 0
fi
clang-format --dry-run -Werror "${sources[@]}"
crm_build build
mapfile -t checked < <(git ls-files 'host/*.cpp' 'plugins/*.cpp' 'connectors/*.cpp' 'plugin_support/*.cpp' | grep -v '_test\.cpp$')
for file in "${checked[@]}"; do
  clang-tidy -p build --quiet "$file" 2>/dev/null
done
echo "lint: ${#sources[@]} files formatted, ${#checked[@]} checked by clang-tidy"
