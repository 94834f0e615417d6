/*
 * crm/scorer.h - the API of a scorer plugin (CRM_KIND_SCORER).
 *
 * Scoring is batched and columnar: the host passes N customers and K named
 * features as K arrays of N doubles (NaN marks a missing value) and receives
 * N scores, 0 to 100 where 100 is healthy. Per-record conversions are what
 * cost across a plugin boundary, so there are none: one call scores a batch.
 */
#ifndef CRM_SCORER_H
#define CRM_SCORER_H

#include "crm/abi.h"
#include "crm/host.h"
#include "crm/plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Input of one scoring call. Host-owned, borrowed for the call.
 * Since: 1.0 for every field below.
 */
typedef struct crm_score_input {
  /* sizeof(crm_score_input) as compiled into the host. */
  uint32_t struct_size;
  /* Number of customers in this batch (N). May be 0. */
  size_t customer_count;
  /* N customer ids. */
  const crm_str* customer_ids;
  /* Number of feature columns (K). */
  size_t feature_count;
  /* K feature names, in the order of feature_columns. */
  const crm_str* feature_names;
  /* K pointers to N doubles each; NaN is "missing". */
  const double* const* feature_columns;
  /* The date the features were computed as of, ms since the Unix epoch. */
  int64_t as_of_ms;
} crm_score_input;

/*
 * Output of one scoring call. The arrays are host-owned and sized by the
 * host; the plugin writes into them.
 * Since: 1.0 for every field below.
 */
typedef struct crm_score_output {
  /* sizeof(crm_score_output) as compiled into the host. */
  uint32_t struct_size;
  /* N scores to fill, each in [0, 100]; NaN if the customer cannot be scored. */
  double* scores;
  /*
   * K * N contributions to fill, feature-major (contributions[k * N + i] is
   * feature k's effect on customer i, in score points), or NULL when the host
   * does not ask for explanations. Filled only by plugins declaring
   * CRM_CAP_EXPLAIN; the host has set every entry to 0 beforehand.
   */
  double* contributions;
} crm_score_output;

/*
 * crm_on_score: scores one batch.
 * instance: made by the descriptor's `create`.
 * host:     services for this call only.
 * input:    borrowed for the call.
 * output:   host-owned arrays to fill.
 * error:    caller-owned message buffer.
 * Returns: OK; DATA if the batch cannot be scored (say which feature);
 *          CANCELLED if host->is_cancelled() turned true; FATAL otherwise.
 * Required: yes.  Threading: one call per instance at a time unless the
 * plugin declares CRM_CAP_THREAD_SAFE.  Since: 1.0
 */
typedef crm_status (*crm_on_score_fn)(crm_plugin_instance* instance, const crm_host* host, const crm_score_input* input,
                                      crm_score_output* output, crm_error* error);

/*
 * The scorer's API table; the descriptor's kind_api points at one.
 * Plugin-owned, static. Since: 1.0 for every field below.
 */
typedef struct crm_scorer_api {
  /* sizeof(crm_scorer_api) as compiled into the plugin. Required. */
  uint32_t struct_size;
  /*
   * Names of the features this scorer reads, as a NULL-terminated array of
   * NUL-terminated strings (static). The host refuses the scorer at load
   * time when it cannot compute one of them. Required (may be empty).
   */
  const char* const* required_features;
  /* Required. */
  crm_on_score_fn score;
} crm_scorer_api;

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* CRM_SCORER_H */
