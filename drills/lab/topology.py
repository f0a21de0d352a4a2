"""The lab's inventory, derived from its settings: pure, so tests and `up` agree on it."""

from drills.lab.settings import INTAKE_PORT, LabPaths, LabSettings
from recovery.inventory import Inventory

BUCKET = "crmdr-lab-backups"
LOCK_TABLE = "crmdr-lab-locks"
TOPIC = "crmdr-lab-notices"
STATUS_BUCKET = "crmdr-lab-status"
CUSTOMER_TOPIC = "crmdr-lab-customers"
ZONE = "crm.lab."
RECORD = "db.crm.lab."
INTAKE_TABLE = "crmdr-lab-intake"


def lab_inventory(
    settings: LabSettings, paths: LabPaths, *, user: str, bin_dir: str, known_hosts: dict[str, str],
    account: str,
) -> Inventory:
    """The inventory before the stand-in assigns ids (zone, health checks, KMS key)."""
    def node(name: str, ip: str, region: str) -> dict[str, object]:
        return {
            "name": name, "host": ip, "region": region, "ssh_port": settings.ssh_port, "user": user,
            "known_hosts": known_hosts[name], "pg_port": settings.pg_port,
            "data_dir": str(paths.data_dir(name)), "bin_dir": bin_dir,
            "tags": {"crmdr:lab": settings.stack, "crmdr:role": name},
        }

    return Inventory.model_validate({
        "stack": settings.stack,
        "environment": "lab",
        "sla_tier": settings.sla_tier,
        "regions": {"primary": settings.primary_region, "dr": settings.dr_region},
        "aws": {"endpoint_url": f"http://{settings.aws_ip}:{settings.aws_port}"},
        "database": {
            "engine": "hosts",
            "password": {"file": str(paths.secrets / "db_password")},
            "replication_password": {"file": str(paths.secrets / "replication_password")},
            "synchronous": settings.synchronous,
            "primary": node("primary", str(settings.primary_ip), settings.primary_region),
            "standby": node("standby", str(settings.standby_ip), settings.dr_region),
            # Every client of a lab runs on this machine, so its firewall isolates a host completely.
            "isolation": {"method": "local-firewall"},
        },
        "ssh": {"identity_file": str(paths.client_key)},
        "backup": {"bucket": BUCKET, "prefix": "crm/", "region": settings.dr_region,
                   "kms_key_id": "pending"},
        "dns": {"zone_id": "pending", "zone": ZONE, "record_name": RECORD, "ttl": settings.dns_ttl,
                "resolver": f"{settings.aws_ip}:{settings.dns_port}"},
        "lock": {"table": LOCK_TABLE, "region": settings.dr_region},
        "notify": {"topic_arn": f"arn:aws:sns:{settings.dr_region}:{account}:{TOPIC}"},
        "status": {"url": f"http://{settings.status_ip}:{settings.status_port}", "bucket": STATUS_BUCKET,
                   "topic_arn": f"arn:aws:sns:{settings.dr_region}:{account}:{CUSTOMER_TOPIC}"},
        "intake": {"url": f"http://{settings.intake_ip}:{INTAKE_PORT}", "table": INTAKE_TABLE,
                   "region": settings.dr_region, "kms_key_id": "pending", "drill_account": "1"},
        "app_hosts": [{"name": "app", "host": str(settings.app_ip), "ssh_port": settings.ssh_port, "user": user,
                       "known_hosts": known_hosts["app"], "config_file": str(paths.app_config())}]
        if settings.app_ip else [],
    })
