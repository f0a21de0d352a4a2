"""The people's outage to-do list, confirmed in the journal with who and when."""
