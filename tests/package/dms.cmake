# The docker-mailserver add-on (contrib/docker-mailserver, docs/docker-mailserver.md):
# user-patches.sh run against a Postfix configuration laid out as DMS's, read
# back with postconf; run twice (nothing may change); `postfix check` as root.
# A few seconds, no daemon, no port. Included from tests/package/CMakeLists.txt.
add_test(NAME package.docker-mailserver
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/dms.sh ${PROJECT_SOURCE_DIR} $<TARGET_FILE:sesame>)
set_tests_properties(package.docker-mailserver PROPERTIES
  LABELS "package" SKIP_RETURN_CODE 77 TIMEOUT 120)
