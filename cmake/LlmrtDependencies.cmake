# Finds every dependency from Debian packages. A missing one stops configure with the
# name of the package that provides it; cmake/setup-debian.sh installs them all.

find_package(PkgConfig QUIET)
if(NOT PKG_CONFIG_FOUND)
  message(FATAL_ERROR "pkg-config not found: install the Debian package 'pkg-config' "
                      "(or run cmake/setup-debian.sh as root)")
endif()

function(llmrt_missing what package)
  message(FATAL_ERROR "${what} not found: install the Debian package '${package}' "
                      "(apt-get install ${package}, or run cmake/setup-debian.sh as root)")
endfunction()

# OpenCL first: oneDNN's package config calls find_package(OpenCL) itself.
find_package(OpenCL QUIET)
if(NOT OpenCL_FOUND)
  llmrt_missing("OpenCL ICD loader and headers" "ocl-icd-opencl-dev opencl-headers")
endif()

find_package(dnnl CONFIG QUIET)
if(NOT dnnl_FOUND)
  llmrt_missing("oneDNN" "libdnnl-dev")
endif()

pkg_check_modules(LEVEL_ZERO QUIET IMPORTED_TARGET level-zero)
if(NOT LEVEL_ZERO_FOUND)
  llmrt_missing("Level Zero loader" "libze-dev")
endif()

find_package(fmt CONFIG QUIET)
if(NOT fmt_FOUND)
  llmrt_missing("fmt" "libfmt-dev")
endif()

find_package(nlohmann_json CONFIG QUIET)
if(NOT nlohmann_json_FOUND)
  llmrt_missing("nlohmann-json" "nlohmann-json3-dev")
endif()

pkg_check_modules(PCRE2 QUIET IMPORTED_TARGET libpcre2-8)
if(NOT PCRE2_FOUND)
  llmrt_missing("PCRE2" "libpcre2-dev")
endif()

# xxHash (XXH3-64): the per-tensor checksums of our .llmrt container.
pkg_check_modules(XXHASH QUIET IMPORTED_TARGET libxxhash)
if(NOT XXHASH_FOUND)
  llmrt_missing("xxHash" "libxxhash-dev")
endif()

# Use the pkg-config target: cpp-httplib's compile definitions change its class layouts.
pkg_check_modules(HTTPLIB QUIET IMPORTED_TARGET cpp-httplib)
if(NOT HTTPLIB_FOUND)
  llmrt_missing("cpp-httplib" "libcpp-httplib-dev")
endif()

# oneDNN 2.6 in Debian threads with OpenMP (libgomp); our own CPU kernels share that pool.
find_package(OpenMP QUIET)
if(NOT OpenMP_CXX_FOUND)
  llmrt_missing("OpenMP (libgomp)" "libgomp1 and g++")
endif()

find_package(Threads REQUIRED)

if(LLMRT_BUILD_TESTS)
  find_package(GTest QUIET)
  if(NOT GTest_FOUND)
    llmrt_missing("GoogleTest" "libgtest-dev libgmock-dev")
  endif()
endif()
if(LLMRT_BUILD_BENCH)
  find_package(benchmark CONFIG QUIET)
  if(NOT benchmark_FOUND)
    llmrt_missing("Google Benchmark" "libbenchmark-dev")
  endif()
endif()
