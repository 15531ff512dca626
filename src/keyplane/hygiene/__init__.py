"""Credential hygiene: leaked credentials revoke themselves, expiry is announced."""
