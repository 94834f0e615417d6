// crm_winback_bench: win-back campaigns at scale. A store of N lost customers
// (default 100,000: each with an e-mail contact, two years of orders, a
// reason and a value), then, timed separately:
//   enrol    every eligible lost customer into the campaign of its playbook
//            (hashed holdout, offer-cost check), one transaction;
//   advance  one step of every enrolment: the first message of the playbook,
//            queued in the outbox with its idempotency key and the step
//            recorded, in transactions of 2,000.
// Prints enrolments/s and steps/s. Run by bench/winback_bench.sh.
#include <CLI/CLI.hpp>
#include <chrono>
#include <fmt/format.h>
#include <iostream>

#include "core/huge_page_heap.hpp"
#include "store/store.hpp"
#include "support/sync_harness.hpp"
#include "support/test_host.hpp"
#include "winback/campaigns.hpp"

namespace {

using namespace crm::host;  // NOLINT(google-build-using-namespace): a benchmark driver

constexpr std::int64_t kDay = 86'400'000;

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void generate(Store& store, std::int64_t customers, std::int64_t now_ms) {
  Database& db = store.database();
  Transaction transaction(db);
  Statement customer = db.prepare("INSERT INTO customers(id, source, external_id, name) VALUES (?1, 'erp', ?1, ?2)");
  Statement contact = db.prepare(
      "INSERT INTO contacts(source, external_id, customer_id, email, owner, is_key_contact) VALUES ('erp', ?1, ?1, "
      "?2, 'am@example.test', 1)");
  Statement order = db.prepare(
      "INSERT INTO orders(source, external_id, customer_id, ordered_at_ms, amount, status) VALUES ('erp', ?1, ?2, ?3, "
      "120, 'confirmed')");
  Statement lost = db.prepare(
      "INSERT INTO lost_customers(customer_id, churn_date_ms, detected_ms, method, evidence, reason, reason_source, "
      "expected_value, abc_class, eligible) VALUES (?1, ?2, ?3, 'silence', '{}', ?4, 'rule', 900, 'B', 1)");
  const char* reasons[] = {"left_dissatisfied", "attracted_away", "other"};
  for (std::int64_t id = 1; id <= customers; ++id) {
    customer.bind(1, id).bind(2, fmt::format("Customer {}", id)).run();
    contact.bind(1, id).bind(2, fmt::format("buyer{}@example.test", id)).run();
    for (int k = 0; k < 2; ++k) {
      order.bind(1, fmt::format("{}-{}", id, k)).bind(2, id).bind(3, now_ms - (700 - k * 300) * kDay).run();
    }
    lost.bind(1, id).bind(2, now_ms - 100 * kDay).bind(3, now_ms).bind(4, std::string_view(reasons[id % 3])).run();
  }
  transaction.commit();
}

}  // namespace

int main(int argc, char** argv) {
  crm::host::restart_with_huge_page_heap(argv);
  CLI::App app{"Win-back campaigns: enrolment and one step for N lost customers, on SQLite"};
  std::int64_t customers = 100'000;
  app.add_option("--customers", customers, "Lost customers");
  CLI11_PARSE(app, argc, argv);

  testing::TempDir dir("winback-bench");
  Store store((dir / "crm.db").string());
  testing::TestHost host;
  generate(store, customers, host.clock().now_ms());
  WinbackSettings settings;
  settings.playbooks = default_playbooks("alert_console");
  // The built-in playbooks open with a task; here they open with a message, the costlier step.
  for (Playbook& playbook : settings.playbooks) {
    playbook.steps.insert(playbook.steps.begin(),
                          {.kind = "message", .channel = "alert_console", .text = "{name}: we would like you back"});
  }
  CampaignEngine engine(store, host.logger(), host.clock(), settings);

  auto start = std::chrono::steady_clock::now();
  const CampaignPass enrolled = engine.enrol();
  const double enrol_seconds = seconds_since(start);
  start = std::chrono::steady_clock::now();
  const CampaignPass advanced = engine.advance();
  const double advance_seconds = seconds_since(start);
  const std::size_t total = enrolled.enrolled + enrolled.holdout;
  std::cout << fmt::format(
      "{} lost customers: enrol {:.3f} s ({:.0f} enrolments/s; {} treated, {} holdout); advance one step {:.3f} s "
      "({:.0f} steps/s; {} messages queued)\n",
      customers, enrol_seconds, static_cast<double>(total) / enrol_seconds, enrolled.enrolled, enrolled.holdout,
      advance_seconds, static_cast<double>(advanced.steps) / advance_seconds, advanced.messages);
  return advanced.steps == enrolled.enrolled && advanced.messages == enrolled.enrolled ? 0 : 1;
}
