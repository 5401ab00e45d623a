# Initial cache for a ThreadSanitizer build (`make test-tsan`):
#   cmake -C cmake/tsan.cmake -S . -B build-tsan
# Every C target, the test artifacts included, is instrumented; the tests
# labelled `tsan` (the runtime and its concurrent runs) then run under it.
# The kernel bitcode that clang-19 builds for codegen is not C code of this
# build and stays uninstrumented, as does a model.so from `sinter compile`.
set(CMAKE_BUILD_TYPE RelWithDebInfo CACHE STRING "")
set(CMAKE_C_FLAGS "-fsanitize=thread -fno-omit-frame-pointer" CACHE STRING "")
foreach(kind EXE SHARED MODULE)
  set(CMAKE_${kind}_LINKER_FLAGS "-fsanitize=thread" CACHE STRING "")
endforeach()
