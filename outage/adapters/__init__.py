"""Effectful edges of the customer side: each translates one technology (S3, DynamoDB, KMS, SNS, PostgreSQL, HTTP)."""
