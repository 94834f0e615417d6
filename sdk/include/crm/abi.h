/*
 * crm/abi.h - versions, status codes and the small value types every other
 * header of the CRM plugin SDK uses.
 *
 * This is the narrow waist of the SDK: pure C99, including only <stdint.h>,
 * <stddef.h> and <stdbool.h>. Nothing here allocates, and nothing here may
 * ever change layout: every struct that crosses the boundary starts with its
 * own size and only ever grows at its end (see "Compatibility rules" below).
 *
 * Compatibility rules (the promise the host keeps to plugins)
 * -----------------------------------------------------------
 * - The ABI version is MAJOR.MINOR. A host accepts a plugin whose MAJOR equals
 *   the host's and whose MINOR is less than or equal to the host's. A newer
 *   MINOR only ever appends fields to the end of size-tagged structs or adds
 *   new constants; a MAJOR bump is a breaking change.
 * - Every table, descriptor and input/output struct crossing the boundary
 *   starts with `uint32_t struct_size`, set by whoever fills the struct to
 *   `sizeof` of the struct it compiled against. A reader reads only the
 *   fields the given size covers; a field beyond it, or a NULL trailing
 *   function pointer, means "not supported". The three small value types of
 *   this header (crm_str, crm_buffer, crm_error) carry no size: their layout
 *   is frozen for every 1.x version and they never grow.
 * - Pointers handed from the host to a plugin are borrowed for the duration
 *   of the call that passed them and must not be kept past it. This keeps
 *   every call implementable across a process boundary.
 * - Strings are UTF-8. Strings passed at run time are `crm_str` (pointer and
 *   length, not NUL-terminated); strings in static descriptors are
 *   NUL-terminated and have static storage duration.
 *
 * Naming (from Envoy's dynamic modules): `crm_on_*` is implemented by the
 * plugin and called by the host; `crm_host_*` is implemented by the host and
 * called by the plugin.
 */
#ifndef CRM_ABI_H
#define CRM_ABI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * ABI version of the headers in this directory.
 *   1.0  scorers and connectors, the host services up to is_cancelled.
 *   1.1  channels (crm/channel.h); scorer reason codes, output columns and
 *        training (crm/scorer.h).
 *   1.2  typed configuration getters in crm_host (config_get_string ...) and
 *        the statuses CRM_STATUS_WRONG_TYPE and CRM_STATUS_INVALID_ARGUMENT.
 *   1.3  per-recipient limits of a channel (crm_channel_api's
 *        recipient_messages_per_minute and recipient_messages_per_hour);
 *        plugin state in crm_host (state_get, state_put, state_delete,
 *        state_next).
 *   1.4  feature families: a scorer's required_features may end a name with
 *        '*' to ask for every feature the host computes under that prefix,
 *        such as the configured customer attributes ("attr.*", crm/scorer.h).
 * Since: 1.0
 */
#define CRM_ABI_VERSION_MAJOR 1
#define CRM_ABI_VERSION_MINOR 4

/*
 * Packs MAJOR.MINOR into one 32-bit value (major in the high 16 bits), the
 * form returned by crm_on_abi_version().
 * Since: 1.0
 */
#define CRM_ABI_PACK(major, minor) ((((uint32_t)(major)) << 16) | ((uint32_t)(minor)&0xFFFFu))
#define CRM_ABI_MAJOR_OF(packed) ((uint32_t)(packed) >> 16)
#define CRM_ABI_MINOR_OF(packed) ((uint32_t)(packed)&0xFFFFu)
#define CRM_ABI_VERSION CRM_ABI_PACK(CRM_ABI_VERSION_MAJOR, CRM_ABI_VERSION_MINOR)

/*
 * Targeting an older minor version
 * --------------------------------
 * A plugin that must also load in older hosts is built for an older minor of
 * the same major: define CRM_TARGET_ABI_MINOR (e.g. -DCRM_TARGET_ABI_MINOR=1)
 * before including any SDK header, and write that version as the manifest's
 * "abi" ("1.1"). crm_add_plugin() does both from the manifest: it defines
 * CRM_TARGET_ABI_MINOR as the minor of the manifest's "abi".
 *
 * With a target below CRM_ABI_VERSION_MINOR the headers hide every field and
 * helper added after the target, so that:
 *   - the structs the plugin fills have the size of the target version (an
 *     older host would refuse a struct larger than it knows);
 *   - using a service the target's hosts lack is a compile error, not a NULL
 *     call at run time;
 *   - CRM_DEFINE_LIBRARY and CRM_EXPORT_PLUGINS report the target version,
 *     which must equal the manifest's "abi" (the host checks both).
 * Left undefined, the target is these headers' own minor.
 * Since: 1.2
 */
