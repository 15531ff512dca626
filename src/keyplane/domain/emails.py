"""One form of an email address, so that the same person is the same string everywhere.

Lower case, trimmed, and the domain in its ASCII (IDNA) form: ``carol@münchen.example``
and ``carol@xn--mnchen-3ya.example`` are one address. Domains are stored and compared
in that form (SSO claims accept only it), so an address typed, invited or vouched for
in Unicode finds the same account and the same domain rules.
"""

from __future__ import annotations


def canonical(email: str) -> str:
    """``email`` in its one form; ValueError if the domain is no valid IDNA name."""
    local, at, domain = email.strip().lower().rpartition("@")
    if not at:
        return email.strip().lower()
    if not domain.isascii():
        import idna  # server side only (email-validator's dependency): the CLI never calls this

        try:
            domain = idna.encode(domain, uts46=True).decode("ascii")
        except idna.IDNAError as error:
            raise ValueError(f"not a valid domain: {error}") from None
    return f"{local}@{domain}"
