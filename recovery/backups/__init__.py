"""Recovery points: take, verify, replay and retain them; the manifest, catalog and PITR decisions.

Pure: manifest, catalog, pitr, validation. Services (compose adapters): take, verify, replay,
retention, rds_backup, and restore_fetch (the process run on a restore target).
"""
