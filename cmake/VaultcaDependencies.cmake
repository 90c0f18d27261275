# Finds vaultca's external dependencies (Debian system packages). Used both
# by vaultca's own build and by vaultcaConfig.cmake for consumers.
include_guard(GLOBAL)
include(CMakeFindDependencyMacro)

find_dependency(OpenSSL 3)
find_dependency(CURL)
find_dependency(absl CONFIG)
find_dependency(Protobuf)
find_dependency(gRPC CONFIG)
find_dependency(nlohmann_json CONFIG)
find_dependency(yaml-cpp CONFIG)
find_dependency(PkgConfig)
pkg_check_modules(RE2 REQUIRED IMPORTED_TARGET re2)
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
if(NOT TARGET vaultca_httplib)
  # cpp-httplib's pkg-config pulls zlib/brotli flags we don't use; take the
  # library and the one define vaultca relies on.
  add_library(vaultca_httplib INTERFACE IMPORTED GLOBAL)
  target_link_libraries(vaultca_httplib INTERFACE cpp-httplib OpenSSL::SSL OpenSSL::Crypto)
  target_compile_definitions(vaultca_httplib INTERFACE CPPHTTPLIB_OPENSSL_SUPPORT)
endif()
if(VAULTCA_BUILD_TESTS OR NOT DEFINED VAULTCA_BUILD_TESTS)
  find_package(GTest CONFIG QUIET)
endif()
if(VAULTCA_BUILD_BENCHMARKS OR NOT DEFINED VAULTCA_BUILD_BENCHMARKS)
  find_package(benchmark CONFIG QUIET)
endif()
