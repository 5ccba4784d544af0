# Runs one must-not-compile build and checks its first error line. Called by the compile_fail.*
# tests (tests/CMakeLists.txt) as
#   cmake -DBUILD_DIR=<dir> -DTARGET=<target> -DEXPECTED=<regex> -P check_first_error.cmake
# It fails if the target builds, if the output has no line containing "error:", or if the first
# such line does not match EXPECTED. The first error line is printed either way.
foreach(var IN ITEMS BUILD_DIR TARGET EXPECTED)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "check_first_error.cmake: -D${var}=... is required")
  endif()
endforeach()

# The same variable for both streams merges them in the order they were written.
execute_process(COMMAND "${CMAKE_COMMAND}" --build "${BUILD_DIR}" --target "${TARGET}"
  OUTPUT_VARIABLE output ERROR_VARIABLE output RESULT_VARIABLE status)
if(status EQUAL 0)
  message(FATAL_ERROR "${TARGET} compiled, but it must not:\n${output}")
endif()

string(ASCII 27 escape)
string(REGEX REPLACE "${escape}\\[[0-9;]*[mK]" "" output "${output}")  # colour codes, if any
string(REGEX MATCH "[^\n]*error:[^\n]*" first_error "${output}")
if(first_error STREQUAL "")
  message(FATAL_ERROR "${TARGET} did not compile, but its output has no \"error:\" line:\n${output}")
endif()
message(STATUS "first error line: ${first_error}")
if(NOT first_error MATCHES "${EXPECTED}")
  message(FATAL_ERROR "the first error line of ${TARGET} does not match \"${EXPECTED}\". Whole output:\n${output}")
endif()
