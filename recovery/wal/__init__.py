"""WAL: segment names and LSNs (segments, pure), archive_command setup (archive), and the
archive/restore_command processes (push, fetch; hosts call them as recovery.wal_push/_fetch)."""
