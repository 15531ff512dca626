"""Organizations, workspaces, deployments, membership and custom roles."""
