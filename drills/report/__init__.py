"""Drill reports: the canonical JSON, its renderings, signatures and the hash chain."""
