"""The OAuth 2.0 authorization server: one module per RFC.

- ``metadata``: RFC 8414 discovery and the JWKS
- ``token_endpoint``: RFC 6749 §3.2/§5 and the grant registry; ``client_credentials`` (§4.4)
- ``clients``: client authentication (RFC 6749 §2.3.1)
- ``revocation``: RFC 7009; ``introspection``: RFC 7662
- ``access_tokens``: issuing RFC 9068 JWT access tokens
- ``verifier``, ``subjects``: verifying them, and who they act for
- ``signing_keys``: ES256 signing keys kept encrypted in the database
"""
