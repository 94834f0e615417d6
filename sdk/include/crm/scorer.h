/*
 * crm/scorer.h - the API of a scorer plugin (CRM_KIND_SCORER).
 *
 * Scoring is batched and columnar: the host passes N customers and K named
 * features as K arrays of N doubles (NaN marks a missing value) and receives
 * N scores, 0 to 100 where 100 is healthy. Per-record conversions are what
 * cost across a plugin boundary, so there are none: one call scores a batch.
 *
 * Since 1.1 a scorer may also return, per customer, a bitmask of named reason
 * codes and extra named output columns (tier, probability alive...), and a
 * scorer whose model is learned from history may implement train, save_model
 * and load_model. The model travels as bytes the host stores and hands back,
 * so nothing but the plugin's own instance holds it.
 *
 * Output columns with a meaning the host knows (codes as doubles):
 *   "tier"      0 strategic, 1 key, 2 potential, 3 general
 *   "abc_class" 0 A, 1 B, 2 C
 *   "stage"     0 development, 1 initial, 2 stable, 3 strategic
 * Any other name is stored and shown as a number.
 *
 * The 1.1 fields are hidden when CRM_TARGET_ABI_MINOR is 0 (see crm/abi.h).
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

/* The most reason codes one scorer may declare (bits of a uint64_t). */
#define CRM_MAX_REASON_CODES 64

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
#if CRM_TARGET_ABI_MINOR >= 1
  /*
   * N reason bitmasks to fill, or NULL when the host does not ask: bit j of
   * reasons[i] set means reason code j of the scorer's reason_codes applies
   * to customer i. The host has zeroed every entry. Since: 1.1
   */
  uint64_t* reasons;
  /*
   * One array of N doubles per name in the scorer's output_columns, in that
   * order (output_columns[c][i] is column c of customer i), or NULL when the
   * scorer declares none. The host has set every entry to NaN. Since: 1.1
   */
  double* const* output_columns;
#endif
} crm_score_output;

/*
 * Input of one training call: features as of an earlier date and what
 * happened after it. Host-owned, borrowed for the call.
 * Since: 1.1 for every field below.
 */
typedef struct crm_train_input {
  /* sizeof(crm_train_input) as compiled into the host. */
  uint32_t struct_size;
  /* The customers and features as of the training date (features->as_of_ms). */
  const crm_score_input* features;
  /*
   * N labels: 1 if the customer made no purchase in the horizon after the
   * training date (churned), 0 if they did, NaN if unknown.
   */
  const double* churned;
  /* The horizon the labels look ahead, in days. */
  int32_t horizon_days;
} crm_train_input;

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
 * crm_on_train: fits the scorer's model on history and makes it the model
 * the next score calls use.
 * input: borrowed for the call.
 * Returns: OK; DATA if the history cannot fit a model (say why: too few
 *          customers, one class only, no convergence); CANCELLED; FATAL.
 * Required: no (NULL: the scorer learns nothing).  Threading: as score.
 * Since: 1.1
 */
typedef crm_status (*crm_on_train_fn)(crm_plugin_instance* instance, const crm_host* host, const crm_train_input* input,
                                      crm_error* error);

/*
 * crm_on_save_model: writes the current model as bytes (the plugin's own
 * format; self-describing text such as JSON with the feature list and the
 * training date is recommended) into `out`, with the crm_buffer size protocol.
 * Returns: OK; NOT_FOUND if no model was trained or loaded; BUFFER_TOO_SMALL.
 * Required: with train.  Threading: as score.  Since: 1.1
 */
typedef crm_status (*crm_on_save_model_fn)(crm_plugin_instance* instance, const crm_host* host, crm_buffer* out,
                                           crm_error* error);

/*
 * crm_on_load_model: makes a model saved by save_model (possibly by an
 * earlier version of this plugin) the current one.
 * model: borrowed for the call; the plugin copies what it keeps.
 * Returns: OK; DATA if the bytes are not a model this plugin reads (say why).
 * Required: with train.  Threading: as score.  Since: 1.1
 */
typedef crm_status (*crm_on_load_model_fn)(crm_plugin_instance* instance, const crm_host* host, crm_str model,
                                           crm_error* error);

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
   *
   * Since 1.4 a name ending in '*' is a feature family: the host passes every
   * feature it computes whose name starts with the text before the '*', in
   * its catalogue order, possibly none (a family never refuses a scorer).
   * The families the host computes:
   *   "attr.*"  the customer attributes the configuration declares as
   *             features (scoring.attribute_features): "attr.<name>" for a
   *             numeric one (NaN when missing or not a number), and one 0/1
   *             indicator "attr.<name>=<level>" per level seen in the store
   *             for a categorical one (NaN for each when the customer has no
   *             value). Attributes carry no date: the value as it is now.
   * A 1.3 host refuses a scorer asking for a family (it computes no feature
   * named "attr.*"), so a plugin using one declares ABI 1.4.
   */
  const char* const* required_features;
  /* Required. */
  crm_on_score_fn score;
#if CRM_TARGET_ABI_MINOR >= 1
  /*
   * Names of the reason codes this scorer reports, NULL-terminated, at most
   * CRM_MAX_REASON_CODES (static). NULL or empty: no reasons. Since: 1.1
   */
  const char* const* reason_codes;
  /*
   * Names of the extra per-customer output columns, NULL-terminated
   * (static). NULL or empty: none. Since: 1.1
   */
  const char* const* output_columns;
  /* Optional; train, save_model and load_model come together. Since: 1.1 */
  crm_on_train_fn train;
  crm_on_save_model_fn save_model;
  crm_on_load_model_fn load_model;
#endif
} crm_scorer_api;

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* CRM_SCORER_H */
