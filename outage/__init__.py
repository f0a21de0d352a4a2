"""The customer side of an outage: status updates and page, downtime intake, credits, incident review.

Runs outside the primary region and reads what recovery measured and journalled; recovery
never imports it (the CLI wires the watch and the runbooks to it through callbacks).
"""
