"""Recovery: back up, verify, restore, fail over, switch over, fail back.

Contracts at the root (`inventory`, `ports`, `envfile`, `redact`); one package per concern
(`backups`, `wal`, `watch`, `runbooks`) holding its pure decisions and the services that
compose them; adapters named by technology (`recovery.adapters`) translate to boto3, Fabric,
psycopg and subprocess. Where each kind sits: docs/architecture.md.
"""
