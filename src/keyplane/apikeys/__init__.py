"""Deployment API keys: the legacy key ID + secret pair, exchanged for access tokens."""
