# crm_add_plugin(): builds one plugin library the way the host expects it.
#
#   crm_add_plugin(<name>
#     KIND connector|scorer|channel     # the kind of every plugin of the library, or
#     KINDS <kind>...                   # the kinds of a pack holding several (KINDS connector channel)
#     SOURCES <file>...                 # C or C++ sources of the plugin
#     [MANIFEST <plugin.json>]          # default: plugin.json beside the CMakeLists.txt
#     [LINK_LIBRARIES <lib>...]         # private dependencies of the plugin
#     [TESTS <file>...]                 # GoogleTest sources, built as <name>_test
#     [TEST_LINK_LIBRARIES <lib>...]
#     [OUTPUT_DIRECTORY <dir>])         # default: CRM_PLUGIN_OUTPUT_DIR, else <build>/plugins
#
# It produces <dir>/<name>.so (no "lib" prefix, hidden visibility except the two
# entry functions) and copies the manifest beside it as <dir>/<name>.json,
# which is how the host finds a library's manifest.
#
# From the manifest it generates <name>_manifest.h, on the plugin's include
# path, with one set of macros per plugin id (KEY = id in upper case, every
# character outside [A-Z0-9] turned into _):
#   CRM_MANIFEST_<KEY>_ID, _KIND, _VERSION, _DESCRIPTION, _CONFIG_SCHEMA (a C
#   string of the JSON schema, or NULL), _CAPABILITIES (CRM_CAP_* bits)
# so that the compiled descriptor and the manifest cannot drift apart.
#
# A manifest is either one plugin object or a pack (every field: the SDK's README.md):
#   {"id": ..., "kind": ..., "version": ..., "abi": "1.2", "status": ..., "description": ...,
#    "capabilities": [...], "config_schema": {...}}
#   {"abi": "1.2", "vendor": ..., "plugins": [ {id, kind, version, ...}, ... ]}
#
# Checks, at configure time: every plugin's kind is one of KIND/KINDS and every
# kind named there is used; "abi" has this SDK's major and a minor no newer
# than the SDK's (channels need 1.1 or newer); ids, kinds and capabilities are
# known. An "abi" older than the SDK targets that minor: the helper compiles the
# plugin with -DCRM_TARGET_ABI_MINOR=<minor> (see crm/abi.h), so it reports that
# version and fills structs of that version's size.
#
# UNCHECKED_MANIFEST skips the checks (not the CRM_TARGET_ABI_MINOR of a
# compatible "abi"); the SDK's own tests use it to build deliberately broken
# plugins. A vendor never needs it.
include_guard(GLOBAL)

set(_CRM_KNOWN_CAPABILITIES thread_safe explain incremental)
set(_CRM_KNOWN_KINDS connector scorer channel)

function(_crm_c_string_literal out_var text)
  string(REPLACE "\\" "\\\\" text "${text}")
  string(REPLACE "\"" "\\\"" text "${text}")
  string(REPLACE "\n" "\\n" text "${text}")
  string(REPLACE "\r" "\\r" text "${text}")
  string(REPLACE "\t" "\\t" text "${text}")
  set(${out_var} "\"${text}\"" PARENT_SCOPE)
endfunction()

function(_crm_manifest_error manifest message)
  message(FATAL_ERROR "crm_add_plugin: ${manifest}: ${message}")
endfunction()

