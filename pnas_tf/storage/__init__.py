"""Run files on local disk or at a URL, written atomically; run locks."""
