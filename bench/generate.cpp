// crm_generate: synthetic customers, orders and activity events at a chosen
// scale, as the CSV exports an ERP would write. Deterministic for a seed.
#include <CLI/CLI.hpp>
#include <array>
#include <cstdint>
#include <filesystem>
#include <fmt/format.h>
#include <fmt/os.h>
#include <random>
#include <string>

namespace {

constexpr std::array<const char*, 6> kIndustries = {"manufacturing", "retail", "logistics",
                                                    "software",      "energy", "healthcare"};
constexpr std::array<const char*, 5> kCountries = {"CN", "DE", "GB", "US", "FR"};
constexpr std::array<const char*, 4> kEventKinds = {"login", "document_download", "meeting", "login"};
constexpr std::int64_t kStartSeconds = 1'672'531'200;  // 2023-01-01
constexpr std::int64_t kSpanSeconds = 3 * 365 * 86'400;

std::string timestamp(std::int64_t seconds) {
  const std::int64_t days = seconds / 86'400;
  // civil_from_days (Howard Hinnant)
  const std::int64_t z = days + 719'468;
  const std::int64_t era = (z >= 0 ? z : z - 146'096) / 146'097;
  const auto doe = static_cast<unsigned>(z - era * 146'097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36'524 - doe / 146'096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned day = doy - (153 * mp + 2) / 5 + 1;
  const unsigned month = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t year = static_cast<std::int64_t>(yoe) + era * 400 + (month <= 2 ? 1 : 0);
  const std::int64_t in_day = seconds % 86'400;
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", year, month, day, in_day / 3600, in_day / 60 % 60,
                     in_day % 60);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"crm_generate: synthetic customers, orders and events as CSV exports"};
  std::int64_t customers = 10'000;
  std::int64_t orders = 1'000'000;
  std::int64_t events = 0;
  std::uint64_t seed = 42;
  std::string out = "exports";
  app.add_option("--customers", customers, "Customers")->check(CLI::PositiveNumber);
  app.add_option("--orders", orders, "Order rows")->check(CLI::NonNegativeNumber);
  app.add_option("--events", events, "Activity events")->check(CLI::NonNegativeNumber);
  app.add_option("--seed", seed, "Random seed");
  app.add_option("--out", out, "Output folder");
  CLI11_PARSE(app, argc, argv);

  std::filesystem::create_directories(out);
  std::mt19937_64 random(seed);
  std::uniform_int_distribution<std::int64_t> customer_of(1, customers);
  std::uniform_int_distribution<std::int64_t> second_of(0, kSpanSeconds);
  std::lognormal_distribution<double> amount_of(5.0, 1.2);

  auto customer_file = fmt::output_file(out + "/customers.csv");
  customer_file.print("customer_id,name,tax_id,email_domain,country,industry,created_at\n");
  for (std::int64_t c = 1; c <= customers; ++c) {
    customer_file.print("C{},Customer {} Ltd,TX{:08},customer{}.example,{},{},{}\n", c, c, c * 7919 % 100'000'000, c,
                        kCountries[static_cast<std::size_t>(c) % kCountries.size()],
                        kIndustries[static_cast<std::size_t>(c) % kIndustries.size()],
                        timestamp(kStartSeconds - 86'400 * (c % 1000)));
  }

  auto order_file = fmt::output_file(out + "/orders.csv");
  order_file.print("order_id,customer_id,ordered_at,amount,currency,product_line,quantity,status\n");
  for (std::int64_t o = 1; o <= orders; ++o) {
    const bool cancelled = o % 40 == 0;
    const double amount = amount_of(random) * (cancelled ? -1 : 1);
    order_file.print("SO{:09},C{},{},{:.2f},CNY,PL{},{},{}\n", o, customer_of(random),
                     timestamp(kStartSeconds + second_of(random)), amount, o % 12, 1 + o % 20,
                     cancelled ? "cancelled" : "confirmed");
  }

  if (events > 0) {
    auto event_file = fmt::output_file(out + "/activities.csv");
    event_file.print("event_id,customer_id,contact_id,occurred_at,kind,detail\n");
    for (std::int64_t e = 1; e <= events; ++e) {
      const std::int64_t customer = customer_of(random);
      event_file.print("EV{:010},C{},P{}-{},{},{},\n", e, customer, customer, e % 3,
                       timestamp(kStartSeconds + second_of(random)),
                       kEventKinds[static_cast<std::size_t>(e) % kEventKinds.size()]);
    }
  }
  return 0;
}
