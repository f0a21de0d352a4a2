"""Recovery runbooks: failover, switchover, failback, on a resumable, journaled step engine.

Programmatic entry points (used by `crmdr` and by the drills):
`recovery.runbooks.failover.run_failover`, `recovery.runbooks.switchover.run_switchover`,
`recovery.runbooks.switchover.run_failback`; each returns a `RunResult`
(`recovery.runbooks.restore.run_restore` with its summary). Layout and rules: docs/architecture.md.
"""
