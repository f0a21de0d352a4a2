"""The local DR lab: two PostgreSQL hosts behind their own sshd, and moto standing in for AWS.

No AWS account and no Pulumi engine are needed to see the whole toolkit work.
"""
