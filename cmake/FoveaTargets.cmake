# Common settings for Fovea's own targets: warnings as errors and optional sanitizers.
option(FOVEA_WERROR "Treat warnings as errors in Fovea targets" ON)
set(FOVEA_SANITIZE "" CACHE STRING "Sanitizers to build with: '', 'address,undefined' or 'thread'")

if(FOVEA_SANITIZE)
  add_compile_options(-fsanitize=${FOVEA_SANITIZE} -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${FOVEA_SANITIZE})
endif()

# libFuzzer builds (clang only, with FOVEA_SANITIZE=address,undefined): coverage instrumentation everywhere, and any
# undefined behaviour stops the run so the fuzzer records it as a crash.
option(FOVEA_FUZZ "Build the libFuzzer targets in tests/fuzz (needs clang)" OFF)
if(FOVEA_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "FOVEA_FUZZ needs clang (configure with CXX=clang++)")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link -fno-sanitize-recover=undefined)
endif()

# Applies Fovea's warning policy to a target we own (never to generated code).
function(fovea_target_defaults target)
  target_compile_options(${target} PRIVATE -Wall -Wextra)
  if(FOVEA_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR})
endfunction()
