"""A repository rule that exposes Debian's system libraries under the
canonical Bazel names of their upstream source repositories.

Each entry of `targets` maps "package:target" to the linker flags of that
target; entries starting with "-D" become its `defines` instead, and the
entry "@absl" stands for every Abseil shared library (gRPC's and Protobuf's
headers use Abseil inline). The headers come from /usr/include, which the auto-configured C++
toolchain already searches, so the generated cc_library rules carry only
link options. A downstream workspace that declares the real source
repositories first keeps them: see deps.bzl.
"""

def _system_library_impl(ctx):
    packages = {}
    for label, linkopts in ctx.attr.targets.items():
        package, _, target = label.partition(":")
        packages.setdefault(package, []).append((target, linkopts))

    ctx.file("WORKSPACE", 'workspace(name = "%s")\n' % ctx.name)
    if "" not in packages:
        ctx.file("BUILD.bazel", "")
    for package, rules in packages.items():
        lines = ['package(default_visibility = ["//visibility:public"])', ""]
        for target, flags in sorted(rules):
            defines = [f[2:] for f in flags if f.startswith("-D")]
            linkopts = []
            for f in flags:
                if f == "@absl":
                    linkopts.extend(_absl_libraries(ctx))
                elif not f.startswith("-D"):
                    linkopts.append(f)
            lines.append("cc_library(")
            lines.append('    name = "%s",' % target)
            lines.append("    defines = %s," % repr(defines))
            lines.append("    linkopts = %s," % repr(linkopts))
            lines.append(")")
            lines.append("")
        path = package + "/BUILD.bazel" if package else "BUILD.bazel"
        ctx.file(path, "\n".join(lines))

system_library = repository_rule(
    implementation = _system_library_impl,
    attrs = {
        "targets": attr.string_list_dict(mandatory = True),
    },
    local = True,
)

def _absl_libraries(ctx):
    libdir = ctx.path("/usr/lib/x86_64-linux-gnu")
    names = []
    for entry in libdir.readdir():
        base = entry.basename
        if base.startswith("libabsl_") and base.endswith(".so"):
            names.append("-l" + base[len("lib"):-len(".so")])
    return sorted(names)

def _system_absl_impl(ctx):
    # Debian splits Abseil into ~80 shared objects whose inter-dependencies
    # are not declared per header; every target links all of them and the
    # dynamic linker loads what is used.
    linkopts = _absl_libraries(ctx) + ["-pthread"]
    ctx.file("WORKSPACE", 'workspace(name = "%s")\n' % ctx.name)
    ctx.file("BUILD.bazel", "")
    packages = {}
    for label in ctx.attr.targets:
        package, _, target = label.partition(":")
        if not target:
            target = package.split("/")[-1]
        packages.setdefault(package, []).append(target)
    for package, targets in packages.items():
        lines = ['package(default_visibility = ["//visibility:public"])', ""]
        for target in sorted(targets):
            lines.append('cc_library(name = "%s", linkopts = %s)' % (target, repr(linkopts)))
        ctx.file(package + "/BUILD.bazel", "\n".join(lines) + "\n")

system_absl = repository_rule(
    implementation = _system_absl_impl,
    attrs = {"targets": attr.string_list(mandatory = True)},
    local = True,
)

_RULES_CC_DEFS = '''"""Offline stand-in for @rules_cc: forwards to Bazel's native C++ rules,
which is what rules_cc itself does on Bazel 4."""

def cc_library(**kwargs):
    native.cc_library(**kwargs)

def cc_binary(**kwargs):
    native.cc_binary(**kwargs)

def cc_test(**kwargs):
    native.cc_test(**kwargs)

def cc_import(**kwargs):
    native.cc_import(**kwargs)

def cc_proto_library(**kwargs):
    native.cc_proto_library(**kwargs)

def cc_toolchain(**kwargs):
    native.cc_toolchain(**kwargs)

def cc_toolchain_suite(**kwargs):
    native.cc_toolchain_suite(**kwargs)

def objc_library(**kwargs):
    native.objc_library(**kwargs)
'''

def _rules_cc_stub_impl(ctx):
    ctx.file("WORKSPACE", 'workspace(name = "rules_cc")\n')
    ctx.file("BUILD.bazel", "")
    ctx.file("cc/BUILD.bazel", "")
    ctx.file("cc/defs.bzl", _RULES_CC_DEFS)

rules_cc_stub = repository_rule(implementation = _rules_cc_stub_impl)

def _empty_coverage_tools_impl(ctx):
    # Bazel 4 resolves @remote_coverage_tools for every test even when
    # coverage never runs, and this machine cannot download it. The target
    # exists but holds nothing: `bazel coverage` is not supported offline.
    ctx.file("WORKSPACE", 'workspace(name = "%s")\n' % ctx.name)
    ctx.file("BUILD.bazel", 'filegroup(name = "coverage_report_generator", visibility = ["//visibility:public"])\n')

empty_coverage_tools = repository_rule(implementation = _empty_coverage_tools_impl)
