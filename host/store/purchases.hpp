#pragma once

#include <array>
#include <string>
#include <string_view>

namespace crm::host {

// What counts as a purchase. Every reader of the orders table (features and
// churn labels, lost-customer detection, a campaign's "ordered again", its
// report, backtests) filters with purchase_condition(), so a return, a
// cancellation or an unaccepted quotation never counts as buying: a return
// after the churn date does not recover a customer, and scores, churn and
// campaigns agree on who bought when.
//
// A purchase is an order row whose
// - amount is positive, or unknown (NULL: a source without prices still has
//   purchase dates); zero and negative amounts (returns, credit notes, price
//   corrections) are not purchases;
// - status, trimmed of spaces and compared in lower case, is none of
//   kNonPurchaseStatuses. A NULL or empty status counts (a source without
//   statuses, such as a plain order export).
//
// The statuses that are not purchases: cancellations in either spelling
// (erp_csv configurations map cancelled invoices to "cancelled"; Tryton writes
// "cancelled"), offers not yet accepted (Tryton's "draft" and "quotation"),
// and orders returned, refunded, voided, rejected or declined. Tryton's
// "confirmed", "processing" and "done" are purchases.
inline constexpr std::array<std::string_view, 12> kNonPurchaseStatuses = {
    "cancelled", "canceled", "cancel",   "draft",    "quotation", "quote",
    "void",      "voided",   "rejected", "declined", "returned",  "refunded"};

// The SQL condition selecting purchases among rows of the orders table, for a
// WHERE clause: `alias` is the table's alias in the query ("o" for
// "FROM orders o"), or empty when the table is not aliased. Built from
// kNonPurchaseStatuses, so the definition above is the only one.
std::string purchase_condition(std::string_view alias = {});

}  // namespace crm::host
