"""HTTP plumbing shared by every area: runtime, dependencies, errors, middleware."""
