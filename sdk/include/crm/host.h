/*
 * crm/host.h - the services the host offers to every plugin.
 *
 * The host passes a `const crm_host*` to every plugin call. The table and its
 * context are borrowed for the duration of that call only: a plugin must not
 * keep the pointer, nor call it from another thread after the call returned.
 * The next call hands it again. This is what lets the host run a plugin in
 * a process of its own (crmhost-plugin-worker, "isolation": "process") with
 * the very same SDK and binary: there every service below is answered by the
 * host over a socket, for this plugin only, and is_cancelled reads a flag in
 * memory shared with the host. A plugin cannot tell the two modes apart,
 * except that a crash, a hang past the call's deadline or running out of
 * memory ends only its own process, and that getenv() sees a clean
 * environment (secrets come through secret_get).
 *
 * Every service takes the table's `context` as its first argument. Every
 * service may be called from the thread the host called the plugin on, and
 * from any thread the plugin starts and joins before returning from that call.
 *
 * Reading the table: check `struct_size` before using a field that a newer
 * minor version added (CRM_HOST_HAS), and treat a NULL function as
 * "not supported". A host only loads plugins whose minor version is not newer
 * than its own, so a plugin built for 1.2 always finds the 1.2 fields; the
 * check matters for code shared between plugins of several targets.
 * The fields added after 1.0 are hidden when CRM_TARGET_ABI_MINOR is older
 * than the version that added them (see crm/abi.h).
 * Since: 1.0 for every field up to is_cancelled; 1.2 for the typed
 * configuration getters after it; 1.3 for the plugin state services.
 */
#ifndef CRM_HOST_H
#define CRM_HOST_H

#include "crm/abi.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Opaque host state; only ever passed back to the host's own functions. Since: 1.0 */
typedef struct crm_host_context crm_host_context;

/*
 * True when the struct `s` (which starts with uint32_t struct_size) is large
 * enough to contain `field`. Use it before reading a field added after 1.0.
 * Since: 1.0
 */
#define CRM_HOST_HAS(s, type, field) \
  ((s) != NULL && (s)->struct_size >= offsetof(type, field) + sizeof(((type*)0)->field))

