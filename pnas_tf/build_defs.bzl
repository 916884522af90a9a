"""Macros for pnas_tf's BUILD files: one module, one target."""

def pnas_package():
    """The subpackage's __init__.py, on which each of its modules depends."""
    native.py_library(
        name = "package",
        srcs = ["__init__.py"],
        deps = ["//pnas_tf"],
        visibility = ["//visibility:public"],
    )

def pnas_library(name, deps = []):
    """A py_library of the one module <name>.py in a pnas_tf subpackage."""
    native.py_library(
        name = name,
        srcs = [name + ".py"],
        deps = [":package"] + deps,
        visibility = ["//visibility:public"],
    )

def pnas_binary(name, deps = []):
    """A binary <name>.py: a library <name>_lib for tests, and the binary.

    `bazel run //pnas_tf:<name> -- <flags>` runs it.
    """
    native.py_library(
        name = name + "_lib",
        srcs = [name + ".py"],
        deps = ["//pnas_tf"] + deps,
        visibility = ["//visibility:public"],
    )
    native.py_binary(
        name = name,
        srcs = [name + ".py"],
        main = name + ".py",
        deps = [":" + name + "_lib"],
        visibility = ["//visibility:public"],
    )
