#!/usr/bin/env bash
# Installs what is missing, builds, and runs the bundled example with an
# embedded SQLite database (build/demo/crm.db): the main job (sync, score,
# alert) as of two dates of the real Online Retail sample, with the console
# channel writing to build/demo/alerts.txt and red alerts also e-mailed to a
# local SMTP sink (aiosmtpd on 127.0.0.1:8025, Maildir build/demo/maildir);
# then a customer's alert history from yellow to red, the open alerts, and
# the riskiest customer explained, and the lost customers worked through a
# win-back playbook.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$CRM_ROOT"

CRM_PACKAGES+=(python3-aiosmtpd)  # the SMTP sink the e-mail channel delivers to
crm_install_dependencies
echo "building (this takes a minute or two the first time)..."
crm_build build
mkdir -p build/demo
rm -rf build/demo/crm.db* build/demo/alerts.txt build/demo/maildir
mkdir -p build/demo/maildir/{tmp,new,cur}
# The local SMTP sink for the e-mail channel; without it, e-mails wait in the outbox.
smtp_port=8025
if /usr/bin/python3 -c "import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(('127.0.0.1', $smtp_port)) == 0)"; then
  /usr/bin/python3 -m aiosmtpd -n -l "127.0.0.1:$smtp_port" -c aiosmtpd.handlers.Mailbox build/demo/maildir &
  smtp_pid=$!
  trap 'kill $smtp_pid 2>/dev/null || true' EXIT
  for _ in $(seq 50); do
    /usr/bin/python3 -c "import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(('127.0.0.1', $smtp_port)))" && break
    sleep 0.1
  done
else
  echo "port $smtp_port is taken: the demo's e-mails will wait in the outbox (crmhost alerts outbox)"
fi
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

# Win-back: who was lost, why (rules on the evidence; a person may confirm), and the campaign.
crmhost churn list
lost=$(sqlite3 build/demo/crm.db "SELECT customer_id FROM lost_customers WHERE recovered_ms IS NULL ORDER BY customer_id LIMIT 1")
if [[ -n "$lost" ]]; then
  # The account manager records the 5 Why chain; root causes group the chains that end alike.
  crmhost churn why "$lost" "They stopped ordering after the spring price list"
  crmhost churn why "$lost" "The price list was raised for every account at once, without a call"
  crmhost churn causes
fi
crmhost campaigns tasks
crmhost campaigns list
crmhost campaigns report 1

# What the SMTP sink received: the red alerts, as RFC 5322 mail with Chinese subjects.
mails=$(find build/demo/maildir/new -type f | wc -l)
echo
echo "the local SMTP sink received $mails e-mail(s) in build/demo/maildir; the first one:"
first=$(find build/demo/maildir/new -type f | sort | head -1)
if [[ -n "$first" ]]; then
  /usr/bin/python3 - "$first" <<'PY'
import email, email.header, email.policy, sys
message = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.default)
for name in ("From", "To", "Subject", "Date", "Message-ID"):
    print(f"  {name}: {message[name]}")
print("  " + message.get_body(("plain",)).get_content().strip().replace("\n", "\n  "))
PY
fi

# The web app on the same store: people sign in with a name and a password.
# (The demo's passwords are printed here; a real deployment asks for them:
# `crmhost users add NAME --role ROLE` prompts twice without echo.)
echo "demo-director" | crmhost users add director --role cs_director --display-name "Dana Director" \
  --time-zone Asia/Shanghai --password-stdin
echo "demo-manager" | crmhost users add manager --role account_manager --display-name "Ming Manager" \
  --language zh-CN --time-zone Asia/Shanghai --owner am@example.test --password-stdin
cat <<TEXT

The web app on the demo data (crmhost serve runs until Ctrl-C):
  build/bin/crmhost --config examples/demo/crmhost.json serve --listen 127.0.0.1:8080
then open http://127.0.0.1:8080/ and sign in as director (password demo-director),
a CS director who may do everything but administer, or as manager (password demo-manager),
an account manager who reads Chinese and may not change why a customer left.
TEXT
