"""visibility_failure_test: proves that Bazel refuses a dependency.

    visibility_failure_test(
        name = "x509_internal_is_private_test",
        target_under_test = ":reaches_into_x509_internal",
        expected = "target '//x509:csr_internal' is not visible from target",
    )

The target under test (tagged manual, so `bazel build //...` never builds it
on its own) is analyzed with --allow_analysis_failures; the test passes only
when its analysis failed with a message containing `expected` (name the
refused target in it, so an unrelated error cannot pass the test). Nothing is
compiled, so the test costs one analysis.
"""

def _impl(ctx):
    target = ctx.attr.target_under_test[0]
    if AnalysisFailureInfo not in target:
        return [AnalysisTestResultInfo(
            success = False,
            message = "%s was analyzed without error; expected a failure containing '%s'" %
                      (target.label, ctx.attr.expected),
        )]
    messages = [cause.message for cause in target[AnalysisFailureInfo].causes.to_list()]
    found = [m for m in messages if ctx.attr.expected in m]
    return [AnalysisTestResultInfo(
        success = len(found) > 0,
        message = "\n".join(messages),
    )]

visibility_failure_test = rule(
    implementation = _impl,
    attrs = {
        "target_under_test": attr.label(
            mandatory = True,
            cfg = analysis_test_transition(
                settings = {"//command_line_option:allow_analysis_failures": "True"},
            ),
        ),
        "expected": attr.string(mandatory = True),
    },
    test = True,
    analysis_test = True,
)
