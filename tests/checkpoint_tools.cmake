# The Python side of checkpoints: descent's checkpoints resumed in torch 1.13, and
# tools/inspect_checkpoint.py. Included by tests/CMakeLists.txt inside if(DESCENT_HAS_CHECKPOINT),
# after the test targets (it needs descent::checkpoint and descent_warnings).
#
#   checkpoint.interop.files  descent_checkpoint_interop writes the checkpoints of every case and
#                             manifest.json into <build>/tests/checkpoint_interop (fixture setup)
#   checkpoint.interop        checkpoint_interop.py resumes each in torch and compares with descent
#                             (skipped, exit 77, when the Python has no torch or numpy)
#   checkpoint.inspect        the listing, --json and --dump of one of those files, and corrupted
#                             copies that must be refused (skipped when the Python has no numpy)
#
# checkpoint.inspect runs this same file as a script (cmake -P, the branch just below), so that its
# steps need no file of their own. A cmake -P script cannot exit with 77 before CMake 3.29, so that
# test is skipped through the line it prints (SKIP_REGULAR_EXPRESSION).

if(CMAKE_SCRIPT_MODE_FILE)
  # ---- checkpoint.inspect: cmake -DPYTHON=... -DTOOL=... -DFILE=... -DWORK=... -P checkpoint_tools.cmake
  execute_process(COMMAND "${PYTHON}" -c "import numpy" RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
  if(NOT rc EQUAL 0)
    message("checkpoint.inspect: skipped: ${PYTHON} cannot import numpy")
    return()
  endif()

  # run(<expected exit code> <output variable> args...): the tool on args, its exit code checked
  function(run expected out)
    execute_process(COMMAND "${PYTHON}" "${TOOL}" ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE stdout
                    ERROR_VARIABLE stderr)
    string(JOIN " " command ${ARGN})
    if(NOT rc STREQUAL "${expected}")
      message(FATAL_ERROR "inspect_checkpoint.py ${command}: exit code ${rc}, expected ${expected}\n"
                          "stdout:\n${stdout}\nstderr:\n${stderr}")
    endif()
    message(STATUS "inspect_checkpoint.py ${command}: exit code ${rc} as expected ${stderr}")
    set(${out} "${stdout}${stderr}" PARENT_SCOPE)
  endfunction()
  function(expect_match text regex what)
    if(NOT text MATCHES "${regex}")
      message(FATAL_ERROR "${what}: the output does not match '${regex}':\n${text}")
    endif()
  endfunction()

  run(0 listing "${FILE}")
  expect_match("${listing}" "checksum xxh64:[0-9a-f]+ verified" "the listing")
  expect_match("${listing}" "optimizer: Adam" "the listing")
  expect_match("${listing}" "optimizer.exp_avg +F64 \\[7\\] +min=" "the listing")

  run(0 json --json "${FILE}")
  string(JSON kind GET "${json}" entries optimizer kind)
  string(JSON verified GET "${json}" checksum_verified)
  string(JSON dtype GET "${json}" tensors params dtype)
  string(JSON steps GET "${json}" entries optimizer metadata steps)
  if(NOT kind STREQUAL "Adam" OR NOT verified STREQUAL "ON" OR NOT dtype STREQUAL "F64" OR NOT steps EQUAL 5)
    message(FATAL_ERROR "--json: kind '${kind}', checksum_verified '${verified}', dtype '${dtype}', "
                        "steps '${steps}':\n${json}")
  endif()

  run(0 dump --dump optimizer.exp_avg "${FILE}")
  expect_match("${dump}" "^array\\(\\[ *-?[0-9]" "--dump")
  run(0 csv --dump params --csv "${FILE}")
  string(REGEX MATCHALL "\n" lines "${csv}")
  list(LENGTH lines rows)
  if(NOT rows EQUAL 7)
    message(FATAL_ERROR "--dump params --csv: ${rows} lines, expected 7:\n${csv}")
  endif()
  run(0 dump_json --dump params --json "${FILE}")
  string(JSON n LENGTH "${dump_json}" values)
  if(NOT n EQUAL 7)
    message(FATAL_ERROR "--dump params --json: ${n} values, expected 7:\n${dump_json}")
  endif()
  run(2 unknown --dump no_such_tensor "${FILE}")
  expect_match("${unknown}" "no tensor 'no_such_tensor'" "--dump of an unknown tensor")

  # corrupted copies: one bit of the data flipped, the last 5 bytes cut, a file of text
  file(MAKE_DIRECTORY "${WORK}")
  string(CONCAT corrupt
    "import sys\n"
    "b = open(sys.argv[1], 'rb').read()\n"
    "open(sys.argv[2], 'wb').write(b[:-1] + bytes([b[-1] ^ 1]))\n"
    "open(sys.argv[3], 'wb').write(b[:-5])\n"
    "open(sys.argv[4], 'wb').write(b'not a checkpoint at all')\n")
  execute_process(
    COMMAND "${PYTHON}" -c "${corrupt}" "${FILE}" "${WORK}/flipped.ckpt" "${WORK}/truncated.ckpt" "${WORK}/text.ckpt"
    RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "could not write the corrupted copies into ${WORK}")
  endif()
  run(1 flipped "${WORK}/flipped.ckpt")
  expect_match("${flipped}" "checksum mismatch" "a flipped bit")
  run(1 flipped_json --json "${WORK}/flipped.ckpt")
  run(0 flipped_unverified --no-verify "${WORK}/flipped.ckpt")  # only the checksum can tell
  run(1 truncated "${WORK}/truncated.ckpt")
  expect_match("${truncated}" "truncated" "a truncated file")
  run(1 text --dump params "${WORK}/text.ckpt")
  expect_match("${text}" "not a descent checkpoint" "a text file")
  message(STATUS "checkpoint.inspect: all checks passed")
  return()
endif()

# ---- included from tests/CMakeLists.txt -------------------------------------------------------------

set(DESCENT_TOOLS_PYTHON "/usr/bin/python3" CACHE FILEPATH
    "Python with numpy, and torch 1.13 for checkpoint.interop (Debian's python3-numpy and python3-torch)")

add_executable(descent_checkpoint_interop ${CMAKE_CURRENT_LIST_DIR}/checkpoint_interop.cpp)
target_link_libraries(descent_checkpoint_interop PRIVATE descent::checkpoint descent_warnings)

set(descent_interop_dir "${CMAKE_CURRENT_BINARY_DIR}/checkpoint_interop")
cmake_path(SET descent_inspect_tool NORMALIZE "${CMAKE_CURRENT_LIST_DIR}/../tools/inspect_checkpoint.py")
add_test(NAME checkpoint.interop.files COMMAND descent_checkpoint_interop ${descent_interop_dir})
set_tests_properties(checkpoint.interop.files PROPERTIES FIXTURES_SETUP descent_checkpoint_files)

add_test(NAME checkpoint.interop
  COMMAND ${DESCENT_TOOLS_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/checkpoint_interop.py ${descent_interop_dir})
set_tests_properties(checkpoint.interop PROPERTIES FIXTURES_REQUIRED descent_checkpoint_files SKIP_RETURN_CODE 77)

add_test(NAME checkpoint.inspect
  COMMAND ${CMAKE_COMMAND} -DPYTHON=${DESCENT_TOOLS_PYTHON}
          -DTOOL=${descent_inspect_tool}
          -DFILE=${descent_interop_dir}/adam_amsgrad_wd.ckpt
          -DWORK=${CMAKE_CURRENT_BINARY_DIR}/checkpoint_inspect
          -P ${CMAKE_CURRENT_LIST_FILE})
set_tests_properties(checkpoint.inspect PROPERTIES FIXTURES_REQUIRED descent_checkpoint_files
  SKIP_REGULAR_EXPRESSION "checkpoint.inspect: skipped")

if(NOT EXISTS "${DESCENT_TOOLS_PYTHON}")
  message(STATUS "descent: no ${DESCENT_TOOLS_PYTHON}: checkpoint.interop and checkpoint.inspect disabled")
  set_tests_properties(checkpoint.interop checkpoint.inspect PROPERTIES DISABLED TRUE)
endif()
