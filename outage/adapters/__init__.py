"""Adapters of the customer side: each translates one technology (DynamoDB, KMS, PostgreSQL, HTTP)."""
