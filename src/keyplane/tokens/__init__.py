"""API tokens: organization, workspace and deployment scoped credentials."""
