# security.cmake - the shell-level tests of docs/security.md (included from
# tests/CMakeLists.txt). The unit-level ones are tests/unit/*_security_test.cpp,
# in the per-library unit programs.

# sesame-milter against hostile mail and careless rule data, through
# miltertest; forwards and replies land in smtp-sink (needs root).
add_test(NAME security.milter
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/integration/security_milter.sh
    $<TARGET_FILE:sesame> $<TARGET_FILE:sesame-milter>)
set_tests_properties(security.milter PROPERTIES LABELS "security;milter" SKIP_RETURN_CODE 77 TIMEOUT 120)

# sesame-ingest against a notification whose recipients try to make
# Postfix's reinjection service relay elsewhere (fauxqs from npm, a real
# throwaway Postfix; needs root).
add_test(NAME security.ingest
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/integration/security_ingest.sh
    $<TARGET_FILE:sesame> $<TARGET_FILE:sesame-ingest> $<TARGET_FILE:aws_tool>)
set_tests_properties(security.ingest PROPERTIES LABELS "security;integration;ingest" SKIP_RETURN_CODE 77
  TIMEOUT 300 RUN_SERIAL TRUE)
