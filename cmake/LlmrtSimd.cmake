# Per-file ISA flags for CPU SIMD kernels. Each kernel variant lives in its own source file
# compiled for one ISA level; util/cpu_features.h picks the variant at run time.
set(LLMRT_AVX2_FLAGS -mavx2 -mfma -mf16c)
# GCC 12's AVX-512 headers trip -W(maybe-)uninitialized on their own _mm512_undefined_*()
# placeholders (a known false positive), so those two warnings are off for AVX-512 files only.
set(LLMRT_AVX512_FLAGS -mavx512f -mavx512bw -mavx512dq -mavx512vl -mavx512vnni -mavx2 -mfma -mf16c
    -Wno-maybe-uninitialized -Wno-uninitialized)

# llmrt_simd_sources(<AVX2|AVX512> file...): give each file its ISA's flags.
function(llmrt_simd_sources isa)
  if(isa STREQUAL "AVX2")
    set(flags ${LLMRT_AVX2_FLAGS})
  elseif(isa STREQUAL "AVX512")
    set(flags ${LLMRT_AVX512_FLAGS})
  else()
    message(FATAL_ERROR "llmrt_simd_sources: unknown ISA '${isa}'")
  endif()
  set_source_files_properties(${ARGN} PROPERTIES COMPILE_OPTIONS "${flags}")
endfunction()
