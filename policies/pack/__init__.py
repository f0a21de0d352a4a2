"""The Pulumi policy pack that enforces the guardrails during `pulumi preview` and `pulumi up`."""
