# Fails when an include crosses a boundary of the layout:
#
#   cmake -DCHECK=core -DHOST_DIR=<host> -DSDK_INCLUDE_DIR=<sdk/include> -DSOURCE_DIR=<project> -P this
#     every file under <host>/core includes only headers of host/core, of the SDK, or
#     of the system and third-party libraries (nothing of another host folder, of
#     tests/ or of plugin_support/).
#
#   cmake -DCHECK=production -DTARGETS_FILE=<file> -DSOURCE_DIR=<project> -P this
#     no production target (host, plugins, plugin_support) links crm_test_support or
#     has a source or header including a header of tests/support. TARGETS_FILE is
#     written by tests/CMakeLists.txt: CRM_PRODUCTION_TARGETS, and for each target T
#     CRM_LINKS_T (its link closure) and CRM_FILES_T (its sources and headers).
#
# Every violation is printed before the script fails, as "<file>: includes <header> ...".
cmake_minimum_required(VERSION 3.25)

set(tests_dir "${SOURCE_DIR}/tests")
set(plugin_support_include_dir "${SOURCE_DIR}/plugin_support/include")
set(violations "")
set(includes_checked 0)

# The include directives of `file` as "q:<name>" (quoted) or "a:<name>" (angle brackets).
function(includes_of file out_var)
  file(STRINGS "${file}" lines REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"]")
  set(result "")
  foreach(line IN LISTS lines)
    if(line MATCHES "^[ \t]*#[ \t]*include[ \t]*\"([^\"]+)\"")
      list(APPEND result "q:${CMAKE_MATCH_1}")
    elseif(line MATCHES "^[ \t]*#[ \t]*include[ \t]*<([^>]+)>")
      list(APPEND result "a:${CMAKE_MATCH_1}")
    endif()
  endforeach()
  set(${out_var} "${result}" PARENT_SCOPE)
endfunction()

# Whether `name` names a header of tests/support, whichever way it is spelled.
function(names_test_support name out_var)
  set(found FALSE)
  if(name MATCHES "(^|/)tests/support/" OR (name MATCHES "^support/" AND EXISTS "${tests_dir}/${name}"))
    set(found TRUE)
  endif()
  set(${out_var} ${found} PARENT_SCOPE)
endfunction()

if(CHECK STREQUAL "core")
  file(GLOB_RECURSE files LIST_DIRECTORIES false "${HOST_DIR}/core/*")
  if(NOT files)
    message(FATAL_ERROR "no files found under ${HOST_DIR}/core")
  endif()
  foreach(file IN LISTS files)
    get_filename_component(file_dir "${file}" DIRECTORY)
    includes_of("${file}" includes)
    foreach(include IN LISTS includes)
      math(EXPR includes_checked "${includes_checked} + 1")
      string(SUBSTRING "${include}" 2 -1 name)
      set(allowed TRUE)
      if(include MATCHES "^q:")
        # Quoted: host/core (by its "core/" path or beside the file) or the SDK only.
        set(allowed FALSE)
        if(name MATCHES "^core/" OR EXISTS "${SDK_INCLUDE_DIR}/${name}")
          set(allowed TRUE)
        elseif(EXISTS "${file_dir}/${name}")
          get_filename_component(resolved "${file_dir}/${name}" ABSOLUTE)
          string(FIND "${resolved}" "${HOST_DIR}/core/" at)
          if(at EQUAL 0)
            set(allowed TRUE)
          endif()
        endif()
      endif()
      # Either spelling: nothing of another host folder, of the tests or of plugin_support.
      if(NOT name MATCHES "^core/" AND EXISTS "${HOST_DIR}/${name}" AND NOT IS_DIRECTORY "${HOST_DIR}/${name}")
        set(allowed FALSE)
      endif()
      names_test_support("${name}" is_test_support)
      if(is_test_support OR EXISTS "${plugin_support_include_dir}/${name}")
        set(allowed FALSE)
      endif()
      if(NOT allowed)
        list(APPEND violations "${file}: includes ${name}, which is neither in host/core nor in the SDK")
      endif()
    endforeach()
  endforeach()
elseif(CHECK STREQUAL "production")
  include("${TARGETS_FILE}")
  if(NOT CRM_PRODUCTION_TARGETS)
    message(FATAL_ERROR "${TARGETS_FILE} names no production target")
  endif()
  foreach(target IN LISTS CRM_PRODUCTION_TARGETS)
    if("crm_test_support" IN_LIST CRM_LINKS_${target})
      list(APPEND violations "${target}: links crm_test_support, which is for tests and benchmarks only")
    endif()
    foreach(file IN LISTS CRM_FILES_${target})
      includes_of("${file}" includes)
      foreach(include IN LISTS includes)
        math(EXPR includes_checked "${includes_checked} + 1")
        string(SUBSTRING "${include}" 2 -1 name)
        names_test_support("${name}" is_test_support)
        if(is_test_support)
          list(APPEND violations "${file}: includes ${name} of tests/support, but it is built into ${target}")
        endif()
      endforeach()
    endforeach()
  endforeach()
else()
  message(FATAL_ERROR "CHECK must be core or production, not \"${CHECK}\"")
endif()

if(includes_checked EQUAL 0)
  message(FATAL_ERROR "found no include directive to check")
endif()
if(violations)
  # One line each (FATAL_ERROR would wrap them).
  foreach(violation IN LISTS violations)
    message(NOTICE "${violation}")
  endforeach()
  list(LENGTH violations count)
  message(FATAL_ERROR "include boundary crossed ${count} times")
endif()
message(STATUS "checked ${includes_checked} includes (${CHECK})")
