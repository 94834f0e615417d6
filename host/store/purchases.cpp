#include "store/purchases.hpp"

#include <fmt/format.h>

namespace crm::host {
namespace {

constexpr bool quotable(std::string_view text) {
  for (const char c : text) {
    if (c == '\'' || c < ' ' || (c >= 'A' && c <= 'Z')) {
      return false;
    }
  }
  return true;
}

constexpr bool all_quotable() {
  for (const std::string_view status : kNonPurchaseStatuses) {
    if (!quotable(status)) {
      return false;
    }
  }
  return true;
}

// The statuses are pasted into SQL as literals and compared with lower(): they
// must hold no quote and no capital letter.
static_assert(all_quotable());

}  // namespace

std::string purchase_condition(std::string_view alias) {
  const std::string prefix = alias.empty() ? std::string() : std::string(alias) + ".";
  std::string statuses;
  for (const std::string_view status : kNonPurchaseStatuses) {
    statuses += fmt::format("{}'{}'", statuses.empty() ? "" : ", ", status);
  }
  return fmt::format("(({0}amount IS NULL OR {0}amount > 0) AND lower(trim(coalesce({0}status, ''))) NOT IN ({1}))",
                     prefix, statuses);
}

}  // namespace crm::host
