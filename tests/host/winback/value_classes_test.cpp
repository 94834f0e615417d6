// One ABC computation and one configuration: the crmhost binary scores a store
// (scorer_rfm's abc_class) and detects lost customers (win-back's abc_class)
// with the host's value_classes section; both places give every lost customer
// the same class, with the default shares and with changed ones.
#include <cstdlib>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <gtest/gtest.h>
#include <string>
#include <sys/wait.h>

#include "core/dates.hpp"
#include "store/store.hpp"
#include "support/sync_harness.hpp"
#include "support/test_database.hpp"
#include "support/text_files.hpp"

namespace crm::host {
namespace {

namespace fs = std::filesystem;
constexpr std::int64_t kDay = 86'400'000;
constexpr std::int64_t kStart = 19'358 * kDay;  // 2023-01-01
constexpr int kAsOfDay = 330;                   // every order falls in the scorer's 365-day window

class ValueClassesCli : public ::testing::Test {
 protected:
  ValueClassesCli() : dir_("value-classes-cli") {
    Store store(testing::store_locator(dir_ / "crm.db"));
    Database& db = store.database();
    Transaction transaction(db);
    // 30 customers buying weekly, each spending a different amount; 1-20 stop at day 200 (lost).
    for (int customer = 1; customer <= 30; ++customer) {
      db.exec(fmt::format("INSERT INTO customers(id, source, external_id, unified_id) VALUES ({0}, 'erp', 'C{0}', {0})",
                          customer));
      for (int day = customer % 7; day < (customer <= 20 ? 200 : kAsOfDay); day += 7) {
        db.exec(fmt::format(
            "INSERT INTO orders(source, external_id, customer_id, ordered_at_ms, amount, status) VALUES ('erp', "
            "'O{0}-{1}', {0}, {2}, {3}, 'confirmed')",
            customer, day, kStart + day * kDay, 10 * customer * customer));
      }
    }
    transaction.commit();
  }

  // Runs `score` and `churn detect` as of the same date with this value_classes section.
  void score_and_detect(const std::string& value_classes) {
    const fs::path config = dir_ / "crmhost.json";
    std::ofstream(config) << fmt::format(R"({{"value_classes": {}}})", value_classes);
    const std::string as_of = utc_date_text(kStart + kAsOfDay * kDay);
    for (const std::string command : {"score", "churn detect"}) {
      const std::string line =
          fmt::format("'{}' --config '{}' --db '{}' {} --as-of {} >'{}' 2>&1", CRM_HOST_BINARY, config.string(),
                      testing::store_locator(dir_ / "crm.db"), command, as_of, (dir_ / "output.txt").string());
      const int status = std::system(line.c_str());
      ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << line << "\n"
                                                                 << testing::read_text(dir_ / "output.txt");
    }
  }
  // Lost customers' classes from win-back, in customer order, and those the last scoring run stored.
  std::pair<std::string, std::string> classes() {
    Store store(testing::store_locator(dir_ / "crm.db"));
    Statement query = store.database().prepare(
        "SELECT coalesce(l.abc_class, '-'), coalesce(s.abc_class, '-') FROM lost_customers l LEFT JOIN "
        "customer_scores s ON s.customer_id = l.customer_id AND s.run_id = (SELECT max(id) FROM score_runs) ORDER BY "
        "l.customer_id");
    std::pair<std::string, std::string> found;
    while (query.step()) {
      found.first += query.column_text(0);
      found.second += query.column_text(1);
    }
    return found;
  }

  testing::TempDir dir_;
};

// The 10 customers still buying bring 79 % of the revenue; of the lost, customer 20 is worth
// most, its revenue share above 0.792, then 19 (0.820), 18 (0.846) ... 11 (0.963).
TEST_F(ValueClassesCli, ScorerAndWinbackClassLostCustomersAlikeWithTheConfiguredShares) {
  score_and_detect(R"({})");
  const auto [winback_default, scorer_default] = classes();
  EXPECT_EQ(winback_default, "CCCCCCCCCCCCBBBBBBBA");  // 80 % and 95 %
  EXPECT_EQ(scorer_default, winback_default);
  score_and_detect(R"({"a_share": 0.9, "b_share": 0.97})");
  const auto [winback_changed, scorer_changed] = classes();
  EXPECT_EQ(winback_changed, "CCCCCCCCCCBBBBBAAAAA");
  EXPECT_EQ(scorer_changed, winback_changed);
}

}  // namespace
}  // namespace crm::host
