# Helpers that keep each folder's CMakeLists.txt a mirror of its BUILD.bazel.
#
#   vaultca_cc_library(NAME secret_data SRCS a.cc HDRS a.h DEPS absl::strings)
#     -> target vaultca_<folder>_<name>, alias vaultca::<folder>_<name>
#        (or vaultca::<name> with PUBLIC_NAME <name>), installed and exported
#        unless TESTONLY is given.
#   vaultca_cc_test(NAME secret_data_test SRCS t.cc DEPS ...)
#     -> a GoogleTest binary registered with ctest (gtest_main is added).
#   vaultca_cc_binary(NAME tool SRCS main.cc DEPS ...)
#
# DEPS name other vaultca targets as vaultca::<folder>_<name> and external
# ones by their imported names (absl::statusor, OpenSSL::Crypto, ...).

include_guard(GLOBAL)

function(_vaultca_target_name out name)
  file(RELATIVE_PATH rel "${PROJECT_SOURCE_DIR}" "${CMAKE_CURRENT_SOURCE_DIR}")
  string(REPLACE "/" "_" rel "${rel}")
  set(${out} "vaultca_${rel}_${name}" PARENT_SCOPE)
  set(${out}_alias "${rel}_${name}" PARENT_SCOPE)
endfunction()

function(vaultca_cc_library)
  cmake_parse_arguments(ARG "TESTONLY" "NAME;PUBLIC_NAME" "SRCS;HDRS;DEPS;DEFINES" ${ARGN})
  _vaultca_target_name(target ${ARG_NAME})
  if(ARG_PUBLIC_NAME)
    set(target_alias ${ARG_PUBLIC_NAME})
  endif()
  if(ARG_SRCS)
    add_library(${target} ${ARG_SRCS} ${ARG_HDRS})
    target_link_libraries(${target} PUBLIC ${ARG_DEPS})
    target_include_directories(${target} PUBLIC
      $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}>
      $<BUILD_INTERFACE:${PROJECT_BINARY_DIR}>
      $<INSTALL_INTERFACE:include/vaultca>)
    target_compile_definitions(${target} PUBLIC ${ARG_DEFINES})
    set_target_properties(${target} PROPERTIES
      POSITION_INDEPENDENT_CODE ON
      OUTPUT_NAME ${target}
      EXPORT_NAME ${target_alias})
  else()
    add_library(${target} INTERFACE)
    target_link_libraries(${target} INTERFACE ${ARG_DEPS})
    target_include_directories(${target} INTERFACE
      $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}>
      $<BUILD_INTERFACE:${PROJECT_BINARY_DIR}>
      $<INSTALL_INTERFACE:include/vaultca>)
    target_compile_definitions(${target} INTERFACE ${ARG_DEFINES})
    set_target_properties(${target} PROPERTIES EXPORT_NAME ${target_alias})
  endif()
  add_library(vaultca::${target_alias} ALIAS ${target})
  if(NOT ARG_TESTONLY)
    install(TARGETS ${target} EXPORT vaultcaTargets
      ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
      LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
    file(RELATIVE_PATH rel "${PROJECT_SOURCE_DIR}" "${CMAKE_CURRENT_SOURCE_DIR}")
    foreach(hdr ${ARG_HDRS})
      get_filename_component(dir "${hdr}" DIRECTORY)
      install(FILES ${hdr} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/vaultca/${rel}/${dir})
    endforeach()
    set_property(GLOBAL APPEND PROPERTY VAULTCA_INSTALLED_LIBS ${target})
  endif()
endfunction()

function(vaultca_cc_test)
  cmake_parse_arguments(ARG "" "NAME;TIMEOUT" "SRCS;DEPS;DATA;ARGS;LABELS" ${ARGN})
  if(NOT VAULTCA_BUILD_TESTS)
    message(FATAL_ERROR "${ARG_NAME} is a test declared outside if(VAULTCA_BUILD_TESTS) in ${CMAKE_CURRENT_LIST_FILE}")
  endif()
  _vaultca_target_name(target ${ARG_NAME})
  add_executable(${target} ${ARG_SRCS})
  target_link_libraries(${target} PRIVATE ${ARG_DEPS} GTest::gtest_main GTest::gmock)
  target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
  add_test(NAME ${target_alias} COMMAND ${target} ${ARG_ARGS}
           WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  set_tests_properties(${target_alias} PROPERTIES TIMEOUT ${ARG_TIMEOUT}
    ENVIRONMENT "VAULTCA_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
  if(ARG_LABELS)
    set_tests_properties(${target_alias} PROPERTIES LABELS "${ARG_LABELS}")
  endif()
endfunction()

function(vaultca_cc_binary)
  cmake_parse_arguments(ARG "INSTALL" "NAME;OUTPUT_NAME" "SRCS;DEPS" ${ARGN})
  _vaultca_target_name(target ${ARG_NAME})
  add_executable(${target} ${ARG_SRCS})
  target_link_libraries(${target} PRIVATE ${ARG_DEPS})
  target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
  if(ARG_OUTPUT_NAME)
    set_target_properties(${target} PROPERTIES OUTPUT_NAME ${ARG_OUTPUT_NAME})
  endif()
  if(ARG_INSTALL)
    install(TARGETS ${target} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  endif()
endfunction()

# vaultca_cc_grpc_library(NAME ca_cc_grpc SRC ca.proto)
#   Generates messages and gRPC stubs with the system protoc and
#   grpc_cpp_plugin, as bazel/cc_grpc.bzl does.
function(vaultca_cc_grpc_library)
  cmake_parse_arguments(ARG "" "NAME;SRC" "" ${ARGN})
  file(RELATIVE_PATH rel "${PROJECT_SOURCE_DIR}" "${CMAKE_CURRENT_SOURCE_DIR}/${ARG_SRC}")
  string(REGEX REPLACE "\\.proto$" "" base "${rel}")
  set(outs
    ${PROJECT_BINARY_DIR}/${base}.pb.h ${PROJECT_BINARY_DIR}/${base}.pb.cc
    ${PROJECT_BINARY_DIR}/${base}.grpc.pb.h ${PROJECT_BINARY_DIR}/${base}.grpc.pb.cc)
  find_program(VAULTCA_PROTOC protoc REQUIRED)
  find_program(VAULTCA_GRPC_CPP_PLUGIN grpc_cpp_plugin REQUIRED)
  add_custom_command(
    OUTPUT ${outs}
    COMMAND ${VAULTCA_PROTOC} --proto_path=${PROJECT_SOURCE_DIR} --proto_path=/usr/include
            --cpp_out=${PROJECT_BINARY_DIR} --grpc_out=${PROJECT_BINARY_DIR}
            --plugin=protoc-gen-grpc=${VAULTCA_GRPC_CPP_PLUGIN} ${rel}
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
    DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${ARG_SRC}
    COMMENT "protoc ${rel}")
  vaultca_cc_library(NAME ${ARG_NAME}
    SRCS ${PROJECT_BINARY_DIR}/${base}.pb.cc ${PROJECT_BINARY_DIR}/${base}.grpc.pb.cc
    DEPS gRPC::grpc++ protobuf::libprotobuf)
  _vaultca_target_name(target ${ARG_NAME})
  get_filename_component(dir "${rel}" DIRECTORY)
  install(FILES ${PROJECT_BINARY_DIR}/${base}.pb.h ${PROJECT_BINARY_DIR}/${base}.grpc.pb.h
    DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/vaultca/${dir})
endfunction()

# vaultca_cc_fuzz_test(NAME csr_fuzzer SRCS csr_fuzzer.cc DEPS ...)
#   A fuzz target (see bazel/fuzz.bzl) built with the corpus driver of
#   common/testing, registered with ctest: it runs over its generated seeds
#   and mutations of them. Real fuzzing is Bazel's --config=fuzz.
function(vaultca_cc_fuzz_test)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS" ${ARGN})
  if(NOT VAULTCA_BUILD_TESTS)
    message(FATAL_ERROR "${ARG_NAME} is a test declared outside if(VAULTCA_BUILD_TESTS) in ${CMAKE_CURRENT_LIST_FILE}")
  endif()
  _vaultca_target_name(target ${ARG_NAME})
  add_executable(${target} ${ARG_SRCS})
  target_link_libraries(${target} PRIVATE ${ARG_DEPS}
    vaultca::common_testing_fuzz_target vaultca::common_testing_fuzz_corpus_main)
  target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
  add_test(NAME ${target_alias} COMMAND ${target})
  set_tests_properties(${target_alias} PROPERTIES TIMEOUT 300
    LABELS fuzz ENVIRONMENT "VAULTCA_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
endfunction()
