"""Only the backup bucket's S3 client moves to `backup.endpoint_url`; KMS, DynamoDB, Route 53 stay on `aws`.

No request is sent: the clients are inspected (endpoint, credentials, TLS verification).
"""

from pathlib import Path

import pytest

from recovery.adapters.aws_session import backup_client, client
from tests.conftest import make_inventory

pytestmark = pytest.mark.adapters


def test_only_the_store_client_uses_the_backup_endpoint_profile_and_ca(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    credentials = tmp_path / "credentials"
    credentials.write_text("[dr-store]\naws_access_key_id = STOREKEY\naws_secret_access_key = storesecret\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    ca = tmp_path / "ca.pem"
    inventory = make_inventory(**{"aws.endpoint_url": "http://127.0.0.10:4566",
                                  "backup.endpoint_url": "https://s3.dr.example.net:9000",
                                  "backup.profile": "dr-store", "backup.ca_bundle": str(ca)})

    store = backup_client(inventory.backup, inventory.aws)
    others = {name: client(inventory.aws, name, inventory.regions.dr) for name in ("kms", "dynamodb", "route53")}

    assert store.meta.endpoint_url == "https://s3.dr.example.net:9000"
    assert store._request_signer._credentials.access_key == "STOREKEY"
    assert store._endpoint.http_session._verify == str(ca)
    for name, other in others.items():
        assert other.meta.endpoint_url == "http://127.0.0.10:4566", name
        assert other._request_signer._credentials.access_key != "STOREKEY", name  # the lab's keys, not the store's


def test_without_a_backup_endpoint_the_store_client_is_the_aws_one() -> None:
    inventory = make_inventory(**{"aws.endpoint_url": "http://127.0.0.10:4566"})
    assert backup_client(inventory.backup, inventory.aws).meta.endpoint_url == "http://127.0.0.10:4566"


def test_a_store_that_ignores_sse_kms_is_refused_before_any_upload(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore's Stubber plays a store that answers an SSE-KMS PUT without encrypting (no such server runs here)."""
    from botocore.stub import Stubber

    from policies.errors import Refused
    from recovery.adapters.s3_store import S3ObjectStore

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    store = S3ObjectStore(make_inventory(**{"backup.endpoint_url": "https://s3.dr.example.net:9000"}))
    with Stubber(store._encryption._probe) as probe, Stubber(store._s3) as s3:
        probe.add_response("put_object", {"ETag": '"d41d8cd98f00b204e9800998ecf8427e"', "VersionId": "v1"},
                           {"Bucket": "crm-backups", "Key": "crm/.crmdr-probe/sse-kms", "Body": b"",
                            "ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "alias/crm"})
        s3.add_response("delete_object", {}, {"Bucket": "crm-backups", "Key": "crm/.crmdr-probe/sse-kms",
                                              "VersionId": "v1"})
        with pytest.raises(Refused, match=r"ignored SSE-KMS \(it stores plaintext\).*backup\.encryption: envelope"):
            store.put_bytes("points/p/manifest.json", b"{}")
        s3.assert_no_pending_responses()  # the probe was deleted; the manifest was never sent
