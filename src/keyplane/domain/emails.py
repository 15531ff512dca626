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
        domain = _ascii(domain)
    return f"{local}@{domain}"


def comparable(text: str) -> str:
    """``text`` (an address, or an id given in its place) as stored addresses are
    compared with it: :func:`canonical`, or lower-cased when its domain is no valid
    name (it then matches nobody)."""
    try:
        return canonical(text)
    except ValueError:
        return text.strip().lower()


def _ascii(domain: str) -> str:
    try:
        import idna  # IDNA 2008, as email-validator (the server's) encodes
    except ImportError:  # the CLI alone: the standard library's IDNA 2003, the same for
        try:  # every common name (they differ on a few letters such as ß)
            return domain.encode("idna").decode("ascii")
        except UnicodeError as error:
            raise ValueError(f"not a valid domain: {error}") from None
    try:
        return str(idna.encode(domain, uts46=True).decode("ascii"))
    except idna.IDNAError as error:
        raise ValueError(f"not a valid domain: {error}") from None
