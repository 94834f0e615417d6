# The web app (host/web/src and what it uses from host/web/node_modules) is
# compiled into crm_api, so a deployed crmhost serves it with no extra files.
# Included by host/CMakeLists.txt after crm_api is defined.
#
# node_modules comes from `npm ci` in host/web (package-lock.json pins every
# version); scripts/demo.sh and scripts/test.sh run it before building.

set(CRM_WEB_DIR ${CMAKE_CURRENT_SOURCE_DIR}/web)
set(CRM_WEB_VENDOR_FILES
  ${CRM_WEB_DIR}/node_modules/uplot/dist/uPlot.esm.js
  ${CRM_WEB_DIR}/node_modules/uplot/dist/uPlot.min.css)
foreach(vendor_file IN LISTS CRM_WEB_VENDOR_FILES)
  if(NOT EXISTS ${vendor_file})
    message(FATAL_ERROR "The web app needs ${vendor_file}, which is missing: run `npm ci` in ${CRM_WEB_DIR} "
                        "(Debian: apt-get install nodejs npm; scripts/demo.sh and scripts/test.sh do both).")
  endif()
endforeach()
file(GLOB_RECURSE CRM_WEB_SOURCE_FILES CONFIGURE_DEPENDS
  ${CRM_WEB_DIR}/src/*.html ${CRM_WEB_DIR}/src/*.js ${CRM_WEB_DIR}/src/*.css ${CRM_WEB_DIR}/src/*.svg)
set(CRM_WEB_GENERATED ${CMAKE_CURRENT_BINARY_DIR}/generated/web_assets.cpp)
add_custom_command(
  OUTPUT ${CRM_WEB_GENERATED}
  COMMAND ${CMAKE_COMMAND} -DSOURCE_DIR=${CRM_WEB_DIR}/src "-DVENDOR_FILES=${CRM_WEB_VENDOR_FILES}"
          -DOUTPUT=${CRM_WEB_GENERATED} -P ${CRM_WEB_DIR}/embed_web_assets.cmake
  DEPENDS ${CRM_WEB_SOURCE_FILES} ${CRM_WEB_VENDOR_FILES} ${CRM_WEB_DIR}/embed_web_assets.cmake
  COMMENT "Embedding the web app (host/web) into crm_api"
  VERBATIM)
target_sources(crm_api PRIVATE api/routes_web.cpp ${CRM_WEB_GENERATED})
