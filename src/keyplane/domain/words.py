"""Small pieces of the sentences that the server's and the CLI's messages are made of."""

from __future__ import annotations


def with_article(noun: str) -> str:
    """``noun`` after its indefinite article: "an organization", "a Workspace"."""
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"
