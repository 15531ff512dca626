"""An issuer's keys are fetched once for a burst of exchanges, and a failure is shared
(keyplane.federation.issuers), against the tests' own issuer over HTTP."""

from __future__ import annotations

import asyncio

import httpx

from keyplane.federation.issuers import IssuerKeys, IssuerUnreachable
from tests.workload_issuer import WorkloadIssuer

DISCOVERY = "/.well-known/openid-configuration"


def burst(keys: IssuerKeys, issuer: str, kid: str, size: int = 20) -> list[object]:
    async def at_once() -> list[object]:
        calls = (keys.key(issuer, kid) for _ in range(size))
        return list(await asyncio.gather(*calls, return_exceptions=True))

    return asyncio.run(at_once())


def test_a_burst_on_a_cold_cache_fetches_the_keys_once(fresh_issuer: WorkloadIssuer) -> None:
    keys = IssuerKeys()

    found = burst(keys, fresh_issuer.url, "rs-1")

    assert all(getattr(key, "key_id", None) == "rs-1" for key in found), found
    assert fresh_issuer.hits[DISCOVERY] == fresh_issuer.hits["/.well-known/jwks"] == 1


def test_a_burst_of_unknown_kids_refetches_once(fresh_issuer: WorkloadIssuer) -> None:
    keys = IssuerKeys(refetch_after=0)
    burst(keys, fresh_issuer.url, "rs-1", size=1)

    assert burst(keys, fresh_issuer.url, "stranger") == [None] * 20

    assert fresh_issuer.hits["/.well-known/jwks"] == 2


def test_a_failed_fetch_is_every_waiters_answer(fresh_issuer: WorkloadIssuer) -> None:
    keys = IssuerKeys()
    nowhere = f"{fresh_issuer.url}/nowhere"  # its discovery answers 404

    failed = burst(keys, nowhere, "rs-1")

    assert all(isinstance(error, IssuerUnreachable) for error in failed), failed
    assert "404" in str(failed[-1])
    assert fresh_issuer.hits[f"/nowhere{DISCOVERY}"] == 1
    soon = burst(keys, nowhere, "rs-1", size=5)  # within the bound: the same error, no fetch
    assert all("404" in str(error) for error in soon), soon
    assert fresh_issuer.hits[f"/nowhere{DISCOVERY}"] == 1
    keys.refetch_after = 0  # as if the bound had passed: a later request tries again
    later = burst(keys, nowhere, "rs-1", size=1)
    assert isinstance(later[0], IssuerUnreachable)
    assert fresh_issuer.hits[f"/nowhere{DISCOVERY}"] == 2


def test_an_https_issuers_keys_are_not_fetched_over_http() -> None:
    """Its own discovery document cannot downgrade the key set to plain http."""
    document = {"issuer": "https://ci.example", "jwks_uri": "http://ci.example/jwks"}
    served = []

    def answer(request: httpx.Request) -> httpx.Response:
        served.append(str(request.url))
        return httpx.Response(200, json=document if "openid" in request.url.path else {"keys": []})

    keys = IssuerKeys(transport=httpx.MockTransport(answer))

    refused = burst(keys, "https://ci.example", "rs-1", size=1)[0]

    assert isinstance(refused, IssuerUnreachable) and "over https" in str(refused), refused
    assert served == ["https://ci.example/.well-known/openid-configuration"]


def test_a_key_set_without_a_list_of_keys_is_unreachable_not_a_crash() -> None:
    from keyplane.federation.issuers import _usable

    for document in ({"keys": 7}, {"keys": "abc"}, {}):
        try:
            _usable(document)
        except IssuerUnreachable:
            continue
        raise AssertionError(f"{document} was accepted")
    broken = {"kty": "RSA", "kid": "x", "n": 5, "e": []}
    assert _usable({"keys": [broken]}) == {}
