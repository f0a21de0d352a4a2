"""Adapters named by technology; they translate inputs, outputs and errors, nothing more."""
