/* Compiled with -std=c99 -pedantic -Werror: the SDK's C headers are C99. */
#include "crm/crm.h"

crm_status crm_c99_check(crm_error* error);
crm_status crm_c99_check(crm_error* error) {
  crm_str text = CRM_STR_LITERAL("c99");
  crm_host host = {sizeof(crm_host), CRM_ABI_VERSION, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
  if (!CRM_HOST_HAS(&host, crm_host, is_cancelled) || text.size != 3) {
    return crm_error_set(error, CRM_STATUS_FATAL, "layout");
  }
  return CRM_STATUS_OK;
}
