"""People: passwords, browser sessions, the login flow, SSO, invitations and mail."""