typedef struct crm_host {
  /* sizeof(crm_host) as compiled into the host. Since: 1.0 */
  uint32_t struct_size;
  /* The host's ABI version, CRM_ABI_PACK(major, minor). Since: 1.0 */
  uint32_t abi_version;
  /* Opaque; pass as the first argument of every function below. Since: 1.0 */
  crm_host_context* context;

  /*
   * crm_host_log: writes one log line attributed to the calling plugin.
   * Required: yes (never NULL).
   * message: borrowed for the call; the host copies it. Secret values that
   *          the host knows of are masked before the line is written.
   * Threading: any thread during a host call (see top of file).
   * Since: 1.0
   */
  void (*log)(crm_host_context* context, crm_log_level level, crm_str message);

  /*
   * crm_host_now_ms: the host's clock, milliseconds since the Unix epoch
   * (UTC). Plugins use it instead of the system clock so that tests can move
   * time (SLA, backoff, escalation) without waiting.
   * Required: yes.  Threading: any.  Since: 1.0
   */
  int64_t (*now_ms)(crm_host_context* context);

  /*
   * crm_host_config_get: the plugin's configuration value at `json_pointer`
   * (RFC 6901; an empty pointer means the whole configuration), written as
   * JSON text into `out` (see crm_buffer for the size protocol). The
   * configuration has already been validated against the plugin's schema.
   * Secret fields appear as their reference ({"env": "NAME"}), never as the
   * value: use secret_get for those.
   * Returns: OK; NOT_FOUND if nothing is at the pointer; BUFFER_TOO_SMALL.
   * Ownership: `out` is the plugin's; the host writes into it.
   * Required: yes.  Threading: any.  Since: 1.0
   */
  crm_status (*config_get)(crm_host_context* context, crm_str json_pointer, crm_buffer* out);

  /*
   * crm_host_secret_get: the resolved value of the secret field at
   * `json_pointer` of the plugin's configuration (a field its schema marks
   * with "x-crm-secret": true), written into `out` as raw bytes. The plugin
   * must not log it or put it in an error message.
   * Returns: OK; NOT_FOUND if that field is not a secret or is absent;
   *          CONFIG if the referenced environment variable is not set;
   *          BUFFER_TOO_SMALL.
   * Required: yes.  Threading: any.  Since: 1.0
   */
  crm_status (*secret_get)(crm_host_context* context, crm_str json_pointer, crm_buffer* out);

  /*
   * crm_host_checkpoint_read: the last cursor committed for this plugin
   * instance (an opaque string the plugin chose, typically a timestamp or a
   * JSON object), written into `out`.
   * Returns: OK; NOT_FOUND if no checkpoint was ever written; BUFFER_TOO_SMALL.
   * Required: yes (hosts without storage return NOT_FOUND).  Since: 1.0
   */
  crm_status (*checkpoint_read)(crm_host_context* context, crm_buffer* out);

  /*
   * crm_host_checkpoint_write: stores `cursor` as this plugin instance's
   * checkpoint. Durable when the call returns OK. Connectors that hand the
   * cursor back with a batch (so that batch and cursor commit together) do
   * not need this call.
   * cursor: borrowed for the call; the host copies it.
   * Returns: OK; RETRIABLE if storage is busy; FATAL if storage failed.
   * Required: yes.  Since: 1.0
   */
  crm_status (*checkpoint_write)(crm_host_context* context, crm_str cursor);

  /*
   * crm_host_report_bad_record: quarantines one input record the plugin
   * could not use, with the reason, so that one bad record does not stop a
   * sync. The host keeps `raw_record` (for re-processing after a fix) and
   * `reason` (shown to people: say what and where, e.g. "line 42: column
   * 'amount' is not a number").
   * Both strings: borrowed for the call; the host copies them.
   * Returns: OK; FATAL if the quarantine could not be written.
   * Required: yes.  Threading: any.  Since: 1.0
   */
  crm_status (*report_bad_record)(crm_host_context* context, crm_str raw_record, crm_str reason);

  /*
   * crm_host_is_cancelled: true once the user asked the run to stop (Ctrl-C,
   * SIGTERM) or the call's deadline passed. Long-running calls poll it at
   * batch boundaries and return CRM_STATUS_CANCELLED.
   * Required: yes.  Threading: any.  Since: 1.0
   */
  bool (*is_cancelled)(crm_host_context* context);

#if CRM_TARGET_ABI_MINOR >= 2
  /*
   * Typed configuration getters (Since: 1.2). Each reads the plugin's
   * configuration (validated against its schema, defaults filled in, secrets
   * as their {"env": ...} reference) at `json_pointer`, RFC 6901: "" is the
   * whole configuration, "/smtp/port" a member of a member, "/hosts/0" the
   * first item of an array, "~1" and "~0" stand for "/" and "~" in a name.
   * They spare a C plugin a JSON decoder: config_get returns JSON text.
   *
   * Every getter returns:
   *   CRM_STATUS_OK                the value was written to `out`;
   *   CRM_STATUS_NOT_FOUND         nothing is at the pointer, or a JSON null
   *                                is (null counts as absent);
   *   CRM_STATUS_WRONG_TYPE        a value is there but not of the getter's
   *                                type (a secret field is an object here:
   *                                read it with secret_get); `out` untouched;
   *   CRM_STATUS_INVALID_ARGUMENT  `json_pointer` is not RFC 6901 (not "" and
   *                                not starting with "/", or a "~" not
   *                                followed by 0 or 1), or `out` is NULL;
   *   CRM_STATUS_BUFFER_TOO_SMALL  config_get_string only (crm_buffer protocol).
   * json_pointer: borrowed for the call. out: caller-owned; written only on OK
   * (and `size` on BUFFER_TOO_SMALL). Nothing the host writes is kept by it.
   * Required: yes in a 1.2 host.  Threading: any (see top of file).
   */

  /*
   * crm_host_config_get_string: a JSON string, unescaped, as raw UTF-8 bytes
   * (not NUL-terminated: reserve a byte and add it yourself for C strings).
   * Since: 1.2
   */
  crm_status (*config_get_string)(crm_host_context* context, crm_str json_pointer, crm_buffer* out);

  /*
   * crm_host_config_get_int: a JSON number with an integral value that fits
   * in int64_t (5 and 5.0 are integers; 5.5, 1e300 and strings are
   * WRONG_TYPE). Since: 1.2
   */
  crm_status (*config_get_int)(crm_host_context* context, crm_str json_pointer, int64_t* out);

  /* crm_host_config_get_number: any JSON number, as a double. Since: 1.2 */
  crm_status (*config_get_number)(crm_host_context* context, crm_str json_pointer, double* out);

  /* crm_host_config_get_bool: JSON true or false (not 0/1, not "true"). Since: 1.2 */
  crm_status (*config_get_bool)(crm_host_context* context, crm_str json_pointer, bool* out);

  /*
   * crm_host_config_get_array_length: the number of items of a JSON array,
   * so a plugin can walk it with "/name/0", "/name/1"... Since: 1.2
   */
  crm_status (*config_get_array_length)(crm_host_context* context, crm_str json_pointer, size_t* out);
#endif
#if CRM_TARGET_ABI_MINOR >= 3
  /*
   * Plugin state (Since: 1.3): a durable, ordered key/value map per plugin
   * instance, for what a plugin must remember between calls and runs but
   * cannot carry in its cursor (a connector comparing a source's current
   * state with the previous pass's, one key per source object). Keys and
   * values are arbitrary bytes; keys order bytewise (memcmp, shorter first),
   * on every store backend.
   *
   * Atomicity: during a connector's fetch, writes are held by the host and
   * committed in the transaction of that call's batch and its cursor, so
   * state and cursor never disagree after a crash; a fetch that fails
   * (any status but OK) leaves the state as it was. Reads in that call see
   * its own pending writes. Outside a fetch, a write is durable on return.
   * Cost: each call is one indexed store access; state of a few hundred
   * thousand keys of a few hundred bytes each is the intended scale.
   * key, value: borrowed for the call; the host copies them. An empty key
   * is INVALID_ARGUMENT.
   * Required: yes in a 1.3 host.  Threading: any (see top of file).
   */

  /*
   * crm_host_state_get: the value stored under `key`, written into `out`.
   * Returns: OK; NOT_FOUND; BUFFER_TOO_SMALL (crm_buffer protocol);
   *          INVALID_ARGUMENT; FATAL if the store failed.
   * Since: 1.3
   */
  crm_status (*state_get)(crm_host_context* context, crm_str key, crm_buffer* out);

  /*
   * crm_host_state_put: stores `value` under `key`, replacing any value.
   * Returns: OK; INVALID_ARGUMENT; FATAL if the store failed.
   * Since: 1.3
   */
  crm_status (*state_put)(crm_host_context* context, crm_str key, crm_str value);

  /*
   * crm_host_state_delete: removes `key` (OK when it was not there).
   * Returns: OK; INVALID_ARGUMENT; FATAL if the store failed.
   * Since: 1.3
   */
  crm_status (*state_delete)(crm_host_context* context, crm_str key);

  /*
   * crm_host_state_next: the smallest stored key greater than `after_key`
   * (an empty `after_key`: the smallest key), written into `key_out`, so a
   * plugin walks its keys in order, or from a prefix on. Deleting or
   * replacing the key just returned does not disturb the walk.
   * Returns: OK; NOT_FOUND past the last key; BUFFER_TOO_SMALL;
   *          FATAL if the store failed.
   * Since: 1.3
   */
  crm_status (*state_next)(crm_host_context* context, crm_str after_key, crm_buffer* key_out);
#endif
} crm_host;

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* CRM_HOST_H */
