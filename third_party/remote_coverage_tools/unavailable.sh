#!/bin/sh
echo "coverage tools are not available in this offline Bazel 4.2.3 setup" >&2
exit 1
