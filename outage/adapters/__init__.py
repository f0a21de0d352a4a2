"""Effectful edges of the customer side: S3 in the DR region, SNS, webhooks over HTTP."""