# Appends the macros of one plugin object (JSON text) to out_var, and its kind to kinds_var.
function(_crm_plugin_macros out_var kinds_var manifest plugin_json expected_kinds checked)
  foreach(field id kind version)
    string(JSON value ERROR_VARIABLE json_error GET "${plugin_json}" ${field})
    if(json_error OR value STREQUAL "")
      _crm_manifest_error(${manifest} "missing required field \"${field}\"")
    endif()
    set(${field} "${value}")
  endforeach()
  if(NOT kind IN_LIST _CRM_KNOWN_KINDS)
    _crm_manifest_error(${manifest} "plugin \"${id}\": kind \"${kind}\" is not one of ${_CRM_KNOWN_KINDS}")
  endif()
  if(checked AND NOT kind IN_LIST expected_kinds)
    list(JOIN expected_kinds " " expected_text)
    list(LENGTH expected_kinds expected_count)
    if(expected_count EQUAL 1)
      _crm_manifest_error(${manifest} "plugin \"${id}\" is a ${kind}, but crm_add_plugin says KIND ${expected_text}; \
a pack of several kinds says KINDS ${expected_text} ${kind}")
    endif()
    _crm_manifest_error(${manifest} "plugin \"${id}\" is a ${kind}, but crm_add_plugin says KINDS ${expected_text}; \
add ${kind} to KINDS")
  endif()
  set(kinds "${${kinds_var}}")
  list(APPEND kinds ${kind})
  set(${kinds_var} "${kinds}" PARENT_SCOPE)
  string(JSON description ERROR_VARIABLE json_error GET "${plugin_json}" description)
  if(json_error)
    set(description "")
  endif()
  string(JSON schema_type ERROR_VARIABLE json_error TYPE "${plugin_json}" config_schema)
  if(json_error)
    set(schema_literal "NULL")
  else()
    string(JSON schema GET "${plugin_json}" config_schema)
    _crm_c_string_literal(schema_literal "${schema}")
  endif()
  set(capability_bits "0")
  string(JSON capability_count ERROR_VARIABLE json_error LENGTH "${plugin_json}" capabilities)
  if(NOT json_error AND capability_count GREATER 0)
    math(EXPR last "${capability_count} - 1")
    foreach(index RANGE ${last})
      string(JSON capability GET "${plugin_json}" capabilities ${index})
      if(NOT capability IN_LIST _CRM_KNOWN_CAPABILITIES)
        _crm_manifest_error(${manifest} "plugin \"${id}\": unknown capability \"${capability}\" (known: ${_CRM_KNOWN_CAPABILITIES})")
      endif()
      string(TOUPPER "${capability}" capability_upper)
      string(APPEND capability_bits " | CRM_CAP_${capability_upper}")
    endforeach()
  endif()
  string(TOUPPER "${id}" key)
  string(REGEX REPLACE "[^A-Z0-9]" "_" key "${key}")
  string(TOUPPER "${kind}" kind_upper)
  _crm_c_string_literal(id_literal "${id}")
  _crm_c_string_literal(version_literal "${version}")
  _crm_c_string_literal(description_literal "${description}")
  set(text "${${out_var}}")
  string(APPEND text
    "#define CRM_MANIFEST_${key}_ID ${id_literal}\n"
    "#define CRM_MANIFEST_${key}_KIND CRM_KIND_${kind_upper}\n"
    "#define CRM_MANIFEST_${key}_VERSION ${version_literal}\n"
    "#define CRM_MANIFEST_${key}_DESCRIPTION ${description_literal}\n"
    "#define CRM_MANIFEST_${key}_CONFIG_SCHEMA ${schema_literal}\n"
    "#define CRM_MANIFEST_${key}_CAPABILITIES ((crm_capabilities)(${capability_bits}))\n\n")
  set(${out_var} "${text}" PARENT_SCOPE)
endfunction()

