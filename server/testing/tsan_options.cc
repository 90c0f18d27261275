// ThreadSanitizer options and suppressions for tests that run gRPC (linked
// into the test executable itself, where TSan looks for these hooks).
//
// gRPC, gpr, Abseil and OpenSSL come from Debian as uninstrumented shared
// libraries, so TSan cannot see the synchronisation inside gRPC's core
// (absl::Mutex behind gpr_mu, its atomics) that orders every hand-off of a
// call between gRPC's threads. Two consequences, handled narrowly:
//  - intercepted calls (memcpy, epoll_wait, ...) made BY uninstrumented
//    libraries look racy: ignore_noninstrumented_modules ignores exactly
//    those;
//  - gRPC's header-only C++ layer (grpc::internal::CallbackUnaryHandler,
//    CallOpSet, ...) is compiled into our code and instrumented, but the
//    core that orders its accesses is not: race_top suppresses reports
//    whose innermost frame is gRPC's own code, and race those inside
//    gRPC's batch machinery (CallOpSet, CallbackWithSuccessTag), which
//    never runs vaultca code. A race whose accesses are both in vaultca's
//    functions is still reported.

extern "C" const char* __tsan_default_options() {
  return "ignore_noninstrumented_modules=1";
}

extern "C" const char* __tsan_default_suppressions() {
  return "race_top:^grpc::\n"
         "race_top:grpc::internal::\n"
         "race_top:std::function<grpc::\n"
         "race:grpc::internal::CallOpSet\n"
         "race:grpc::internal::CallbackWithSuccessTag\n";
}
