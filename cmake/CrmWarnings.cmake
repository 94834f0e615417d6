# crm_project_warnings: the warning set of project code (host, plugins, tests).
include_guard(GLOBAL)

add_library(crm_project_warnings INTERFACE)
target_compile_options(crm_project_warnings INTERFACE -Wall -Wextra -Wpedantic -Werror
                                                      $<$<COMPILE_LANGUAGE:CXX>:-Wnon-virtual-dtor>)
# GCC 12 reports -Wrestrict inside libstdc++ for `"text" + std::string` at -O3
# (GCC bug 105651, fixed in 13); the code is correct, the warning is not.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  target_compile_options(crm_project_warnings INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-Wno-restrict>)
endif()
