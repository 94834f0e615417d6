/* An example scorer written in plain C99 against the C headers of crm/ only: the score falls
 * linearly from 100 to 0 as the days since the customer's last order go from
 * 0 to max_recency_days. Its one contribution is the points that recency cost. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "crm/crm.h"
#include "scorer_example_c_manifest.h"

typedef struct recency_scorer {
  double max_recency_days;
} recency_scorer;

static const char* const required_features[] = {"recency_days", NULL};

static int name_is(crm_str name, const char* expected) {
  const size_t length = strlen(expected);
  return name.size == length && memcmp(name.data, expected, length) == 0;
}

static crm_status create(const crm_host* host, crm_str config_json, crm_plugin_instance** out_instance,
                         crm_error* error) {
  static const crm_str pointer = CRM_STR_LITERAL("/max_recency_days");
  recency_scorer* scorer = NULL;
  double max_recency_days = 0;
  (void)config_json; /* read through the host's typed getter (SDK 1.2) instead of parsing JSON in C */

  switch (host->config_get_number(host->context, pointer, &max_recency_days)) {
    case CRM_STATUS_OK:
      break;
    case CRM_STATUS_WRONG_TYPE:
      return crm_error_set(error, CRM_STATUS_CONFIG, "max_recency_days must be a number");
    default:
      return crm_error_set(error, CRM_STATUS_CONFIG, "max_recency_days is missing from the configuration");
  }
  if (!(max_recency_days > 0)) {
    return crm_error_set(error, CRM_STATUS_CONFIG, "max_recency_days must be a positive number");
  }
  scorer = (recency_scorer*)malloc(sizeof *scorer);
  if (scorer == NULL) {
    return crm_error_set(error, CRM_STATUS_FATAL, "out of memory");
  }
  scorer->max_recency_days = max_recency_days;
  *out_instance = (crm_plugin_instance*)scorer;
  return CRM_STATUS_OK;
}

static void destroy(crm_plugin_instance* instance) {
  free(instance);
}

static crm_status score(crm_plugin_instance* instance, const crm_host* host, const crm_score_input* input,
                        crm_score_output* output, crm_error* error) {
  const recency_scorer* scorer = (const recency_scorer*)instance;
  const double* recency = NULL;
  size_t feature = 0;
  size_t customer = 0;
  (void)host;
  for (feature = 0; feature < input->feature_count; ++feature) {
    if (name_is(input->feature_names[feature], "recency_days")) {
      recency = input->feature_columns[feature];
      break;
    }
  }
  if (recency == NULL) {
    return crm_error_set(error, CRM_STATUS_DATA, "feature 'recency_days' is missing from the batch");
  }
  for (customer = 0; customer < input->customer_count; ++customer) {
    const double days = recency[customer];
    double health = 0;
    if (isnan(days)) {
      output->scores[customer] = NAN;
      continue;
    }
    health = 100.0 * (1.0 - days / scorer->max_recency_days);
    health = health < 0 ? 0 : (health > 100 ? 100 : health);
    output->scores[customer] = health;
    if (output->contributions != NULL) {
      output->contributions[feature * input->customer_count + customer] = health - 100.0;
    }
  }
  return CRM_STATUS_OK;
}

static const crm_scorer_api scorer_api = {
    sizeof(crm_scorer_api), required_features, score, NULL, NULL, NULL, NULL, NULL};

static const crm_plugin_descriptor recency_descriptor = {sizeof(crm_plugin_descriptor),
                                                         CRM_MANIFEST_SCORER_EXAMPLE_C_KIND,
                                                         CRM_MANIFEST_SCORER_EXAMPLE_C_ID,
                                                         CRM_MANIFEST_SCORER_EXAMPLE_C_VERSION,
                                                         CRM_MANIFEST_SCORER_EXAMPLE_C_DESCRIPTION,
                                                         CRM_MANIFEST_SCORER_EXAMPLE_C_CONFIG_SCHEMA,
                                                         CRM_MANIFEST_SCORER_EXAMPLE_C_CAPABILITIES,
                                                         create,
                                                         destroy,
                                                         &scorer_api};

static const crm_plugin_descriptor* const plugins[] = {&recency_descriptor};

CRM_DEFINE_LIBRARY(plugins)
