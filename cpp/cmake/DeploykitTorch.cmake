# Provides the target deploykit::libtorch (LibTorch for CPU inference).
#
# 1. find_package(Torch), from -DTorch_DIR=... or CMAKE_PREFIX_PATH (the Makefile
#    passes the venv's torch; a user may pass their own LibTorch distribution).
#    It is first tried in a child CMake process, because the PyPI wheel's
#    TorchConfig (a CUDA build) stops with FATAL_ERROR when no CUDA toolkit is
#    installed ("Your installed Caffe2 version uses CUDA but I cannot find the
#    CUDA libraries").
# 2. Otherwise (shared/FACTS.md, "PyTorch on the polyglot machines"): link only
#    libtorch_cpu.so and libc10.so from <torch>/lib with the headers in
#    <torch>/include and <torch>/include/torch/csrc/api/include; enough for
#    torch::jit::load and AOTIModelPackageLoader on CPU.
#
# Sets DEPLOYKIT_TORCH_LIBRARY_DIR (the folder with libtorch_cpu.so, for rpaths).
#
# The installed package (deploykitConfig.cmake) includes this same file with
# DEPLOYKIT_TORCH_FROM_PACKAGE set: a LibTorch it cannot find then sets
# DEPLOYKIT_TORCH_NOT_FOUND (the message) instead of stopping the consumer's configure.

if(TARGET deploykit::libtorch)
  return()
endif()

# Under scikit-build-core nobody passes a location: ask the interpreter that
# builds the extension where its torch lives.
if(NOT Torch_DIR AND SKBUILD)
  execute_process(
    COMMAND "${Python_EXECUTABLE}" -c
            "import importlib.util, os; print(os.path.dirname(importlib.util.find_spec('torch').origin))"
    OUTPUT_VARIABLE _dk_torch_root OUTPUT_STRIP_TRAILING_WHITESPACE
    RESULT_VARIABLE _dk_rc)
  if(_dk_rc EQUAL 0 AND EXISTS "${_dk_torch_root}/share/cmake/Torch/TorchConfig.cmake")
    set(Torch_DIR "${_dk_torch_root}/share/cmake/Torch" CACHE PATH "LibTorch's CMake package folder")
  endif()
endif()

# Locate TorchConfig.cmake ourselves, to derive the fallback's root from it (Torch_DIR, else
# CMAKE_PREFIX_PATH: torch.utils.cmake_prefix_path is <torch>/share/cmake, which holds Torch/).
find_path(DEPLOYKIT_TORCH_CONFIG_DIR TorchConfig.cmake
          HINTS "${Torch_DIR}" PATH_SUFFIXES Torch share/cmake/Torch
          DOC "Folder of TorchConfig.cmake")
if(NOT DEPLOYKIT_TORCH_CONFIG_DIR)
  string(CONCAT DEPLOYKIT_TORCH_NOT_FOUND
         "deploykit: LibTorch not found: pass -DTorch_DIR=<libtorch>/share/cmake/Torch or add "
         "$(python -c 'import torch.utils; print(torch.utils.cmake_prefix_path)') to CMAKE_PREFIX_PATH")
  if(DEPLOYKIT_TORCH_FROM_PACKAGE)
    return()
  endif()
  message(FATAL_ERROR "${DEPLOYKIT_TORCH_NOT_FOUND}")
endif()

