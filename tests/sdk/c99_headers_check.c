/* Compiled with -std=c99 -pedantic -Werror: the SDK's C headers are C99, with
 * every CRM_TARGET_ABI_MINOR (tests/CMakeLists.txt compiles it once per minor). */
#include "crm/crm.h"

crm_status crm_c99_check(crm_error* error);
crm_status crm_c99_check(crm_error* error) {
  crm_str text = CRM_STR_LITERAL("c99");
#if CRM_TARGET_ABI_MINOR >= 2
  crm_host host = {
    sizeof(crm_host),
    CRM_TARGET_ABI_VERSION,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL
#if CRM_TARGET_ABI_MINOR >= 3
    ,
    NULL,
    NULL,
    NULL,
    NULL
#endif
  };
  if (!CRM_HOST_HAS(&host, crm_host, config_get_array_length)) {
    return crm_error_set(error, CRM_STATUS_FATAL, "layout 1.2");
  }
#if CRM_TARGET_ABI_MINOR >= 3
  if (!CRM_HOST_HAS(&host, crm_host, state_next)) {
    return crm_error_set(error, CRM_STATUS_FATAL, "layout 1.3: plugin state");
  }
#endif
#else
  crm_host host = {sizeof(crm_host), CRM_TARGET_ABI_VERSION, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
#endif
#if CRM_TARGET_ABI_MINOR >= 3
  {
    /* A 1.3 channel declares its per-recipient limits after send. */
    crm_channel_api channel = {sizeof(crm_channel_api), 2048, 20, NULL, 30, 1000};
    if (sizeof channel != 32 || channel.recipient_messages_per_hour != 1000) {
      return crm_error_set(error, CRM_STATUS_FATAL, "layout 1.3");
    }
  }
#elif CRM_TARGET_ABI_MINOR >= 1
  {
    /* Before 1.3 a channel's table ends at send. */
    crm_channel_api channel = {sizeof(crm_channel_api), 2048, 20, NULL};
    if (sizeof channel != 24) {
      return crm_error_set(error, CRM_STATUS_FATAL, "layout 1.1");
    }
  }
#endif
#if CRM_TARGET_ABI_MINOR == 0
  /* A 1.0 scorer fills a 1.0-sized table: three fields, nothing after score. */
  crm_scorer_api scorer = {sizeof(crm_scorer_api), NULL, NULL};
  if (sizeof scorer != 24) {
    return crm_error_set(error, CRM_STATUS_FATAL, "layout 1.0");
  }
#endif
  if (!CRM_HOST_HAS(&host, crm_host, is_cancelled) || text.size != 3) {
    return crm_error_set(error, CRM_STATUS_FATAL, "layout");
  }
  return CRM_STATUS_OK;
}
