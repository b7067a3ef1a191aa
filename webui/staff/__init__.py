"""The staff side of the web: log-in, inboxes, request pages and actions, administration."""
