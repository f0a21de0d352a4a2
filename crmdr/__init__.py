"""The `crmdr` command line: argument parsing, output and error-to-exit-code; no logic."""

__version__ = "0.1.0"
