/* The library's entry points: both plugins of the pack, and what they share. */
#include "pack.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

crm_status pack_config_string(const crm_host* host, const char* pointer, char** out) {
  crm_str path;
  crm_buffer probe = {NULL, 0, 0};
  crm_buffer value = {NULL, 0, 0};
  crm_status status = CRM_STATUS_OK;
  path.data = pointer;
  path.size = strlen(pointer);
  *out = NULL;
  /* A zero-capacity buffer asks for the size only (BUFFER_TOO_SMALL, or OK for ""). */
  status = host->config_get_string(host->context, path, &probe);
  if (status != CRM_STATUS_OK && status != CRM_STATUS_BUFFER_TOO_SMALL) {
    return status;
  }
  value.data = (char*)malloc(probe.size + 1);
  if (value.data == NULL) {
    return CRM_STATUS_FATAL;
  }
  value.capacity = probe.size;
  status = host->config_get_string(host->context, path, &value);
  if (status != CRM_STATUS_OK) {
    free(value.data);
    return status;
  }
  value.data[value.size] = '\0';
  *out = value.data;
  return CRM_STATUS_OK;
}

crm_status pack_error(crm_error* error, crm_status status, const char* what, const char* detail) {
  char message[512];
  snprintf(message, sizeof message, "%s: %s", what, detail);
  return crm_error_set(error, status, message);
}

static const crm_plugin_descriptor* const pack_plugins[] = {&pack_purchase_log_descriptor,
                                                            &pack_file_channel_descriptor};

CRM_DEFINE_LIBRARY(pack_plugins)
