# The store has two backends, and every test that touches it runs on both:
# once as it is (SQLite files in temporary folders), and once more with the
# suffix ".postgresql" against one PostgreSQL 15 server that ctest starts for
# the run (fixture "postgresql", tests/support/postgresql_server.sh), each
# test in databases of its own (tests/support/test_database.hpp).
include(GoogleTest)

# Under the sanitizers (CRM_SANITIZE) the code above the store interface is the same on both
# backends, so a test that only drives it through the store runs once, on SQLite; the ".postgresql"
# run keeps the tests that exercise the PostgreSQL backend's own code in this process (the store,
# the application core's reads and writes). The end-to-end tests that start crmhost run on
# PostgreSQL in the plain suite. This keeps CI's two suites (scripts/test.sh, then --sanitize)
# within its time on 2 cores; CRM_SANITIZE_ALL_BACKENDS=ON runs everything on both.
option(CRM_SANITIZE_ALL_BACKENDS "Under CRM_SANITIZE, run every test on PostgreSQL too" OFF)

set(CRM_TEST_POSTGRESQL_DIR ${CMAKE_BINARY_DIR}/postgresql-test)
add_test(NAME postgresql.server.start
  COMMAND ${PROJECT_SOURCE_DIR}/tests/support/postgresql_server.sh start ${CRM_TEST_POSTGRESQL_DIR})
add_test(NAME postgresql.server.stop
  COMMAND ${PROJECT_SOURCE_DIR}/tests/support/postgresql_server.sh stop ${CRM_TEST_POSTGRESQL_DIR})
set_tests_properties(postgresql.server.start PROPERTIES FIXTURES_SETUP postgresql TIMEOUT 120)
set_tests_properties(postgresql.server.stop PROPERTIES FIXTURES_CLEANUP postgresql)

# crm_discover_tests_on_both_backends(TARGET [SQLITE_ONLY filter] [POSTGRESQL_ONLY filter]
#                                     [UNDER_SANITIZERS_ON_POSTGRESQL filter | SQLITE_UNDER_SANITIZERS]
#                                     [gtest_discover_tests args...])
# Filters are GoogleTest patterns (a:b:c). SQLITE_ONLY and POSTGRESQL_ONLY name tests that concern one
# backend only. UNDER_SANITIZERS_ON_POSTGRESQL, in a CRM_SANITIZE build, limits the ".postgresql" run
# to the tests it names, and SQLITE_UNDER_SANITIZERS leaves it out (see CRM_SANITIZE_ALL_BACKENDS).
function(crm_discover_tests_on_both_backends target)
  cmake_parse_arguments(PARSE_ARGV 1 BACKENDS "SQLITE_UNDER_SANITIZERS" "SQLITE_ONLY;POSTGRESQL_ONLY;UNDER_SANITIZERS_ON_POSTGRESQL" "")
  set(sqlite_filter "*")
  if(BACKENDS_POSTGRESQL_ONLY)
    set(sqlite_filter "-${BACKENDS_POSTGRESQL_ONLY}")
  endif()
  set(postgresql_filter "*")
  if(BACKENDS_SQLITE_ONLY)
    set(postgresql_filter "-${BACKENDS_SQLITE_ONLY}")
  endif()
  if(CRM_SANITIZE AND NOT CRM_SANITIZE_ALL_BACKENDS AND BACKENDS_UNDER_SANITIZERS_ON_POSTGRESQL)
    set(postgresql_filter "${BACKENDS_UNDER_SANITIZERS_ON_POSTGRESQL}")
  endif()
  gtest_discover_tests(${target} DISCOVERY_TIMEOUT 60 TEST_FILTER "${sqlite_filter}" ${BACKENDS_UNPARSED_ARGUMENTS})
  if(CRM_SANITIZE AND NOT CRM_SANITIZE_ALL_BACKENDS AND BACKENDS_SQLITE_UNDER_SANITIZERS)
    return()
  endif()
  gtest_discover_tests(${target} DISCOVERY_TIMEOUT 60 TEST_FILTER "${postgresql_filter}" TEST_SUFFIX .postgresql
    ${BACKENDS_UNPARSED_ARGUMENTS}
    PROPERTIES FIXTURES_REQUIRED postgresql
               ENVIRONMENT "CRM_TEST_POSTGRESQL_URL_FILE=${CRM_TEST_POSTGRESQL_DIR}/url")
endfunction()
