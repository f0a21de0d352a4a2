"""Customer status updates: incidents, templates, the static page, feeds and subscribers."""