# Sets target_minor_var to the minor the plugin targets, or "" when the manifest's
# "abi" is not one this SDK can build (an error unless unchecked).
function(_crm_generate_manifest_header name manifest expected_kinds checked header_path target_minor_var)
  file(READ "${manifest}" manifest_json)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${manifest}")
  set(sdk_abi "${CRM_ABI_MAJOR}.${CRM_ABI_MINOR}")
  string(JSON abi ERROR_VARIABLE json_error GET "${manifest_json}" abi)
  if(json_error)
    _crm_manifest_error(${manifest} "missing required field \"abi\" (this SDK builds \"${CRM_ABI_MAJOR}.0\" to \"${sdk_abi}\")")
  endif()
  set(target_minor "")
  if(abi MATCHES "^([0-9]+)\\.([0-9]+)$")
    if(CMAKE_MATCH_1 EQUAL CRM_ABI_MAJOR AND NOT CMAKE_MATCH_2 GREATER CRM_ABI_MINOR)
      set(target_minor ${CMAKE_MATCH_2})
    endif()
  endif()
  if(checked AND target_minor STREQUAL "")
    _crm_manifest_error(${manifest} "\"abi\" is \"${abi}\" but this SDK (${sdk_abi}) builds \"${CRM_ABI_MAJOR}.0\" to \
\"${sdk_abi}\"; set it to \"${sdk_abi}\", or to an older \"${CRM_ABI_MAJOR}.N\" to load in older hosts too")
  endif()
  set(macros "")
  set(kinds "")
  string(JSON plugins_type ERROR_VARIABLE json_error TYPE "${manifest_json}" plugins)
  if(NOT json_error AND plugins_type STREQUAL "ARRAY")
    string(JSON plugin_count LENGTH "${manifest_json}" plugins)
    if(plugin_count EQUAL 0)
      _crm_manifest_error(${manifest} "\"plugins\" is empty")
    endif()
    math(EXPR last "${plugin_count} - 1")
    foreach(index RANGE ${last})
      string(JSON plugin_json GET "${manifest_json}" plugins ${index})
      _crm_plugin_macros(macros kinds ${manifest} "${plugin_json}" "${expected_kinds}" ${checked})
    endforeach()
  else()
    _crm_plugin_macros(macros kinds ${manifest} "${manifest_json}" "${expected_kinds}" ${checked})
  endif()
  if(checked)
    foreach(expected IN LISTS expected_kinds)
      if(NOT expected IN_LIST kinds)
        _crm_manifest_error(${manifest} "crm_add_plugin says the library holds a ${expected}, but the manifest declares \
none; remove ${expected} from KIND/KINDS or declare the ${expected} in the manifest")
      endif()
    endforeach()
    if("channel" IN_LIST kinds AND target_minor LESS 1)
      _crm_manifest_error(${manifest} "\"abi\" is \"${abi}\" but channels arrived with ABI ${CRM_ABI_MAJOR}.1; set \"abi\" to \
\"${CRM_ABI_MAJOR}.1\" or newer")
    endif()
  endif()
  set(${target_minor_var} "${target_minor}" PARENT_SCOPE)
  string(TOUPPER "${name}" guard)
  string(REGEX REPLACE "[^A-Z0-9]" "_" guard "${guard}")
  set(content "/* Generated by crm_add_plugin from ${manifest}. Do not edit. */
#ifndef CRM_MANIFEST_${guard}_H
#define CRM_MANIFEST_${guard}_H
#include \"crm/abi.h\"

${macros}#endif
")
  # Rewrite only on change so that an unchanged manifest does not rebuild the plugin.
  set(previous "")
  if(EXISTS "${header_path}")
    file(READ "${header_path}" previous)
  endif()
  if(NOT previous STREQUAL content)
    file(WRITE "${header_path}" "${content}")
  endif()
endfunction()

function(crm_add_plugin name)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "UNCHECKED_MANIFEST" "KIND;MANIFEST;OUTPUT_DIRECTORY"
                        "KINDS;SOURCES;LINK_LIBRARIES;TESTS;TEST_LINK_LIBRARIES")
  if(ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "crm_add_plugin(${name}): unknown arguments ${ARG_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "crm_add_plugin(${name}): SOURCES is required")
  endif()
  if(ARG_KIND AND ARG_KINDS)
    message(FATAL_ERROR "crm_add_plugin(${name}): give KIND (one kind) or KINDS (several), not both")
  endif()
  set(kinds ${ARG_KIND} ${ARG_KINDS})
  list(REMOVE_DUPLICATES kinds)
  if(NOT ARG_UNCHECKED_MANIFEST)
    if(NOT kinds)
      message(FATAL_ERROR "crm_add_plugin(${name}): KIND (or KINDS for a pack of several kinds) is required, from \
${_CRM_KNOWN_KINDS}")
    endif()
    foreach(kind IN LISTS kinds)
      if(NOT kind IN_LIST _CRM_KNOWN_KINDS)
        message(FATAL_ERROR "crm_add_plugin(${name}): kind \"${kind}\" is not one of ${_CRM_KNOWN_KINDS}")
      endif()
    endforeach()
  endif()
  if(NOT ARG_MANIFEST)
    set(ARG_MANIFEST "${CMAKE_CURRENT_SOURCE_DIR}/plugin.json")
  endif()
  get_filename_component(ARG_MANIFEST "${ARG_MANIFEST}" ABSOLUTE)
  if(NOT EXISTS "${ARG_MANIFEST}")
    message(FATAL_ERROR "crm_add_plugin(${name}): manifest ${ARG_MANIFEST} does not exist")
  endif()
  if(NOT ARG_OUTPUT_DIRECTORY)
    if(CRM_PLUGIN_OUTPUT_DIR)
      set(ARG_OUTPUT_DIRECTORY "${CRM_PLUGIN_OUTPUT_DIR}")
    else()
      set(ARG_OUTPUT_DIRECTORY "${CMAKE_BINARY_DIR}/plugins")
    endif()
  endif()
  set(checked ON)
  if(ARG_UNCHECKED_MANIFEST)
    set(checked OFF)
  endif()

  set(generated_dir "${CMAKE_CURRENT_BINARY_DIR}/${name}_generated")
  _crm_generate_manifest_header(${name} "${ARG_MANIFEST}" "${kinds}" ${checked}
                                "${generated_dir}/${name}_manifest.h" target_minor)

  add_library(${name} MODULE ${ARG_SOURCES})
  # Every plugin built in this project, for checks over production targets (tests/CMakeLists.txt).
  set_property(GLOBAL APPEND PROPERTY CRM_PLUGIN_TARGETS ${name})
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    SUFFIX ".so"
    C_VISIBILITY_PRESET hidden
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    LIBRARY_OUTPUT_DIRECTORY "${ARG_OUTPUT_DIRECTORY}")
  target_include_directories(${name} PRIVATE "${generated_dir}")
  if(NOT target_minor STREQUAL "")
    target_compile_definitions(${name} PRIVATE CRM_TARGET_ABI_MINOR=${target_minor})
  endif()
  target_link_libraries(${name} PRIVATE Crm::sdk ${ARG_LINK_LIBRARIES})
  if(NOT CRM_SANITIZE)
    # An unresolved symbol fails the link here rather than the load in the host.
    target_link_options(${name} PRIVATE -Wl,--no-undefined)
  endif()
  if(CRM_WARNINGS_AS_ERRORS AND TARGET crm_project_warnings)
    target_link_libraries(${name} PRIVATE crm_project_warnings)
  endif()
  add_custom_command(TARGET ${name} POST_BUILD
    COMMAND ${CMAKE_COMMAND} -E copy_if_different "${ARG_MANIFEST}" "${ARG_OUTPUT_DIRECTORY}/${name}.json"
    VERBATIM)

  if(ARG_TESTS AND TARGET GTest::gtest_main)
    include(GoogleTest)
    add_executable(${name}_test ${ARG_TESTS})
    target_include_directories(${name}_test PRIVATE "${generated_dir}")
    target_link_libraries(${name}_test PRIVATE GTest::gtest_main Crm::sdk ${ARG_TEST_LINK_LIBRARIES})
    if(TARGET crm_test_support)
      target_link_libraries(${name}_test PRIVATE crm_test_support)
    endif()
    if(CRM_WARNINGS_AS_ERRORS AND TARGET crm_project_warnings)
      target_link_libraries(${name}_test PRIVATE crm_project_warnings)
    endif()
    target_compile_definitions(${name}_test PRIVATE
      CRM_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
      CRM_PLUGIN_NAME="${name}"
      CRM_PLUGIN_FILE="$<TARGET_FILE:${name}>"
      CRM_PLUGIN_DIR="${ARG_OUTPUT_DIRECTORY}")
    add_dependencies(${name}_test ${name})
    # In this project, tests that use a store run on both store backends
    # (cmake/CrmTestBackends.cmake); elsewhere, and for the rest, once.
    set(uses_store FALSE)
    foreach(source IN LISTS ARG_TESTS)
      get_filename_component(source_path "${source}" ABSOLUTE)
      file(READ "${source_path}" source_text)
      if(source_text MATCHES "SyncHarness|store_locator")
        set(uses_store TRUE)
      endif()
    endforeach()
    if(uses_store AND COMMAND crm_discover_tests_on_both_backends)
      # A plugin's tests reach the store through the host's sync engine, whose PostgreSQL code the
      # host's own suites cover under the sanitizers.
      crm_discover_tests_on_both_backends(${name}_test SQLITE_UNDER_SANITIZERS)
    else()
      gtest_discover_tests(${name}_test DISCOVERY_TIMEOUT 30)
    endif()
  endif()
endfunction()
