"""The run journal: its types and folds (events, pure) and its append-only files (files)."""
