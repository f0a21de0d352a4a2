"""Recovery: back up, verify, restore, fail over, switch over, fail back.

Pure planning lives beside small ports (`recovery.ports`); adapters named by technology
(`recovery.adapters`) translate to boto3, Fabric, psycopg and subprocess.
"""
