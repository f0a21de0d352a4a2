"""Health watch: the pure decision (decide: is the primary down, by the tier) and the loop that
probes, declares the outage in a journal and fails over (loop)."""