#ifndef CRM_TARGET_ABI_MINOR
#define CRM_TARGET_ABI_MINOR CRM_ABI_VERSION_MINOR
#endif
#if CRM_TARGET_ABI_MINOR > CRM_ABI_VERSION_MINOR
#error "CRM_TARGET_ABI_MINOR is newer than these SDK headers; install a newer SDK"
#endif
#if CRM_TARGET_ABI_MINOR < 0
#error "CRM_TARGET_ABI_MINOR must be 0 or more"
#endif
/* The version a plugin built with these headers reports. Since: 1.2 */
#define CRM_TARGET_ABI_VERSION CRM_ABI_PACK(CRM_ABI_VERSION_MAJOR, CRM_TARGET_ABI_MINOR)

/*
 * CRM_EXPORT marks the two entry functions a plugin library exports. Plugin
 * libraries are built with hidden visibility by default (crm_add_plugin does
 * this), so only these two symbols are visible to the host.
 * Since: 1.0
 */
#ifdef __cplusplus
#define CRM_EXTERN_C extern "C"
#else
#define CRM_EXTERN_C
#endif
#if defined(_WIN32)
#define CRM_EXPORT CRM_EXTERN_C __declspec(dllexport)
#else
#define CRM_EXPORT CRM_EXTERN_C __attribute__((visibility("default")))
#endif

/*
 * Status of every fallible call across the boundary. The classes tell the
 * caller what to do next, not only what went wrong:
 *   CRM_STATUS_CONFIG      the configuration or credentials are wrong; retrying
 *                          will not help until a person changes them.
 *   CRM_STATUS_RETRIABLE   a transient failure (source down, timeout, rate
 *                          limit); the same call may succeed later.
 *   CRM_STATUS_DATA        one input item is bad; skip or quarantine it and go on.
 *   CRM_STATUS_FATAL       the plugin cannot continue (a bug, an exception,
 *                          an invariant broken); the host stops using it:
 *                          a channel that returns FATAL gets no further send
 *                          for the rest of the process (what it was to send
 *                          is marked dead with the reason, for `alerts
 *                          resend` after a fix), a connector's sync run
 *                          ends as failed, a scorer's scoring run fails.
 * The remaining codes are returned by host services:
 *   CRM_STATUS_NOT_FOUND        the key, secret or checkpoint does not exist.
 *   CRM_STATUS_BUFFER_TOO_SMALL the caller's buffer was too small; its `size`
 *                               field holds the size needed (see crm_buffer).
 *   CRM_STATUS_UNSUPPORTED      the callee does not implement this call.
 *   CRM_STATUS_CANCELLED        the run is being cancelled (Ctrl-C, SIGTERM).
 *   CRM_STATUS_WRONG_TYPE       a value exists but is not of the type asked
 *                               for (a typed configuration getter). Since: 1.2
 *   CRM_STATUS_INVALID_ARGUMENT the call itself is malformed (a JSON pointer
 *                               that is not RFC 6901, a NULL output).
 *                               Since: 1.2
 * A status is an int32_t rather than an enum so that its size is fixed.
 * Since: 1.0
 */
typedef int32_t crm_status;
#define CRM_STATUS_OK ((crm_status)0)
#define CRM_STATUS_CONFIG ((crm_status)1)
#define CRM_STATUS_RETRIABLE ((crm_status)2)
#define CRM_STATUS_DATA ((crm_status)3)
#define CRM_STATUS_FATAL ((crm_status)4)
#define CRM_STATUS_NOT_FOUND ((crm_status)5)
#define CRM_STATUS_BUFFER_TOO_SMALL ((crm_status)6)
#define CRM_STATUS_UNSUPPORTED ((crm_status)7)
#define CRM_STATUS_CANCELLED ((crm_status)8)
#define CRM_STATUS_WRONG_TYPE ((crm_status)9)
#define CRM_STATUS_INVALID_ARGUMENT ((crm_status)10)

/*
 * Plugin kinds. Room is left for more; a host refuses a kind it does not know.
 * Since: 1.0
 */
typedef uint32_t crm_plugin_kind;
#define CRM_KIND_CONNECTOR ((crm_plugin_kind)1)
#define CRM_KIND_SCORER ((crm_plugin_kind)2)
#define CRM_KIND_CHANNEL ((crm_plugin_kind)3)

