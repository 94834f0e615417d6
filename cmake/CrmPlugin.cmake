# crm_add_plugin(): builds one plugin library the way the host expects it.
#
#   crm_add_plugin(<name>
#     KIND connector|scorer|channel
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
# A manifest is either one plugin object or a pack:
#   {"id": ..., "kind": ..., "version": ..., "abi": "1.1", "status": ..., "description": ...,
#    "capabilities": [...], "config_schema": {...}}
#   {"abi": "1.1", "vendor": ..., "plugins": [ {id, kind, version, ...}, ... ]}
#
# UNCHECKED_MANIFEST skips the checks that the manifest matches KIND and the
# SDK's ABI; the SDK's own tests use it to build deliberately broken plugins.
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

# Appends the macros of one plugin object (JSON text) to out_var.
function(_crm_plugin_macros out_var manifest plugin_json expected_kind checked)
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
  if(checked AND expected_kind AND NOT kind STREQUAL expected_kind)
    _crm_manifest_error(${manifest} "plugin \"${id}\" is a ${kind}, but crm_add_plugin says KIND ${expected_kind}")
  endif()
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

function(_crm_generate_manifest_header name manifest expected_kind checked header_path)
  file(READ "${manifest}" manifest_json)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${manifest}")
  string(JSON abi ERROR_VARIABLE json_error GET "${manifest_json}" abi)
  if(json_error)
    _crm_manifest_error(${manifest} "missing required field \"abi\" (the SDK's is \"${CRM_ABI_MAJOR}.${CRM_ABI_MINOR}\")")
  endif()
  if(checked AND NOT abi STREQUAL "${CRM_ABI_MAJOR}.${CRM_ABI_MINOR}")
    _crm_manifest_error(${manifest} "\"abi\" is \"${abi}\" but this SDK is ${CRM_ABI_MAJOR}.${CRM_ABI_MINOR}; set it to \"${CRM_ABI_MAJOR}.${CRM_ABI_MINOR}\"")
  endif()
  set(macros "")
  string(JSON plugins_type ERROR_VARIABLE json_error TYPE "${manifest_json}" plugins)
  if(NOT json_error AND plugins_type STREQUAL "ARRAY")
    string(JSON plugin_count LENGTH "${manifest_json}" plugins)
    if(plugin_count EQUAL 0)
      _crm_manifest_error(${manifest} "\"plugins\" is empty")
    endif()
    math(EXPR last "${plugin_count} - 1")
    foreach(index RANGE ${last})
      string(JSON plugin_json GET "${manifest_json}" plugins ${index})
      _crm_plugin_macros(macros ${manifest} "${plugin_json}" "${expected_kind}" ${checked})
    endforeach()
  else()
    _crm_plugin_macros(macros ${manifest} "${manifest_json}" "${expected_kind}" ${checked})
  endif()
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
                        "SOURCES;LINK_LIBRARIES;TESTS;TEST_LINK_LIBRARIES")
  if(ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "crm_add_plugin(${name}): unknown arguments ${ARG_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "crm_add_plugin(${name}): SOURCES is required")
  endif()
  if(NOT ARG_UNCHECKED_MANIFEST AND NOT ARG_KIND IN_LIST _CRM_KNOWN_KINDS)
    message(FATAL_ERROR "crm_add_plugin(${name}): KIND must be one of ${_CRM_KNOWN_KINDS}")
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
  _crm_generate_manifest_header(${name} "${ARG_MANIFEST}" "${ARG_KIND}" ${checked}
                                "${generated_dir}/${name}_manifest.h")

  add_library(${name} MODULE ${ARG_SOURCES})
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    SUFFIX ".so"
    C_VISIBILITY_PRESET hidden
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    LIBRARY_OUTPUT_DIRECTORY "${ARG_OUTPUT_DIRECTORY}")
  target_include_directories(${name} PRIVATE "${generated_dir}")
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
    if(TARGET crm_host_testing)
      target_link_libraries(${name}_test PRIVATE crm_host_testing)
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
    gtest_discover_tests(${name}_test DISCOVERY_TIMEOUT 30)
  endif()
endfunction()
