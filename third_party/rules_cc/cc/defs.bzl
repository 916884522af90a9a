"""The part of @rules_cc//cc:defs.bzl that Bazel 4.2.3's own tools load.

@bazel_tools (tools/cpp, tools/jdk) loads these five names from @rules_cc
even for a pure Python build. Bazel's WORKSPACE suffix would download
rules_cc from GitHub; this project builds offline and the Debian
bazel-rules-cc package is written for a newer Bazel, so the names simply
forward to the rules built into Bazel 4.2.3. A current Bazel (Bzlmod)
never sees this repository.
"""

def cc_library(**kwargs):
    native.cc_library(**kwargs)

def cc_binary(**kwargs):
    native.cc_binary(**kwargs)

def cc_test(**kwargs):
    native.cc_test(**kwargs)

def cc_toolchain(**kwargs):
    native.cc_toolchain(**kwargs)

def cc_toolchain_suite(**kwargs):
    native.cc_toolchain_suite(**kwargs)
