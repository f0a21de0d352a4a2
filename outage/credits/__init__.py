"""SLA credits: availability from measured downtime, the credit ledger and customer notices."""
