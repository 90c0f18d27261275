"""Generates C++ protobuf and gRPC code with the system protoc and
grpc_cpp_plugin (Debian's protobuf-compiler and protobuf-compiler-grpc), so
no protobuf or gRPC sources are needed to build offline."""

load("@rules_cc//cc:defs.bzl", "cc_library")

def vaultca_cc_grpc_library(name, src, deps = [], visibility = None):
    """A cc_library with the messages and the service stubs of one .proto.

    Args:
      name: the library's name.
      src: the .proto file, in this package.
      deps: extra cc deps (protobuf and grpc++ are added).
      visibility: the library's visibility.
    """
    base = src[:-len(".proto")]
    outs = [
        base + ".pb.h",
        base + ".pb.cc",
        base + ".grpc.pb.h",
        base + ".grpc.pb.cc",
    ]
    native.genrule(
        name = name + "_codegen",
        srcs = [src],
        outs = outs,
        cmd = " ".join([
            "/usr/bin/protoc",
            "--proto_path=.",
            "--proto_path=/usr/include",
            "--cpp_out=$(GENDIR)",
            "--grpc_out=$(GENDIR)",
            "--plugin=protoc-gen-grpc=/usr/bin/grpc_cpp_plugin",
            "$(location %s)" % src,
        ]),
    )
    cc_library(
        name = name,
        srcs = [base + ".pb.cc", base + ".grpc.pb.cc"],
        hdrs = [base + ".pb.h", base + ".grpc.pb.h"],
        deps = deps + [
            "@com_github_grpc_grpc//:grpc++",
            "@com_google_protobuf//:protobuf",
        ],
        visibility = visibility,
    )
