"""The status page under Pulumi's mocks: a private DR-region bucket served by CloudFront, in the inventory."""

import json

import pytest

from policies.guardrails import evaluate, violations
from policies.guardrails.model import GuardrailContext
from policies.sla import load_policy
from recovery.inventory import Inventory
from tests.infra.conftest import INFRA, preview_for

pytestmark = INFRA

DR = "eu-central-1"
COMPONENT = "crm-dr:infra:StatusPage"


@pytest.mark.parametrize("strategy", ["backup-restore", "warm-standby"])
def test_the_page_lives_in_the_dr_region_behind_cloudfront(strategy: str) -> None:
    run = preview_for(strategy)
    mine = [r for r in run.resources if r.component_type == COMPONENT]
    assert mine and {r.region for r in mine} == {DR}, "every part through the DR provider, none in the primary"
    assert all(r.component == "dr-status" for r in mine), "children of the component (parent=self)"
    cdn = run.named("aws:cloudfront/distribution:Distribution", "dr-status-cdn")
    [origin] = cdn.inputs["origins"]
    assert origin["originPath"] == "/status/site", "only the published site is served, never the update log"
    assert origin["originAccessControlId"]
    assert cdn.inputs["defaultRootObject"] == "index.html"
    assert cdn.inputs["defaultCacheBehavior"]["viewerProtocolPolicy"] == "redirect-to-https"
    website = run.named("aws:s3/bucketWebsiteConfigurationV2:BucketWebsiteConfigurationV2", "dr-status-website")
    assert website.inputs["indexDocument"] == {"suffix": "index.html"}


def test_only_this_distribution_reads_the_site_and_decrypts_it() -> None:
    run = preview_for("warm-standby")
    cdn_arn = run.named("aws:cloudfront/distribution:Distribution", "dr-status-cdn").outputs["arn"]
    policy = json.loads(run.named("aws:s3/bucketPolicy:BucketPolicy", "dr-status-policy").inputs["policy"])
    [grant] = policy["Statement"]
    assert grant["Principal"] == {"Service": "cloudfront.amazonaws.com"} and grant["Action"] == "s3:GetObject"
    assert grant["Resource"].endswith("/status/site/*")
    assert grant["Condition"] == {"StringEquals": {"AWS:SourceArn": cdn_arn}}
    key = json.loads(run.named("aws:kms/key:Key", "dr-status-key").inputs["policy"])
    reader = next(s for s in key["Statement"] if s["Sid"] == "ThisDistributionReads")
    assert reader["Action"] == ["kms:Decrypt"] and reader["Condition"]["StringEquals"]["AWS:SourceArn"] == cdn_arn


def test_the_status_bucket_passes_every_guardrail() -> None:
    run = preview_for("warm-standby")
    mine = [r.view() for r in run.resources if r.component_type == COMPONENT]
    verdicts = evaluate(mine, GuardrailContext("gold", load_policy().tier("gold"), "eu-west-1", "warm-standby"))
    assert {v.rule for v in verdicts} >= {"s3-versioning", "s3-encryption", "s3-public-access-block"}
    assert [v for v in violations(verdicts) if v.resource] == []  # stack rules judge the whole program


def test_the_inventory_names_the_page_and_its_bucket() -> None:
    run = preview_for("pilot-light")
    inventory = Inventory.model_validate(run.outputs["dr_inventory"])
    assert inventory.status is not None
    assert inventory.status.url.startswith("https://") and inventory.status.url == run.outputs["status_page_url"]
    assert inventory.status.bucket and inventory.status.prefix == "status/"
