"""What the binaries share: one-line usage errors and the flags they define."""
