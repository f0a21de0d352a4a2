"""Drills: run recovery on a schedule, measure RTO/RPO as a customer feels them, judge, report.

Also home of the local DR lab (`drills.lab`), the embedded default everything runs on.
"""
