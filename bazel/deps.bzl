"""vaultca's external dependencies, bound to Debian's system libraries.

Call `vaultca_dependencies()` from a WORKSPACE. Each repository is declared
only when the workspace has not declared it already, so a downstream project
that builds Abseil, gRPC, Protobuf, GoogleTest, OpenSSL or curl from source
under their canonical names keeps its own copies and vaultca's BUILD files
resolve to them unchanged.
"""

load(
    "@vaultca//bazel:system_library.bzl",
    "empty_coverage_tools",
    "rules_cc_stub",
    "system_absl",
    "system_library",
)

# Every Abseil target vaultca's BUILD files name. Add to this list when a new
# one is used; the label must exist upstream with the same name.
ABSL_TARGETS = [
    "absl/base",
    "absl/base:core_headers",
    "absl/cleanup",
    "absl/container:flat_hash_map",
    "absl/container:flat_hash_set",
    "absl/flags:flag",
    "absl/flags:parse",
    "absl/flags:usage",
    "absl/functional:any_invocable",
    "absl/functional:bind_front",
    "absl/memory",
    "absl/random",
    "absl/random:distributions",
    "absl/status",
    "absl/status:statusor",
    "absl/strings",
    "absl/strings:str_format",
    "absl/synchronization",
    "absl/time",
    "absl/types:optional",
    "absl/types:span",
    "absl/types:variant",
]

def _maybe(rule, name, **kwargs):
    if not native.existing_rule(name):
        rule(name = name, **kwargs)

def vaultca_dependencies():
    """Declares every external repository vaultca needs, offline."""
    _maybe(rules_cc_stub, name = "rules_cc")
    _maybe(
        native.local_repository,
        name = "rules_java",
        path = "/usr/share/bazel/rules/java",
    )
    _maybe(empty_coverage_tools, name = "remote_coverage_tools")
    _maybe(system_absl, name = "com_google_absl", targets = ABSL_TARGETS)
    _maybe(
        system_library,
        name = "com_google_protobuf",
        targets = {":protobuf": ["-lprotobuf", "-pthread"]},
    )
    _maybe(
        system_library,
        name = "com_github_grpc_grpc",
        targets = {
            ":grpc++": ["-lgrpc++", "-lgrpc", "-lgpr", "-lprotobuf", "@absl", "-pthread"],
            ":grpc++_reflection": [
                "-lgrpc++_reflection",
                "-lgrpc++",
                "-lgrpc",
                "-lgpr",
                "-lprotobuf",
                "@absl",
                "-pthread",
            ],
        },
    )
    _maybe(
        system_library,
        name = "com_google_googletest",
        targets = {
            ":gtest": ["-lgmock", "-lgtest", "-pthread"],
            ":gtest_main": ["-lgmock", "-lgtest_main", "-lgtest", "-pthread"],
        },
    )
    _maybe(
        system_library,
        name = "com_github_google_benchmark",
        targets = {
            ":benchmark": ["-lbenchmark", "-pthread"],
            ":benchmark_main": ["-lbenchmark_main", "-lbenchmark", "-pthread"],
        },
    )
    _maybe(
        system_library,
        name = "openssl",
        targets = {":openssl": ["-lssl", "-lcrypto"]},
    )
    _maybe(
        system_library,
        name = "curl",
        targets = {":curl": ["-lcurl"]},
    )
    _maybe(
        system_library,
        name = "com_github_nlohmann_json",
        targets = {":json": []},
    )
    _maybe(
        system_library,
        name = "com_github_jbeder_yaml_cpp",
        targets = {":yaml-cpp": ["-lyaml-cpp"]},
    )
    _maybe(
        system_library,
        name = "com_googlesource_code_re2",
        targets = {":re2": ["-lre2"]},
    )
    _maybe(
        system_library,
        name = "com_github_yhirose_cpp_httplib",
        targets = {":httplib": [
            "-DCPPHTTPLIB_OPENSSL_SUPPORT",
            "-lcpp-httplib",
            "-lssl",
            "-lcrypto",
            "-pthread",
        ]},
    )
