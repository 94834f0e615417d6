/* Example Vendor's pack: the parts its two plugins share. Plain C99 against
 * the SDK's C headers only. */
#ifndef EXAMPLE_PACK_H
#define EXAMPLE_PACK_H

#include "crm/crm.h"

extern const crm_plugin_descriptor pack_purchase_log_descriptor;
extern const crm_plugin_descriptor pack_file_channel_descriptor;

/*
 * Reads the string setting at `pointer` (RFC 6901) with the typed getter of
 * SDK 1.2 into a new NUL-terminated string the caller frees. Asks for the
 * size first, so any length fits.
 * Returns OK, NOT_FOUND, WRONG_TYPE (the schema should prevent it) or FATAL
 * when memory runs out.
 */
crm_status pack_config_string(const crm_host* host, const char* pointer, char** out);

/* Writes "<what>: <detail>" into `error` and returns `status`. */
crm_status pack_error(crm_error* error, crm_status status, const char* what, const char* detail);

#endif
