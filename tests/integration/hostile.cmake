# Hostile input through the front door (included from tests/CMakeLists.txt).
# Real Postfix with sesame-milter (label milter), and sesame-ingest between
# the npm SQS/S3 emulator and Postfix (label ingest); both need root (Postfix,
# smtp-sink) and are skipped (77) otherwise. Each case asserts one defined
# outcome, then that the daemon still serves with the same PID.
add_test(NAME e2e.hostile-milter
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/integration/hostile_milter.sh
    $<TARGET_FILE:sesame> $<TARGET_FILE:sesame-milter>)
set_tests_properties(e2e.hostile-milter PROPERTIES LABELS "e2e;hostile;milter" SKIP_RETURN_CODE 77
  TIMEOUT 600)
add_test(NAME e2e.hostile-ingest
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/integration/hostile_ingest.sh
    $<TARGET_FILE:sesame> $<TARGET_FILE:sesame-ingest> $<TARGET_FILE:aws_tool>)
set_tests_properties(e2e.hostile-ingest PROPERTIES LABELS "e2e;hostile;ingest" SKIP_RETURN_CODE 77
  TIMEOUT 600)
