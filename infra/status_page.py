"""The customer status page: a DR-region bucket published as a static website behind CloudFront.

It lives where the primary region cannot take it down. The bucket stays private (CloudFront
reads it through an Origin Access Control, and a website endpoint can be neither private nor
HTTPS); it is versioned and encrypted under a key of its own whose policy lets exactly this
distribution decrypt, so the guardrails hold for it as for every bucket. The origin path is
the site the status log publishes (`status/site/`); the update log beside it is never served.
"""

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.keys import DELETION_WINDOW_DAYS

STATUS_PREFIX = "status/"
SITE_PATH = f"/{STATUS_PREFIX}site"
CACHE_SECONDS = 10  # a new update shows within seconds, even through the CDN


@dataclass(frozen=True)
class StatusPageArgs:
    description: str = "crm-dr customer status page"


def _key_policy(distribution_arn: str) -> str:
    account = distribution_arn.split(":")[4]
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "AccountAdministers", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Sid": "ThisDistributionReads", "Effect": "Allow", "Principal": {"Service": "cloudfront.amazonaws.com"},
         "Action": ["kms:Decrypt"], "Resource": "*",
         "Condition": {"StringEquals": {"AWS:SourceArn": distribution_arn}}},
    ]})


def _bucket_policy(bucket_arn: str, distribution_arn: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "ThisDistributionReadsTheSite", "Effect": "Allow",
         "Principal": {"Service": "cloudfront.amazonaws.com"}, "Action": "s3:GetObject",
         "Resource": f"{bucket_arn}{SITE_PATH}/*",
         "Condition": {"StringEquals": {"AWS:SourceArn": distribution_arn}}},
    ]})


class StatusPage(pulumi.ComponentResource):
    """Bucket, key, website configuration, CloudFront distribution and the policies tying them."""

    bucket_name: pulumi.Output[str]
    url: pulumi.Output[str]

    def __init__(self, name: str, args: StatusPageArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("crm-dr:infra:StatusPage", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        distribution = self._distribution(name, child)
        key = aws.kms.Key(f"{name}-key", description=args.description, enable_key_rotation=True,
                          deletion_window_in_days=DELETION_WINDOW_DAYS, policy=distribution.arn.apply(_key_policy),
                          opts=child)
        aws.s3.BucketPolicy(f"{name}-policy", bucket=self._bucket.id,
                            policy=pulumi.Output.all(self._bucket.arn, distribution.arn).apply(
                                lambda values: _bucket_policy(values[0], values[1])), opts=child)
        self._encrypt_with(name, key)
        self.bucket_name = self._bucket.bucket
        self.url = distribution.domain_name.apply(lambda domain: f"https://{domain}")
        self.register_outputs({"bucket": self.bucket_name, "url": self.url})

    def _distribution(self, name: str, child: pulumi.ResourceOptions) -> aws.cloudfront.Distribution:
        self._bucket = aws.s3.BucketV2(f"{name}-site", opts=child)
        aws.s3.BucketPublicAccessBlock(f"{name}-site-public-access", bucket=self._bucket.id, block_public_acls=True,
                                       block_public_policy=True, ignore_public_acls=True, restrict_public_buckets=True,
                                       opts=child)
        aws.s3.BucketVersioningV2(  # every publication keeps the page it replaced
            f"{name}-site-versioning", bucket=self._bucket.id,
            versioning_configuration=aws.s3.BucketVersioningV2VersioningConfigurationArgs(status="Enabled"),
            opts=child)
        aws.s3.BucketWebsiteConfigurationV2(
            f"{name}-website", bucket=self._bucket.id,
            index_document=aws.s3.BucketWebsiteConfigurationV2IndexDocumentArgs(suffix="index.html"), opts=child)
        access = aws.cloudfront.OriginAccessControl(
            f"{name}-oac", origin_access_control_origin_type="s3", signing_behavior="always",
            signing_protocol="sigv4", description="status page: CloudFront reads the private bucket", opts=child)
        cache = aws.cloudfront.CachePolicy(
            f"{name}-cache", min_ttl=0, default_ttl=CACHE_SECONDS, max_ttl=60,
            parameters_in_cache_key_and_forwarded_to_origin=aws.cloudfront.CachePolicyParametersInCacheKeyAndForwardedToOriginArgs(
                cookies_config=aws.cloudfront.CachePolicyParametersInCacheKeyAndForwardedToOriginCookiesConfigArgs(
                    cookie_behavior="none"),
                headers_config=aws.cloudfront.CachePolicyParametersInCacheKeyAndForwardedToOriginHeadersConfigArgs(
                    header_behavior="none"),
                query_strings_config=aws.cloudfront.CachePolicyParametersInCacheKeyAndForwardedToOriginQueryStringsConfigArgs(
                    query_string_behavior="none"),
                enable_accept_encoding_gzip=True, enable_accept_encoding_brotli=True),
            opts=child)
        return aws.cloudfront.Distribution(
            f"{name}-cdn", enabled=True, is_ipv6_enabled=True, comment="crm-dr customer status page",
            default_root_object="index.html", price_class="PriceClass_100",
            origins=[aws.cloudfront.DistributionOriginArgs(
                origin_id="status-site", domain_name=self._bucket.bucket_regional_domain_name,
                origin_path=SITE_PATH, origin_access_control_id=access.id)],
            default_cache_behavior=aws.cloudfront.DistributionDefaultCacheBehaviorArgs(
                target_origin_id="status-site", viewer_protocol_policy="redirect-to-https",
                allowed_methods=["GET", "HEAD"], cached_methods=["GET", "HEAD"], cache_policy_id=cache.id,
                compress=True),
            restrictions=aws.cloudfront.DistributionRestrictionsArgs(
                geo_restriction=aws.cloudfront.DistributionRestrictionsGeoRestrictionArgs(restriction_type="none")),
            viewer_certificate=aws.cloudfront.DistributionViewerCertificateArgs(cloudfront_default_certificate=True),
            opts=child)

    def _encrypt_with(self, name: str, key: aws.kms.Key) -> None:
        """SSE-KMS under the page's own key (declared after the distribution its policy names)."""
        aws.s3.BucketServerSideEncryptionConfigurationV2(
            f"{name}-site-encryption", bucket=self._bucket.id,
            rules=[aws.s3.BucketServerSideEncryptionConfigurationV2RuleArgs(
                apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationV2RuleApplyServerSideEncryptionByDefaultArgs(
                    sse_algorithm="aws:kms", kms_master_key_id=key.arn),
                bucket_key_enabled=True)],
            opts=pulumi.ResourceOptions(parent=self))
