# install() rules and the CMake package of the C++ client (included by cpp/CMakeLists.txt when
# DEPLOYKIT_INSTALL is ON). After `cmake --install <build> --prefix <prefix>`:
#
#   <prefix>/include/deploykit/*.hpp                 the public headers (no torch header among them)
#   <prefix>/lib/libdeploykit_{compare,core,model}.a  the static libraries
#   <prefix>/lib/cmake/deploykit/                     deploykitConfig.cmake, its version file, the
#                                                     exported targets, DeploykitTorch.cmake
#   <prefix>/bin/deploykit-cpp                        the demo CLI, when it was built
#
# A consumer: find_package(deploykit CONFIG REQUIRED) with CMAKE_PREFIX_PATH naming <prefix> and
# LibTorch's CMake folder, then target_link_libraries(app PRIVATE deploykit::deploykit).

include(CMakePackageConfigHelpers)

set(DEPLOYKIT_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/deploykit"
    CACHE STRING "Where deploykitConfig.cmake is installed, relative to the prefix")

# Installed names: deploykit::compare, deploykit::core, deploykit::model (the same as the
# in-tree aliases) and deploykit::deploykit.
set_target_properties(deploykit_compare PROPERTIES EXPORT_NAME compare)
set_target_properties(deploykit_core PROPERTIES EXPORT_NAME core)
set(_dk_exported deploykit_compare deploykit_core deploykit)
if(DEPLOYKIT_WITH_TORCH)
  set_target_properties(deploykit_model PROPERTIES EXPORT_NAME model)
  list(APPEND _dk_exported deploykit_model)
endif()

install(TARGETS ${_dk_exported}
        EXPORT deploykitTargets
        ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}"
        LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}"
        INCLUDES DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
install(DIRECTORY "${PROJECT_SOURCE_DIR}/cpp/include/deploykit"
        DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}"
        FILES_MATCHING PATTERN "*.hpp")
install(EXPORT deploykitTargets
        NAMESPACE deploykit::
        FILE deploykitTargets.cmake
        DESTINATION "${DEPLOYKIT_INSTALL_CMAKEDIR}")

# deploykit::model links deploykit::libtorch, which the package recreates on the consumer's
# machine the same way this build made it (find_package(Torch), else libtorch_cpu + libc10).
if(DEPLOYKIT_WITH_TORCH)
  install(FILES "${CMAKE_CURRENT_LIST_DIR}/DeploykitTorch.cmake" DESTINATION "${DEPLOYKIT_INSTALL_CMAKEDIR}")
  install(FILES "${CMAKE_CURRENT_LIST_DIR}/torch-probe/CMakeLists.txt"
          DESTINATION "${DEPLOYKIT_INSTALL_CMAKEDIR}/torch-probe")
endif()

configure_package_config_file(
  "${CMAKE_CURRENT_LIST_DIR}/deploykitConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/deploykitConfig.cmake"
  INSTALL_DESTINATION "${DEPLOYKIT_INSTALL_CMAKEDIR}"
  NO_SET_AND_CHECK_MACRO)
# 0.x: a minor release may change the API, so only the same MAJOR.MINOR is compatible.
write_basic_package_version_file(
  "${PROJECT_BINARY_DIR}/deploykitConfigVersion.cmake"
  VERSION "${PROJECT_VERSION}"
  COMPATIBILITY SameMinorVersion)
install(FILES "${PROJECT_BINARY_DIR}/deploykitConfig.cmake" "${PROJECT_BINARY_DIR}/deploykitConfigVersion.cmake"
        DESTINATION "${DEPLOYKIT_INSTALL_CMAKEDIR}")

# The demo CLI, when built, finds libtorch_cpu.so where it was linked from (an installed
# program keeps the build's LibTorch; rebuild deploykit against another one).
if(TARGET deploykit_cli)
  set_target_properties(deploykit_cli PROPERTIES INSTALL_RPATH "${DEPLOYKIT_TORCH_LIBRARY_DIR}")
  install(TARGETS deploykit_cli RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}")
endif()
