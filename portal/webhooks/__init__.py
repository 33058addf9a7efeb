"""Webhooks: organizations' endpoints, the events they may see, signed deliveries after commit."""
