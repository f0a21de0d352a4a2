"""Downtime intake: customer requests taken while the CRM is down, replayed into it exactly once."""