if(NOT DEFINED CACHE{DEPLOYKIT_TORCH_MODE} OR NOT DEPLOYKIT_TORCH_MODE_FOR STREQUAL DEPLOYKIT_TORCH_CONFIG_DIR)
  message(STATUS "deploykit: trying find_package(Torch) from ${DEPLOYKIT_TORCH_CONFIG_DIR}")
  execute_process(
    COMMAND "${CMAKE_COMMAND}" -S "${CMAKE_CURRENT_LIST_DIR}/torch-probe" -B "${CMAKE_BINARY_DIR}/torch-probe"
            -G "${CMAKE_GENERATOR}" "-DCMAKE_CXX_COMPILER=${CMAKE_CXX_COMPILER}"
            "-DTorch_DIR=${DEPLOYKIT_TORCH_CONFIG_DIR}"
    RESULT_VARIABLE _dk_probe_rc OUTPUT_QUIET ERROR_QUIET)
  if(_dk_probe_rc EQUAL 0)
    set(_dk_mode "config")
  else()
    set(_dk_mode "fallback")
  endif()
  set(DEPLOYKIT_TORCH_MODE "${_dk_mode}" CACHE STRING "config: find_package(Torch); fallback: libtorch_cpu + libc10" FORCE)
  set(DEPLOYKIT_TORCH_MODE_FOR "${DEPLOYKIT_TORCH_CONFIG_DIR}" CACHE INTERNAL "")
endif()

if(DEPLOYKIT_TORCH_MODE STREQUAL "config")
  set(Torch_DIR "${DEPLOYKIT_TORCH_CONFIG_DIR}" CACHE PATH "LibTorch's CMake package folder" FORCE)
  find_package(Torch REQUIRED)
  add_library(deploykit::libtorch INTERFACE IMPORTED)
  target_link_libraries(deploykit::libtorch INTERFACE ${TORCH_LIBRARIES})
  target_include_directories(deploykit::libtorch SYSTEM INTERFACE ${TORCH_INCLUDE_DIRS})
  get_filename_component(DEPLOYKIT_TORCH_LIBRARY_DIR "${TORCH_LIBRARY}" DIRECTORY)
  message(STATUS "deploykit: LibTorch ${Torch_VERSION} via find_package(Torch)")
  return()
endif()

# --- fallback: the CPU part of a CUDA wheel ---------------------------------
get_filename_component(_dk_root "${DEPLOYKIT_TORCH_CONFIG_DIR}/../../.." ABSOLUTE)
set(DEPLOYKIT_TORCH_LIBRARY_DIR "${_dk_root}/lib")
find_library(DEPLOYKIT_TORCH_CPU_LIBRARY torch_cpu PATHS "${DEPLOYKIT_TORCH_LIBRARY_DIR}" NO_DEFAULT_PATH REQUIRED)
find_library(DEPLOYKIT_C10_LIBRARY c10 PATHS "${DEPLOYKIT_TORCH_LIBRARY_DIR}" NO_DEFAULT_PATH REQUIRED)

# The wheel's libraries need its nvidia-* wheels' libraries (libcudart, libcupti)
# through their own RPATH; the link editor must be told where they are.
file(GLOB _dk_nvidia_libs LIST_DIRECTORIES true "${_dk_root}/../nvidia/*/lib")

# The C++ ABI of the prebuilt libraries: the new (cxx11) ABI mangles std::string
# as std::__cxx11::basic_string. Same answer as torch.compiled_with_cxx11_abi().
file(STRINGS "${DEPLOYKIT_C10_LIBRARY}" _dk_cxx11 LIMIT_COUNT 1 REGEX "__cxx11")
if(_dk_cxx11)
  set(_dk_abi 1)
else()
  set(_dk_abi 0)
endif()

add_library(deploykit::libtorch INTERFACE IMPORTED)
target_link_libraries(deploykit::libtorch INTERFACE "${DEPLOYKIT_TORCH_CPU_LIBRARY}" "${DEPLOYKIT_C10_LIBRARY}")
target_include_directories(deploykit::libtorch SYSTEM INTERFACE
  "${_dk_root}/include" "${_dk_root}/include/torch/csrc/api/include")
target_compile_definitions(deploykit::libtorch INTERFACE _GLIBCXX_USE_CXX11_ABI=${_dk_abi})
foreach(_dk_dir IN LISTS _dk_nvidia_libs)
  target_link_options(deploykit::libtorch INTERFACE "LINKER:-rpath-link,${_dk_dir}")
endforeach()
message(STATUS "deploykit: LibTorch fallback (libtorch_cpu + libc10) from ${_dk_root}, _GLIBCXX_USE_CXX11_ABI=${_dk_abi}")