/*
 * Capability bits a plugin declares in its descriptor (and, by name, in its
 * manifest). Unknown bits are ignored by older hosts.
 *   CRM_CAP_THREAD_SAFE  the host may call one instance from several threads
 *                        at once. Without it, calls to one instance are
 *                        serialised by the host. Channels declaring it get
 *                        up to alerts.max_in_flight sends at once.
 *   CRM_CAP_EXPLAIN      a scorer fills per-feature contributions; without
 *                        it the host passes contributions == NULL and shows
 *                        no explanation.
 *   CRM_CAP_INCREMENTAL  a connector resumes after the cursor it is given,
 *                        reading only what changed since the last sync. It is
 *                        a promise to people, shown by `crmhost plugins`; it
 *                        changes nothing in how the host drives the
 *                        connector: every connector is handed its last
 *                        committed cursor ("" the first time) and its batches
 *                        commit with their next_cursor whether it declares
 *                        the bit or not. A connector without it reads its
 *                        whole source on every sync (records are keyed by
 *                        external id, so nothing is duplicated).
 * Since: 1.0
 */
typedef uint64_t crm_capabilities;
#define CRM_CAP_THREAD_SAFE ((crm_capabilities)1u << 0)
#define CRM_CAP_EXPLAIN ((crm_capabilities)1u << 1)
#define CRM_CAP_INCREMENTAL ((crm_capabilities)1u << 2)

/*
 * Log levels for crm_host.log.
 * Since: 1.0
 */
typedef int32_t crm_log_level;
#define CRM_LOG_DEBUG ((crm_log_level)10)
#define CRM_LOG_INFO ((crm_log_level)20)
#define CRM_LOG_WARN ((crm_log_level)30)
#define CRM_LOG_ERROR ((crm_log_level)40)

/*
 * A borrowed UTF-8 string: `size` bytes at `data`, not NUL-terminated.
 * Ownership: the side that passes a crm_str keeps ownership; the receiver may
 * read it only until the call that passed it returns, and copies what it keeps.
 * `data` may be NULL only when `size` is 0.
 * Since: 1.0
 */
typedef struct crm_str {
  const char* data;
  size_t size;
} crm_str;

/* Builds a crm_str from a string literal. Since: 1.0 */
#define CRM_STR_LITERAL(literal) \
  { (literal), sizeof(literal) - 1 }

/*
 * An output buffer owned by the caller, filled by the callee.
 *   data      caller-owned storage of `capacity` bytes (may be NULL when
 *             capacity is 0, to ask for the size only).
 *   capacity  bytes available at `data`.
 *   size      set by the callee to the full length of the value, in bytes.
 *             If size > capacity the callee returns CRM_STATUS_BUFFER_TOO_SMALL
 *             and writes nothing useful; the caller grows the buffer to `size`
 *             and calls again. The value is not NUL-terminated.
 * Since: 1.0
 */
typedef struct crm_buffer {
  char* data;
  size_t capacity;
  size_t size;
} crm_buffer;

/*
 * A caller-owned buffer for an error message, filled by the callee when it
 * returns a status other than CRM_STATUS_OK.
 *   message   caller-owned storage of `capacity` bytes, or NULL.
 *   capacity  bytes at `message`; the callee writes at most capacity - 1
 *             bytes of UTF-8 plus a terminating NUL, cutting at a character
 *             boundary. With NULL or 0 the callee writes nothing.
 * Messages name what is wrong and where, never a secret value.
 * Since: 1.0
 */
typedef struct crm_error {
  char* message;
  size_t capacity;
} crm_error;

/*
 * Copies a NUL-terminated message into `error` (truncating at a UTF-8
 * character boundary) and returns `status`, so a plugin can write
 * `return crm_error_set(err, CRM_STATUS_CONFIG, "api_url is required");`.
 * Safe to call with a NULL `error` or NULL `message`.
 * Threading: touches only `error`.
 * Since: 1.0
 */
static inline crm_status crm_error_set(crm_error* error, crm_status status, const char* message) {
  size_t length = 0;
  if (error == NULL || error->message == NULL || error->capacity == 0) {
    return status;
  }
  if (message != NULL) {
    while (message[length] != '\0' && length + 1 < error->capacity) {
      ++length;
    }
    /* Do not leave half of a multi-byte UTF-8 sequence at the end. */
    if (message[length] != '\0') {
      while (length > 0 && (((unsigned char)message[length]) & 0xC0u) == 0x80u) {
        --length;
      }
    }
    for (size_t i = 0; i < length; ++i) {
      error->message[i] = message[i];
    }
  }
  error->message[length] = '\0';
  return status;
}

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* CRM_ABI_H */
