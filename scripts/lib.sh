# Shared by demo.sh and test.sh: install what is missing, configure, build.
# Sourced, not run.

CRM_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Debian 12 packages the build and the tests need. Checked one by one so a
# machine that has them all runs no apt-get at all.
CRM_PACKAGES=(
  build-essential cmake pkg-config git
  libboost-dev libboost-filesystem-dev
  libcpprest-dev
  libsqlite3-dev sqlite3
  libfmt-dev nlohmann-json3-dev libcli11-dev
  libcurl4-openssl-dev libssl-dev libgmime-3.0-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  python3 python3-aiosmtpd
  json-schema-test-suite
  clang-format
)

crm_install_dependencies() {
  local missing=() package
  for package in "${CRM_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$package")
    fi
  done
  if ((${#missing[@]} == 0)); then
    return 0
  fi
  echo "installing missing packages: ${missing[*]}"
  local sudo=""
  if [[ "$(id -u)" -ne 0 ]]; then
    sudo="sudo"
  fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# crm_build BUILD_DIR [cmake options...]
crm_build() {
  local build_dir="$1"
  shift
  cmake -S "$CRM_ROOT" -B "$build_dir" -DCMAKE_BUILD_TYPE="${CRM_BUILD_TYPE:-RelWithDebInfo}" "$@" >/dev/null
  cmake --build "$build_dir" -j "$(nproc)" -- --no-print-directory >/dev/null
}
