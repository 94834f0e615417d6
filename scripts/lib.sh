# Shared by demo.sh and test.sh: install what is missing, configure, build.
# Sourced, not run.

CRM_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Debian 12 packages, by what needs them. Checked one by one so a machine that
# has them all runs no apt-get at all. Every program a test or a benchmark
# starts is listed here: a test whose program is missing fails naming its
# package (tests/support/required_program.hpp), it never skips.
CRM_PACKAGES=(
  build-essential cmake pkg-config git ca-certificates
  libboost-dev libboost-filesystem-dev
  libcpprest-dev
  libsqlite3-dev sqlite3
  libfmt-dev nlohmann-json3-dev libcli11-dev
  libcurl4-openssl-dev libssl-dev libgmime-3.0-dev
  libpq-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  python3
  json-schema-test-suite
  python3-jsonschema  # tests/api: the OpenAPI lint and the API tests' response validation
  python3-cryptography  # tests/doubles/wecom_double.py: AES of WeCom's encrypted callbacks
  prometheus  # promtool: the metrics test checks /metrics' text format
  clang-format
  tzdata
)
# The real servers the tests start on loopback (../shared/test-servers.md):
# SMTP for alert_email and the demo, IMAP for email_imap, Tryton for erp_tryton,
# PostgreSQL for the store's second backend.
CRM_TEST_SERVER_PACKAGES=(
  postgresql-15
  python3-aiosmtpd
  dovecot-imapd
  tryton-server tryton-modules-party tryton-modules-sale
  # tests/web: the web app in a real headless browser; CJK fonts so Chinese pages render in screenshots.
  chromium chromium-driver python3-selenium fonts-noto-cjk
)
# What bench/*.sh and bench/*.py use beyond the build: the peers they are
# measured against and the tools that time them.
CRM_BENCH_PACKAGES=(
  bc
  python3-numpy python3-sklearn python3-pandas
  wrk nginx-light curl
)
# scripts/lint.sh
CRM_LINT_PACKAGES=(clang-tidy)

# crm_install_dependencies [test-servers] [bench] [lint]
# Installs CRM_PACKAGES (with whatever a script appended to it) and the named
# groups.
crm_install_dependencies() {
  local wanted=("${CRM_PACKAGES[@]}") group
  for group in "$@"; do
    case "$group" in
      test-servers) wanted+=("${CRM_TEST_SERVER_PACKAGES[@]}") ;;
      bench) wanted+=("${CRM_BENCH_PACKAGES[@]}") ;;
      lint) wanted+=("${CRM_LINT_PACKAGES[@]}") ;;
      *)
        echo "crm_install_dependencies: unknown group $group" >&2
        return 2
        ;;
    esac
  done
  # The web app's front-end libraries come from npm (host/web/package-lock.json):
  # Debian's npm, unless an npm is already installed.
  if ! command -v npm >/dev/null 2>&1; then
    wanted+=(nodejs npm)
  fi
  local missing=() package
  for package in "${wanted[@]}"; do
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
  # The servers among them (dovecot, trytond) are started by each test on its
  # own port; installing them must not start system daemons as well, so
  # invoke-rc.d is told no (policy-rc.d exit 101) for the install, unless the
  # machine already has a policy of its own.
  local policy=/usr/sbin/policy-rc.d added_policy=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
    $sudo chmod 755 "$policy"
    added_policy=1
  fi
  local status=0
  $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || status=$?
  if ((added_policy)); then
    $sudo rm -f "$policy"
  fi
  if ((status != 0)); then
    echo "could not install: ${missing[*]} (apt-get exit $status)" >&2
    return "$status"
  fi
}

# crm_build BUILD_DIR [cmake options...]
crm_build() {
  local build_dir="$1"
  shift
  crm_web_dependencies
  cmake -S "$CRM_ROOT" -B "$build_dir" -DCMAKE_BUILD_TYPE="${CRM_BUILD_TYPE:-RelWithDebInfo}" "$@" >/dev/null
  cmake --build "$build_dir" -j "$(nproc)" -- --no-print-directory >/dev/null
}

# The web app's npm packages at the versions host/web/package-lock.json pins
# (uPlot, embedded into crmhost; axe-core, injected by tests/web). `npm ci` only
# when node_modules is missing or older than the lock file; offline afterwards.
crm_web_dependencies() {
  local web="$CRM_ROOT/host/web"
  if [[ ! -d $web/node_modules || $web/package-lock.json -nt $web/node_modules/.package-lock.json ]]; then
    echo "installing the web app's npm packages (npm ci in host/web)..."
    # npm trusts the system's certificate store, as apt and curl do, so that a
    # machine behind a TLS-inspecting proxy whose CA is installed system-wide
    # (update-ca-certificates) reaches the registry; package-lock.json's
    # sha512 integrity still checks every package.
    local ca_options=()
    if [[ -s /etc/ssl/certs/ca-certificates.crt ]]; then
      ca_options=(--cafile /etc/ssl/certs/ca-certificates.crt)
    fi
    (cd "$web" && npm ci --ignore-scripts --no-audit --no-fund "${ca_options[@]}" >/dev/null)
  fi
}

# crm_environment_words VARIABLE ARRAY: splits $VARIABLE ("NAME=value ...", for env) into ARRAY,
# refusing a word that is not NAME=value (env would run it as the command), and says what it used.
crm_environment_words() {
  local -n words="$2"
  words=()
  [[ -n "${!1:-}" ]] || return 0
  read -r -a words <<<"${!1}"
  local word
  for word in "${words[@]}"; do
    [[ $word == ?*=* ]] || { echo "$1: '$word' is not NAME=value" >&2; exit 2; }
  done
  echo "$1: ${!1}" >&2
}
