"""The Pulumi program (`main: infra/`): primary CRM stack, off-site backups, standby, drills.

Pure decisions live in modules that never import Pulumi (`settings`, `iam`, `dr_inventory`,
`drill_schedules`); components wire them to `pulumi_aws`, one instance per region.
"""
