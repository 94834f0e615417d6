# The store has two backends, and every test that touches it runs on both:
# once as it is (SQLite files in temporary folders), and once more with the
# suffix ".postgresql" against one PostgreSQL 15 server that ctest starts for
# the run (fixture "postgresql", tests/support/postgresql_server.sh), each
# test in databases of its own (tests/support/test_database.hpp).
include(GoogleTest)

# Under the sanitizers (CRM_SANITIZE) the ".postgresql" run leaves out the tests that start crmhost,
# the plugins' own tests and the long backtests: they run on both backends in the plain suite, and
# under the sanitizers on SQLite, while the in-process suites that reach the PostgreSQL backend's own
# code (the store, the application core, services, alerts, win-back, the sync engine's bulk COPY)
# still run on both. This keeps CI's two suites (scripts/test.sh, then --sanitize) within its time
# on 2 cores (the browser test, web.app, likewise runs in the plain suite only);
# CRM_SANITIZE_FULL_SUITE=ON runs everything on both, the browser test included.
option(CRM_SANITIZE_FULL_SUITE "Under CRM_SANITIZE, run every test on PostgreSQL too, and the browser test" OFF)
# Whether this build's suite is the trimmed sanitizer suite described above.
set(CRM_TRIMMED_SANITIZER_SUITE OFF)
if(CRM_SANITIZE AND NOT CRM_SANITIZE_FULL_SUITE)
  set(CRM_TRIMMED_SANITIZER_SUITE ON)
endif()

set(CRM_TEST_POSTGRESQL_DIR ${CMAKE_BINARY_DIR}/postgresql-test)
add_test(NAME postgresql.server.start
  COMMAND ${PROJECT_SOURCE_DIR}/tests/support/postgresql_server.sh start ${CRM_TEST_POSTGRESQL_DIR})
add_test(NAME postgresql.server.stop
  COMMAND ${PROJECT_SOURCE_DIR}/tests/support/postgresql_server.sh stop ${CRM_TEST_POSTGRESQL_DIR})
set_tests_properties(postgresql.server.start PROPERTIES FIXTURES_SETUP postgresql TIMEOUT 120)
set_tests_properties(postgresql.server.stop PROPERTIES FIXTURES_CLEANUP postgresql)

# crm_discover_tests_on_both_backends(TARGET [SQLITE_ONLY filter] [POSTGRESQL_ONLY filter]
#                                     [SQLITE_UNDER_SANITIZERS | SKIPPED_ON_POSTGRESQL_UNDER_SANITIZERS filter]
#                                     [gtest_discover_tests args...])
# Filters are GoogleTest patterns (a:b:c). SQLITE_ONLY and POSTGRESQL_ONLY name tests that concern one
# backend only. In the trimmed sanitizer suite (CRM_TRIMMED_SANITIZER_SUITE), SQLITE_UNDER_SANITIZERS
# leaves the ".postgresql" run out and SKIPPED_ON_POSTGRESQL_UNDER_SANITIZERS leaves the tests it
# names out of it.
function(crm_discover_tests_on_both_backends target)
  cmake_parse_arguments(PARSE_ARGV 1 BACKENDS "SQLITE_UNDER_SANITIZERS"
    "SQLITE_ONLY;POSTGRESQL_ONLY;SKIPPED_ON_POSTGRESQL_UNDER_SANITIZERS" "")
  if(BACKENDS_SQLITE_UNDER_SANITIZERS AND BACKENDS_SKIPPED_ON_POSTGRESQL_UNDER_SANITIZERS)
    message(FATAL_ERROR "crm_discover_tests_on_both_backends(${target}): give SQLITE_UNDER_SANITIZERS or "
      "SKIPPED_ON_POSTGRESQL_UNDER_SANITIZERS, not both")
  endif()
  set(sqlite_filter "*")
  if(BACKENDS_POSTGRESQL_ONLY)
    set(sqlite_filter "-${BACKENDS_POSTGRESQL_ONLY}")
  endif()
  gtest_discover_tests(${target} DISCOVERY_TIMEOUT 60 TEST_FILTER "${sqlite_filter}" ${BACKENDS_UNPARSED_ARGUMENTS})
  if(CRM_TRIMMED_SANITIZER_SUITE AND BACKENDS_SQLITE_UNDER_SANITIZERS)
    return()
  endif()
  set(postgresql_excluded "${BACKENDS_SQLITE_ONLY}")
  if(CRM_TRIMMED_SANITIZER_SUITE AND BACKENDS_SKIPPED_ON_POSTGRESQL_UNDER_SANITIZERS)
    if(postgresql_excluded)
      string(APPEND postgresql_excluded ":")
    endif()
    string(APPEND postgresql_excluded "${BACKENDS_SKIPPED_ON_POSTGRESQL_UNDER_SANITIZERS}")
  endif()
  set(postgresql_filter "*")
  if(postgresql_excluded)
    set(postgresql_filter "-${postgresql_excluded}")
  endif()
  gtest_discover_tests(${target} DISCOVERY_TIMEOUT 60 TEST_FILTER "${postgresql_filter}" TEST_SUFFIX .postgresql
    ${BACKENDS_UNPARSED_ARGUMENTS}
    PROPERTIES FIXTURES_REQUIRED postgresql
               ENVIRONMENT "CRM_TEST_POSTGRESQL_URL_FILE=${CRM_TEST_POSTGRESQL_DIR}/url")
endfunction()
