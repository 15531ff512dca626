"""Pure rules with no I/O: roles and permissions, credential formats, errors."""
