"""Customers from the CRM's accounts: the credit policy's `crm_accounts.query`, run on the current primary.

The database is reached as applications reach it (the DNS name through the lab's or the
system resolver), so after a failover the accounts come from the promoted standby. Rows are
checked exactly like a customers CSV; a bad row names its number and column.
"""

from typing import Any

import psycopg

from outage.credits.customers import COLUMNS, Customer, customer_from_row
from policies.credits import CreditPolicy
from policies.errors import ConfigError, HostError
from recovery.adapters.postgres import connect
from recovery.adapters.route53_dns import Route53Dns
from recovery.adapters.secrets import resolve_secret
from recovery.inventory import Inventory

SOURCE = "CRM accounts (credit policy field 'crm_accounts.query')"


def _rows(inventory: Inventory, query: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    db = inventory.database
    address = Route53Dns(inventory).resolve()
    ports = {getattr(node, "host", None) or getattr(node, "endpoint", ""): node.pg_port for node in db.nodes()}
    password = resolve_secret(db.password, inventory) if db.password else None
    with connect(address, ports.get(address, db.primary.pg_port), user=db.user, password=password,
                 dbname=db.name) as conn:
        try:
            cursor = conn.execute(query)
        except psycopg.Error as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise ConfigError(f"{SOURCE}: the query failed: {first}") from None
        names = [column.name for column in cursor.description or []]
        return names, cursor.fetchall()


def crm_customers(inventory: Inventory, policy: CreditPolicy) -> list[Customer]:
    """Every account the query returns, as customers; ConfigError names the row and the column."""
    try:
        names, rows = _rows(inventory, policy.crm_accounts.query)
    except HostError as err:
        raise HostError(f"{SOURCE}: {err}") from None
    unknown = [name for name in names if name not in COLUMNS]
    if unknown:
        raise ConfigError(f"{SOURCE}: column '{unknown[0]}' is not known (columns: {', '.join(COLUMNS)})")
    customers = []
    for number, row in enumerate(rows, 1):
        values = {name: "" if value is None else str(value) for name, value in zip(names, row, strict=True)}
        try:
            customers.append(customer_from_row(values, policy))
        except ValueError as bad:
            column = getattr(bad, "column", "?")
            raise ConfigError(f"{SOURCE}: row {number}: column '{column}': {bad}") from None
    return customers
