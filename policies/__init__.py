"""SLA tiers, guardrails and the shared vocabulary (errors, durations, document loading).

The bottom layer: everything else may import it, it imports nothing of ours.
"""
