# The store has two backends, and every test that touches it runs on both:
# once as it is (SQLite files in temporary folders), and once more with the
# suffix ".postgresql" against one PostgreSQL 15 server that ctest starts for
# the run (fixture "postgresql", tests/support/postgresql_server.sh), each
# test in databases of its own (tests/support/test_database.hpp).
include(GoogleTest)

set(CRM_TEST_POSTGRESQL_DIR ${CMAKE_BINARY_DIR}/postgresql-test)
add_test(NAME postgresql.server.start
  COMMAND ${PROJECT_SOURCE_DIR}/tests/support/postgresql_server.sh start ${CRM_TEST_POSTGRESQL_DIR})
add_test(NAME postgresql.server.stop
  COMMAND ${PROJECT_SOURCE_DIR}/tests/support/postgresql_server.sh stop ${CRM_TEST_POSTGRESQL_DIR})
set_tests_properties(postgresql.server.start PROPERTIES FIXTURES_SETUP postgresql TIMEOUT 120)
set_tests_properties(postgresql.server.stop PROPERTIES FIXTURES_CLEANUP postgresql)

# crm_discover_tests_on_both_backends(TARGET [SQLITE_ONLY filter] [POSTGRESQL_ONLY filter] [gtest_discover_tests args...])
# Filters are GoogleTest patterns (a:b:c) of tests that concern one backend only.
function(crm_discover_tests_on_both_backends target)
  cmake_parse_arguments(PARSE_ARGV 1 BACKENDS "" "SQLITE_ONLY;POSTGRESQL_ONLY" "")
  set(sqlite_filter "*")
  if(BACKENDS_POSTGRESQL_ONLY)
    set(sqlite_filter "-${BACKENDS_POSTGRESQL_ONLY}")
  endif()
  set(postgresql_filter "*")
  if(BACKENDS_SQLITE_ONLY)
    set(postgresql_filter "-${BACKENDS_SQLITE_ONLY}")
  endif()
  gtest_discover_tests(${target} DISCOVERY_TIMEOUT 60 TEST_FILTER "${sqlite_filter}" ${BACKENDS_UNPARSED_ARGUMENTS})
  gtest_discover_tests(${target} DISCOVERY_TIMEOUT 60 TEST_FILTER "${postgresql_filter}" TEST_SUFFIX .postgresql
    ${BACKENDS_UNPARSED_ARGUMENTS}
    PROPERTIES FIXTURES_REQUIRED postgresql
               ENVIRONMENT "CRM_TEST_POSTGRESQL_URL_FILE=${CRM_TEST_POSTGRESQL_DIR}/url")
endfunction()
