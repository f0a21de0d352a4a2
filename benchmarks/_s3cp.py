"""A plain S3 copy tool (the `aws s3 cp` a user would pipe into), for the raw baselines.

    python -m benchmarks._s3cp up INVENTORY KEY < stream      (multipart upload_fileobj, SSE-KMS)
    python -m benchmarks._s3cp down INVENTORY KEY FILE        (download_file, parallel ranged GETs)
"""

import sys
from pathlib import Path

from boto3.s3.transfer import TransferConfig

from recovery.adapters.aws_session import backup_client
from recovery.inventory import load_inventory

MiB = 1024 * 1024


def main(argv: list[str]) -> int:
    action, inventory_file, key = argv[:3]
    inventory = load_inventory(Path(inventory_file))
    s3 = backup_client(inventory.backup, inventory.aws, read_timeout=600)  # as S3ObjectStore
    config = TransferConfig(multipart_threshold=16 * MiB, multipart_chunksize=16 * MiB, max_concurrency=4)
    full = f"{inventory.backup.prefix}{key}"
    if action == "up":
        s3.upload_fileobj(sys.stdin.buffer, inventory.backup.bucket, full, Config=config,
                          ExtraArgs={"ServerSideEncryption": "aws:kms",
                                     "SSEKMSKeyId": inventory.backup.kms_key_id})
    else:
        s3.download_file(inventory.backup.bucket, full, argv[3], Config=config)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
