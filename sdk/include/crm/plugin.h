/*
 * crm/plugin.h - what a plugin library exports: its ABI version, the list of
 * plugins it holds, and each plugin's descriptor.
 *
 * Loading sequence (what the host does, in this order)
 * ----------------------------------------------------
 * 1. Reads the manifest beside the library (`NAME.json` next to `NAME.so`)
 *    and refuses an incompatible "abi" before opening the library at all.
 * 2. Opens the library and calls crm_on_abi_version(). It must be free of
 *    side effects; the host refuses an incompatible version without calling
 *    anything else.
 * 3. Calls crm_on_library() and checks every descriptor (struct sizes, kind,
 *    id, that the manifest agrees, that no other loaded plugin has the id).
 * 4. Validates the plugin's configuration against its config schema and
 *    calls `create`. A plugin that fails any step is refused with a reason;
 *    the host carries on with the others.
 * 5. Uses the instance through its kind's API (crm/scorer.h, ...), calls
 *    `destroy` at shutdown and never unloads the library before the process
 *    exits.
 *
 * A library may hold several plugins, of one kind or of several (a vendor's
 * pack: a connector and a channel, say). Its manifest then lists them all under
 * "plugins" (see the SDK's README.md for every manifest field), and
 * crm_add_plugin(... KINDS connector channel ...) builds it.
 */
#ifndef CRM_PLUGIN_H
#define CRM_PLUGIN_H

#include "crm/abi.h"
#include "crm/host.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The names of the two functions every plugin library exports. They are
 * functions rather than data symbols because only functions are portably
 * looked up by name.
 * Since: 1.0
 */
#define CRM_ABI_VERSION_SYMBOL "crm_on_abi_version"
#define CRM_LIBRARY_SYMBOL "crm_on_library"

/* A plugin's own state, opaque to the host. Since: 1.0 */
typedef struct crm_plugin_instance crm_plugin_instance;

/*
 * crm_on_create: makes one instance of the plugin.
 * host:        services for the duration of this call only (see crm/host.h).
 * config_json: the plugin's configuration as JSON text, already validated
 *              against config_schema_json, secrets replaced by references.
 *              Borrowed for the call: copy what you keep.
 * out_instance: set to the new instance on CRM_STATUS_OK; owned by the host
 *              from then on and released with `destroy`.
 * error:       caller-owned message buffer (crm_error).
 * Returns: OK; CONFIG when the configuration cannot work (say which field and
 *          why); RETRIABLE when a dependency is down at start; FATAL otherwise.
 * Required: yes.  Threading: called once per instance, never concurrently
 * with any other call on that instance.  Since: 1.0
 */
typedef crm_status (*crm_on_create_fn)(const crm_host* host, crm_str config_json, crm_plugin_instance** out_instance,
                                       crm_error* error);

/*
 * crm_on_destroy: releases an instance made by `create`. Must not fail.
 * Required: yes.  Threading: called once, after every other call on that
 * instance has returned.  Since: 1.0
 */
typedef void (*crm_on_destroy_fn)(crm_plugin_instance* instance);

/*
 * The description of one plugin. Lives in static storage of the library
 * (plugin-owned, immutable, valid until the process exits).
 * Since: 1.0 for every field below.
 */
typedef struct crm_plugin_descriptor {
  /* sizeof(crm_plugin_descriptor) as compiled into the plugin. Required. */
  uint32_t struct_size;
  /* One of CRM_KIND_*. Required. */
  crm_plugin_kind kind;
  /* Unique id, [a-z0-9_.-]{1,64}, e.g. "scorer_health". Required. */
  const char* id;
  /* The plugin's own version, semantic versioning ("1.4.2"). Required. */
  const char* version;
  /* One line for people. Required (may be ""). */
  const char* description;
  /*
   * JSON Schema (the subset documented in README, draft 7 keywords) of the
   * plugin's configuration object, as NUL-terminated JSON text. Fields whose
   * values are secrets carry "x-crm-secret": true. NULL means the plugin takes
   * no configuration.
   */
  const char* config_schema_json;
  /* CRM_CAP_* bits. */
  crm_capabilities capabilities;
  /* Required: makes an instance. */
  crm_on_create_fn create;
  /* Required: releases an instance. */
  crm_on_destroy_fn destroy;
  /*
   * The kind's API table, e.g. a `const crm_scorer_api*` for
   * CRM_KIND_SCORER. Required. It starts with its own struct_size.
   */
  const void* kind_api;
} crm_plugin_descriptor;

/*
 * What crm_on_library() returns: the plugins of this library.
 * Lives in static storage of the library. Since: 1.0 for every field below.
 */
typedef struct crm_library {
  /* sizeof(crm_library) as compiled into the plugin. Required. */
  uint32_t struct_size;
  /* The same value crm_on_abi_version() returns. Required. */
  uint32_t abi_version;
  /* Number of entries in `plugins`. Required, at least 1. */
  size_t plugin_count;
  /* plugin_count pointers to descriptors. Required. */
  const crm_plugin_descriptor* const* plugins;
} crm_library;

/*
 * crm_on_abi_version: returns CRM_TARGET_ABI_VERSION as the library was
 * compiled (CRM_ABI_VERSION unless CRM_TARGET_ABI_MINOR names an older minor;
 * see crm/abi.h); it must equal the manifest's "abi".
 * Required: yes. Must have no side effects: the host calls it before deciding
 * whether to run any other code of the library.
 * Threading: any.  Since: 1.0
 */
typedef uint32_t (*crm_on_abi_version_fn)(void);

/*
 * crm_on_library: returns the library's plugin list (plugin-owned, static,
 * never NULL). Called once, after crm_on_abi_version() was accepted.
 * Required: yes.  Threading: any.  Since: 1.0
 */
typedef const crm_library* (*crm_on_library_fn)(void);

/*
 * Declares and exports the two entry functions of a plugin library written
 * in C; both report CRM_TARGET_ABI_VERSION (see crm/abi.h), which must equal
 * the manifest's "abi". Use once per library:
 *
 *   static const crm_plugin_descriptor* const my_plugins[] = {&my_scorer};
 *   CRM_DEFINE_LIBRARY(my_plugins)
 *
 * Since: 1.0
 */
#define CRM_DEFINE_LIBRARY(descriptor_array)                                                                       \
  CRM_EXPORT uint32_t crm_on_abi_version(void);                                                                    \
  CRM_EXPORT uint32_t crm_on_abi_version(void) {                                                                   \
    return CRM_TARGET_ABI_VERSION;                                                                                 \
  }                                                                                                                \
  CRM_EXPORT const crm_library* crm_on_library(void);                                                              \
  CRM_EXPORT const crm_library* crm_on_library(void) {                                                             \
    static const crm_library library = {sizeof(crm_library), CRM_TARGET_ABI_VERSION,                               \
                                        sizeof(descriptor_array) / sizeof(descriptor_array[0]), descriptor_array}; \
    return &library;                                                                                               \
  }

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* CRM_PLUGIN_H */
