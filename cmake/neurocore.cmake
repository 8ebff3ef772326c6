# Shared settings for every neurocore target.

# One precompiled header for all LibTorch targets: compiled once, reused by each.
if(NC_WITH_TORCH)
  add_library(nc_pch OBJECT ${CMAKE_CURRENT_LIST_DIR}/pch.cpp)
  target_link_libraries(nc_pch PUBLIC ${TORCH_LIBRARIES})
  target_precompile_headers(nc_pch PUBLIC <torch/torch.h> <vector> <string> <memory>)
  target_compile_options(nc_pch PRIVATE -Wall -Wextra)
endif()

# nc_library(name SOURCES ... DEPS ...): a LibTorch area library with the project's conventions
# (only with NC_WITH_TORCH).
function(nc_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR}/include)
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
  target_compile_options(${name} PRIVATE -Wall -Wextra)
  target_precompile_headers(${name} REUSE_FROM nc_pch)
endfunction()

# nc_executable(name SOURCES ... DEPS ...): a LibTorch executable (only with NC_WITH_TORCH).
function(nc_executable name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS})
  target_compile_options(${name} PRIVATE -Wall -Wextra)
  target_precompile_headers(${name} REUSE_FROM nc_pch)
endfunction()

# nc_plain_library(name SOURCES ... DEPS ...): an area library that does not use LibTorch
# (the cm core): no torch headers, so it builds in seconds.
function(nc_plain_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR}/include)
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
  target_compile_options(${name} PRIVATE -Wall -Wextra)
endfunction()

# Sources kept out of the unity batches: their file-local helpers share a name with another
# file's of the same target (kept short and local on purpose; renaming them all buys nothing).
function(nc_unity_exclude)
  set(files
    src/cm/control.cpp src/cm/functional.cpp src/cm/reference_eval.cpp
    tests/learn/ostl_test.cpp tests/cm/functional_test.cpp tests/cm/mapping_picture_test.cpp
    tests/cm_torch/torchscript_import_test.cpp)
  list(TRANSFORM files PREPEND ${PROJECT_SOURCE_DIR}/)
  set(dirs src/cm)
  if(NC_WITH_TORCH)
    list(APPEND dirs cli)
  endif()
  if(NC_BUILD_TESTS)
    list(APPEND dirs tests)
  endif()
  set_source_files_properties(${files} DIRECTORY ${dirs} PROPERTIES SKIP_UNITY_BUILD_INCLUSION ON)
endfunction()
