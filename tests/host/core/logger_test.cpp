#include "core/logger.hpp"

#include <gtest/gtest.h>

namespace crm::host {
namespace {

TEST(Logger, MasksEveryRegisteredSecretAndFiltersByLevel) {
  ManualClock clock(0);
  std::vector<std::string> lines;
  Logger logger(clock, LogLevel::info, [&](std::string_view line) { lines.emplace_back(line); });
  logger.add_secret("hunter2-password");
  logger.add_secret("abc");  // too short to mask safely
  logger.log(LogLevel::info, "alert_email", "login with hunter2-password failed, retrying hunter2-password");
  logger.log(LogLevel::debug, "host", "not shown");
  ASSERT_EQ(lines.size(), 1U);
  EXPECT_EQ(lines[0], "1970-01-01T00:00:00.000Z INFO  [alert_email] login with *** failed, retrying ***");
}

}  // namespace
}  // namespace crm::host
