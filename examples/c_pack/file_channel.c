/* pack_file_channel: an alert channel that appends each notification to a
 * text file, as a block of lines:
 *
 *   === <idempotency key> <severity> <event>
 *   to: <recipients>, <cc...>
 *   <title>
 *   <text>
 *
 * The cc list of its configuration is read element by element with the typed
 * getters (array length, then "/cc/0", "/cc/1", ...), no JSON decoding. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "example_pack_manifest.h"
#include "pack.h"

typedef struct file_channel {
  char* path;
  char** cc;
  size_t cc_count;
} file_channel;

static void destroy(crm_plugin_instance* instance) {
  file_channel* channel = (file_channel*)instance;
  size_t i = 0;
  if (channel == NULL) {
    return;
  }
  for (i = 0; i < channel->cc_count; ++i) {
    free(channel->cc[i]);
  }
  free(channel->cc);
  free(channel->path);
  free(channel);
}

static crm_status create(const crm_host* host, crm_str config_json, crm_plugin_instance** out_instance,
                         crm_error* error) {
  static const crm_str cc_pointer = CRM_STR_LITERAL("/cc");
  file_channel* channel = (file_channel*)calloc(1, sizeof *channel);
  size_t cc_length = 0;
  crm_status status = CRM_STATUS_OK;
  (void)config_json;
  if (channel == NULL) {
    return crm_error_set(error, CRM_STATUS_FATAL, "out of memory");
  }
  if ((status = pack_config_string(host, "/path", &channel->path)) != CRM_STATUS_OK) {
    destroy((crm_plugin_instance*)channel);
    return crm_error_set(error, status == CRM_STATUS_FATAL ? status : CRM_STATUS_CONFIG, "path must be a string");
  }
  status = host->config_get_array_length(host->context, cc_pointer, &cc_length);
  if (status != CRM_STATUS_OK && status != CRM_STATUS_NOT_FOUND) {
    destroy((crm_plugin_instance*)channel);
    return crm_error_set(error, CRM_STATUS_CONFIG, "cc must be an array of strings");
  }
  if (cc_length > 0) {
    channel->cc = (char**)calloc(cc_length, sizeof *channel->cc);
    if (channel->cc == NULL) {
      destroy((crm_plugin_instance*)channel);
      return crm_error_set(error, CRM_STATUS_FATAL, "out of memory");
    }
  }
  for (; channel->cc_count < cc_length; ++channel->cc_count) {
    char pointer[32];
    snprintf(pointer, sizeof pointer, "/cc/%lu", (unsigned long)channel->cc_count);
    if (pack_config_string(host, pointer, &channel->cc[channel->cc_count]) != CRM_STATUS_OK) {
      destroy((crm_plugin_instance*)channel);
      return pack_error(error, CRM_STATUS_CONFIG, pointer, "must be a string");
    }
  }
  *out_instance = (crm_plugin_instance*)channel;
  return CRM_STATUS_OK;
}

static const char* severity_name(crm_severity severity) {
  switch (severity) {
    case CRM_SEVERITY_INFO:
      return "info";
    case CRM_SEVERITY_WARNING:
      return "warning";
    case CRM_SEVERITY_CRITICAL:
      return "critical";
    default:
      return "unknown";
  }
}

static crm_status channel_send(crm_plugin_instance* instance, const crm_host* host, const crm_channel_message* message,
                               crm_channel_result* result, crm_error* error) {
  const file_channel* channel = (const file_channel*)instance;
  const char* separator = "";
  size_t i = 0;
  int failed = 0;
  FILE* file = NULL;
  (void)host;
  (void)result;
  file = fopen(channel->path, "ab");
  if (file == NULL) {
    /* A full disk may clear; a missing folder or a refused file needs a person. */
    const crm_status status = errno == ENOSPC ? CRM_STATUS_RETRIABLE : CRM_STATUS_CONFIG;
    return pack_error(error, status, "cannot open the file (path)", strerror(errno));
  }
  fprintf(file, "=== %.*s %s %.*s\nto: ", (int)message->idempotency_key.size, message->idempotency_key.data,
          severity_name(message->severity), (int)message->event.size, message->event.data);
  for (i = 0; i < message->recipient_count; ++i) {
    fprintf(file, "%s%.*s", separator, (int)message->recipients[i].size, message->recipients[i].data);
    separator = ", ";
  }
  for (i = 0; i < channel->cc_count; ++i) {
    fprintf(file, "%s%s", separator, channel->cc[i]);
    separator = ", ";
  }
  fprintf(file, "\n%.*s\n%.*s\n", (int)message->title.size, message->title.data, (int)message->text.size,
          message->text.data);
  failed = ferror(file);
  if (fclose(file) != 0 || failed) {
    return crm_error_set(error, CRM_STATUS_RETRIABLE, "could not write the whole notification to the file");
  }
  return CRM_STATUS_OK;
}

static const crm_channel_api file_channel_api = {sizeof(crm_channel_api), 0, 0, channel_send};

const crm_plugin_descriptor pack_file_channel_descriptor = {sizeof(crm_plugin_descriptor),
                                                            CRM_MANIFEST_PACK_FILE_CHANNEL_KIND,
                                                            CRM_MANIFEST_PACK_FILE_CHANNEL_ID,
                                                            CRM_MANIFEST_PACK_FILE_CHANNEL_VERSION,
                                                            CRM_MANIFEST_PACK_FILE_CHANNEL_DESCRIPTION,
                                                            CRM_MANIFEST_PACK_FILE_CHANNEL_CONFIG_SCHEMA,
                                                            CRM_MANIFEST_PACK_FILE_CHANNEL_CAPABILITIES,
                                                            create,
                                                            destroy,
                                                            &file_channel_api};
