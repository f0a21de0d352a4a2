"""The backup encryption key: one multi-Region KMS key, primary in the DR region.

The key that protects the off-site copies must stay manageable when the primary region is
gone, so its primary lives in the DR region and the primary region gets a replica (same key
material). Cross-region copies, replication and the read replica then never re-wrap data
under a key the surviving region cannot administer.
"""

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

DELETION_WINDOW_DAYS = 30


@dataclass(frozen=True)
class EncryptionKeyArgs:
    description: str
    replica_of: pulumi.Input[str] | None = None


class EncryptionKey(pulumi.ComponentResource):
    """A multi-Region key (no `replica_of`) or its replica in this component's region."""

    arn: pulumi.Output[str]

    def __init__(self, name: str, args: EncryptionKeyArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("crm-dr:infra:EncryptionKey", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        if args.replica_of is None:
            key: aws.kms.Key | aws.kms.ReplicaKey = aws.kms.Key(
                f"{name}-mrk",
                description=args.description,
                multi_region=True,
                enable_key_rotation=True,
                deletion_window_in_days=DELETION_WINDOW_DAYS,
                opts=child,
            )
        else:
            key = aws.kms.ReplicaKey(
                f"{name}-replica",
                description=args.description,
                primary_key_arn=args.replica_of,
                deletion_window_in_days=DELETION_WINDOW_DAYS,
                opts=child,
            )
        self.arn = key.arn
        self.register_outputs({"arn": self.arn})
