# Warnings, sanitizers and the rule that no target is built for the host's own ISA.
# SIMD code is compiled per file with explicit -m flags (LlmrtSimd.cmake) and chosen at
# run time from CPUID, so a binary built here runs on any x86-64 machine.

add_library(llmrt_build_flags INTERFACE)
target_compile_options(llmrt_build_flags INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wshadow=local -Wnon-virtual-dtor -Wno-missing-field-initializers>
  $<$<COMPILE_LANGUAGE:C>:-Wall -Wextra>)
if(LLMRT_WERROR)
  target_compile_options(llmrt_build_flags INTERFACE -Werror)
endif()

foreach(flag IN ITEMS CMAKE_C_FLAGS CMAKE_CXX_FLAGS)
  if(${flag} MATCHES "-march=native|-mtune=native")
    message(FATAL_ERROR "${flag} contains -march=native: libllmrt selects SIMD code at run time "
                        "(CPUID) so its binaries run on any x86-64 machine. Remove the flag.")
  endif()
endforeach()

if(LLMRT_SANITIZE)
  string(REPLACE "," ";" _llmrt_sans "${LLMRT_SANITIZE}")
  foreach(s IN LISTS _llmrt_sans)
    if(NOT s MATCHES "^(address|undefined|thread|leak)$")
      message(FATAL_ERROR "LLMRT_SANITIZE: unknown sanitizer '${s}' (use address, undefined, thread, leak)")
    endif()
  endforeach()
  if("thread" IN_LIST _llmrt_sans AND "address" IN_LIST _llmrt_sans)
    message(FATAL_ERROR "LLMRT_SANITIZE: thread and address sanitizers cannot be combined")
  endif()
  set(_llmrt_san_flags -fsanitize=${LLMRT_SANITIZE} -fno-omit-frame-pointer)
  if("undefined" IN_LIST _llmrt_sans)
    list(APPEND _llmrt_san_flags -fno-sanitize-recover=undefined)
  endif()
  # Applied globally so that every object, test and tool carries the same instrumentation.
  add_compile_options(${_llmrt_san_flags})
  add_link_options(-fsanitize=${LLMRT_SANITIZE})
  message(STATUS "libllmrt: sanitizers ${LLMRT_SANITIZE}")
endif()

# Fuzzing (tests/fuzz, cmake/run-fuzzers.sh): clang's libFuzzer. Every object is instrumented for
# coverage with ASan and UBSan; only the fuzz_* executables link libFuzzer's main.
if(LLMRT_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "LLMRT_FUZZ needs clang (libFuzzer): configure with -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++")
  endif()
  if(LLMRT_SANITIZE)
    message(FATAL_ERROR "LLMRT_FUZZ brings its own sanitizers (address,undefined); leave LLMRT_SANITIZE empty")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g)
  add_link_options(-fsanitize=address,undefined)
  message(STATUS "libllmrt: fuzzing build (libFuzzer, ASan, UBSan)")
endif()
