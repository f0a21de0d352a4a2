"""Customers from the CRM's accounts on a real lab: the policy's query, run where applications connect."""

import pytest

from outage.adapters.crm_accounts import crm_customers
from policies.credits import CreditPolicy, CrmAccounts, load_credit_policy
from policies.errors import ConfigError
from recovery.adapters.postgres import connect
from tests.lab.conftest import Lab

pytestmark = pytest.mark.lab

QUERY = "SELECT id, name, plan, monthly_fee, currency, contact, language FROM crmdr_test_billing.accounts ORDER BY id"


def _policy(query: str = QUERY) -> CreditPolicy:
    shipped = load_credit_policy()
    return shipped.model_copy(update={"crm_accounts": CrmAccounts(query=query)})


def test_accounts_become_customers_and_a_bad_row_names_its_column(shared_lab: Lab) -> None:
    node = shared_lab.inventory.database.primary
    with connect(node.host, node.pg_port, user="crmdr", password=shared_lab.password,  # type: ignore[union-attr]
                 dbname="crm") as conn:
        conn.execute("CREATE SCHEMA crmdr_test_billing")
        try:
            conn.execute("CREATE TABLE crmdr_test_billing.accounts (id text, name text, plan text, "
                         "monthly_fee numeric(12,2), currency text, contact text, language text)")
            conn.execute("INSERT INTO crmdr_test_billing.accounts VALUES "
                         "('a1', 'Acme', 'business', 1200.00, 'EUR', 'billing@acme.example', 'de'), "
                         "('a2', 'Globex', 'starter', 0, NULL, NULL, NULL)")
            customers = crm_customers(shared_lab.inventory, _policy())
            assert [(c.id, c.plan, str(c.monthly_fee), c.currency, c.language) for c in customers] == [
                ("a1", "business", "1200.00", "EUR", "de"), ("a2", "starter", "0.00", "EUR", "en")]
            conn.execute("INSERT INTO crmdr_test_billing.accounts VALUES ('a3', 'Initech', 'gold', 10, 'EUR', '', '')")
            with pytest.raises(ConfigError, match=r"row 3: column 'plan': unknown plan 'gold'"):
                crm_customers(shared_lab.inventory, _policy())
            with pytest.raises(ConfigError, match=r"crm_accounts.query.*the query failed"):
                crm_customers(shared_lab.inventory, _policy("SELECT id FROM no_such_table"))
        finally:
            conn.execute("DROP SCHEMA crmdr_test_billing CASCADE")
