"""Incident review: timeline, measurements, customer impact, causes and corrective actions."""
