# crm_project_warnings: the warning set of project code (host, plugins, tests).
include_guard(GLOBAL)

add_library(crm_project_warnings INTERFACE)
target_compile_options(crm_project_warnings INTERFACE -Wall -Wextra -Wpedantic -Werror
                                                      $<$<COMPILE_LANGUAGE:CXX>:-Wnon-virtual-dtor>)
