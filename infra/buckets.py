"""S3 buckets the way this toolkit needs them: private, versioned, SSE-KMS, optionally locked.

Each bucket is several resources in pulumi_aws 6 (BucketV2 plus its versioning, encryption,
public-access and Object Lock configurations); building them in one place keeps every
bucket compliant with the same guardrails.
"""

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from policies.sla import LockMode


@dataclass(frozen=True)
class BucketLock:
    """Default Object Lock retention for every new object version."""

    mode: LockMode
    days: int


@dataclass(frozen=True)
class SecureBucket:
    bucket: aws.s3.BucketV2
    versioning: aws.s3.BucketVersioningV2

    @property
    def arn(self) -> pulumi.Output[str]:
        return self.bucket.arn

    @property
    def name(self) -> pulumi.Output[str]:
        return self.bucket.bucket


def secure_bucket(
    name: str,
    *,
    kms_key_arn: pulumi.Input[str],
    parent: pulumi.Resource,
    lock: BucketLock | None = None,
) -> SecureBucket:
    """A private, versioned, SSE-KMS bucket; with `lock`, Object Lock on by default."""
    child = pulumi.ResourceOptions(parent=parent)
    bucket = aws.s3.BucketV2(name, object_lock_enabled=lock is not None, opts=child)
    aws.s3.BucketPublicAccessBlock(
        f"{name}-public-access",
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=child,
    )
    versioning = aws.s3.BucketVersioningV2(
        f"{name}-versioning",
        bucket=bucket.id,
        versioning_configuration=aws.s3.BucketVersioningV2VersioningConfigurationArgs(status="Enabled"),
        opts=child,
    )
    _encrypt(name, bucket, kms_key_arn, child)
    if lock is not None:
        _lock(name, bucket, lock, pulumi.ResourceOptions(parent=parent, depends_on=[versioning]))
    return SecureBucket(bucket, versioning)


def _encrypt(name: str, bucket: aws.s3.BucketV2, kms_key_arn: pulumi.Input[str], opts: pulumi.ResourceOptions) -> None:
    """SSE-KMS with a customer-managed key; bucket keys keep the KMS request bill small."""
    aws.s3.BucketServerSideEncryptionConfigurationV2(
        f"{name}-encryption",
        bucket=bucket.id,
        rules=[
            aws.s3.BucketServerSideEncryptionConfigurationV2RuleArgs(
                apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationV2RuleApplyServerSideEncryptionByDefaultArgs(
                    sse_algorithm="aws:kms", kms_master_key_id=kms_key_arn
                ),
                bucket_key_enabled=True,
            )
        ],
        opts=opts,
    )


def _lock(name: str, bucket: aws.s3.BucketV2, lock: BucketLock, opts: pulumi.ResourceOptions) -> None:
    """Default retention for every new object version (versioning must exist first)."""
    aws.s3.BucketObjectLockConfigurationV2(
        f"{name}-object-lock",
        bucket=bucket.id,
        object_lock_enabled="Enabled",
        rule=aws.s3.BucketObjectLockConfigurationV2RuleArgs(
            default_retention=aws.s3.BucketObjectLockConfigurationV2RuleDefaultRetentionArgs(
                mode=lock.mode, days=lock.days
            )
        ),
        opts=opts,
    )
