"""Resolve a secret reference to its value at the moment of use; values are never stored."""

import os
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from policies.errors import CloudError, ConfigError
from recovery.adapters.aws_session import client, retryable
from recovery.inventory import Inventory, SecretRef


def resolve_secret(ref: SecretRef, inventory: Inventory) -> str:
    """The value behind `ref`; errors name the reference, never a value."""
    if ref.env:
        value = os.environ.get(ref.env)
        if value is None:
            raise ConfigError(f"secret reference env:{ref.env}: environment variable is not set")
        return value
    if ref.file:
        try:
            return Path(ref.file).read_text().strip()
        except OSError as err:
            raise ConfigError(f"secret reference file:{ref.file}: cannot read it ({err.strerror})") from None
    region = inventory.regions.dr
    try:
        if ref.ssm:
            answer = client(inventory.aws, "ssm", region).get_parameter(Name=ref.ssm, WithDecryption=True)
            return str(answer["Parameter"]["Value"])
        answer = client(inventory.aws, "secretsmanager", region).get_secret_value(SecretId=ref.secretsmanager)
        return str(answer["SecretString"])
    except (ClientError, BotoCoreError) as err:
        raise CloudError(f"secret reference {ref.describe()}: cannot read it ({type(err).__name__})",
                         retryable=retryable(err)) from None


def optional_secret(ref: SecretRef | None, inventory: Inventory) -> str | None:
    """The value behind `ref`, or None when the inventory names no secret there."""
    return resolve_secret(ref, inventory) if ref else None
