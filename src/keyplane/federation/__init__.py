"""Workload identity federation: CI jobs exchange their OIDC ID tokens (RFC 8693)."""
