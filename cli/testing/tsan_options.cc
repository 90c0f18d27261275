// ThreadSanitizer options and suppressions for the cli tests that call a
// CA over gRPC (`vaultca check --server`); TSan looks for these hooks in
// the test executable itself. The same rules as server/testing/
// tsan_options.cc, for the same reason: Debian's gRPC, gpr and Abseil are
// uninstrumented, so TSan cannot see the synchronisation inside gRPC's
// core. Calls made BY uninstrumented libraries are ignored, and reports
// whose innermost frame is gRPC's own header-only code are suppressed; a
// race between two vaultca functions is still reported.

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
