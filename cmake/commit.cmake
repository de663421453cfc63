# Writes OUT (a header defining LOGPIPE_COMMIT) from `git describe` of SRC, only when it changes,
# so that `logpipe --version` names the commit it was built from without rebuilding every time.
# Run at each build by the logpipe_commit target (CMakeLists.txt). Outside a git checkout (a
# release tarball) the commit is "unknown".
execute_process(COMMAND git -C "${SRC}" describe --always --dirty --abbrev=12 --exclude "*"
                OUTPUT_VARIABLE commit OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR commit STREQUAL "")
  set(commit "unknown")
endif()
set(text "#define LOGPIPE_COMMIT \"${commit}\"\n")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
  if(old STREQUAL text)
    return()
  endif()
endif()
file(WRITE "${OUT}" "${text}")
