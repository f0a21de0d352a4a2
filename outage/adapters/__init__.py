"""Effectful edges of the customer side, named by technology: S3, DynamoDB and KMS in the DR region, SNS,
webhooks over HTTP, PostgreSQL. They translate; they do not decide."""
