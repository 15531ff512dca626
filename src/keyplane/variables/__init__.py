"""Deployment environment variables; secret values are write-only and kept encrypted."""
