"""A workload identity: the CI job's own ID token, exchanged for an access token (DESIGN §5).

With ``KEYPLANE_WORKLOAD_IDENTITY=<id>`` the CLI takes the job's OIDC ID token from, in
order: GitHub Actions (``ACTIONS_ID_TOKEN_REQUEST_URL`` + ``ACTIONS_ID_TOKEN_REQUEST_TOKEN``,
a fresh ID token for the audience asked for, per exchange); ``KEYPLANE_ID_TOKEN``
(GitLab CI, CircleCI, Buildkite…); the file named by ``KEYPLANE_ID_TOKEN_FILE``
(a Kubernetes projected service-account token). It asks for the audience
``KEYPLANE_OIDC_AUDIENCE``, else the server's URL, and exchanges the token at
``/oauth/token`` (RFC 8693). The access token is cached like a key pair's
(:mod:`keyplane.cli.exchanged`), bound to a SHA-256 of the job's proof (GitHub's
request token, which lives as long as the job, or the ID token itself), so another
job on the same machine never reuses it; on GitHub Actions it is kept in
``$RUNNER_TEMP``, which the runner empties after every job.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from keyplane.cli.errors import CliError, NotAuthenticated, unreachable
from keyplane.cli.exchanged import ExchangedToken, Json, cache_file, sha256

if TYPE_CHECKING:
    from keyplane.client import ApiError

IDENTITY_VAR = "KEYPLANE_WORKLOAD_IDENTITY"
AUDIENCE_VAR = "KEYPLANE_OIDC_AUDIENCE"
ID_TOKEN_VAR = "KEYPLANE_ID_TOKEN"
ID_TOKEN_FILE_VAR = "KEYPLANE_ID_TOKEN_FILE"
GITHUB_URL_VAR = "ACTIONS_ID_TOKEN_REQUEST_URL"
GITHUB_TOKEN_VAR = "ACTIONS_ID_TOKEN_REQUEST_TOKEN"
NO_ID_TOKEN_ON_GITHUB = (
    "give the job `permissions: id-token: write` (GitHub sets "
    f"{GITHUB_URL_VAR} only then; a pull request from a fork never gets it)"
)
NO_ID_TOKEN = (
    f"set {ID_TOKEN_VAR} to the job's OIDC ID token (GitLab CI: `id_tokens:`) or "
    f"{ID_TOKEN_FILE_VAR} to a file holding one (Kubernetes: a projected service-account token)"
)


@dataclass(frozen=True)
class IdTokenSource:
    """Where the job's ID token comes from. ``proof`` is what the cache is bound to."""

    name: str  # for messages, e.g. "KEYPLANE_ID_TOKEN"
    proof: str = field(repr=False)
    request_url: str = ""  # GitHub's: a fresh token is fetched for each exchange

    def fetch(self, audience: str) -> str:
        """The ID token (fetched now from GitHub, else the one the job was given)."""
        if not self.request_url:
            return self.proof
        return _from_github(self.request_url, self.proof, audience)


def id_token_source(env: Mapping[str, str]) -> IdTokenSource:
    """The first ID token source the job has; raises NotAuthenticated if none."""
    url, request_token = env.get(GITHUB_URL_VAR, "").strip(), env.get(GITHUB_TOKEN_VAR, "")
    if url and request_token.strip():
        return IdTokenSource(GITHUB_URL_VAR, request_token.strip(), url)
    if value := env.get(ID_TOKEN_VAR, "").strip():
        return IdTokenSource(ID_TOKEN_VAR, value)
    if path := env.get(ID_TOKEN_FILE_VAR, "").strip():
        try:
            value = Path(path).read_text().strip()
        except OSError as error:
            raise NotAuthenticated(
                f"{ID_TOKEN_FILE_VAR}={path} cannot be read ({error.strerror or error})",
                hint="mount the projected service-account token there, or fix the path",
            ) from None
        if value:
            return IdTokenSource(f"{ID_TOKEN_FILE_VAR} ({path})", value)
        raise NotAuthenticated(f"{ID_TOKEN_FILE_VAR}={path} is empty", hint=NO_ID_TOKEN)
    on_github = env.get("GITHUB_ACTIONS") == "true" or bool(url)
    raise NotAuthenticated(
        f"{IDENTITY_VAR} is set but the job has no ID token to exchange",
        hint=NO_ID_TOKEN_ON_GITHUB if on_github else NO_ID_TOKEN,
    )


def audience(env: Mapping[str, str], url: str) -> str:
    """``KEYPLANE_OIDC_AUDIENCE``, else the server's URL (the identities' default)."""
    return env.get(AUDIENCE_VAR, "").strip() or url


def cache_dir(env: Mapping[str, str], default: Path) -> Path:
    """``$RUNNER_TEMP/keyplane`` on GitHub Actions (emptied after each job), else ``default``."""
    temp = env.get("RUNNER_TEMP", "").strip()
    return Path(temp) / "keyplane" if temp else default


class WorkloadExchange(ExchangedToken):
    """A callable bearer: the job's ID token exchanged for an access token when needed."""

    # Workload access tokens live 15 minutes by default: a minute is enough margin for
    # one command, and a 5-minute margin would exchange again after 10.
    margin = 60

    def __init__(
        self, url: str, identity_id: str, aud: str, source: IdTokenSource, cache: Path
    ) -> None:
        super().__init__(cache_file(cache, url, identity_id, aud), sha256(source.proof))
        self._url = url
        self._identity_id = identity_id
        self._audience = aud
        self._source = source

    def __repr__(self) -> str:
        return f"WorkloadExchange(url={self._url!r}, identity={self._identity_id!r})"

    def describe(self) -> Json:
        return {"server": self._url, "workloadIdentity": self._identity_id}

    def exchange(self) -> tuple[str, int]:
        from keyplane.client import ApiError, ServerUnreachable
        from keyplane.workload_identities import token_exchange_grant

        id_token = self._source.fetch(self._audience)
        try:
            body, _ = token_exchange_grant(self._url, self._identity_id, id_token)
        except ServerUnreachable as error:
            raise unreachable(error) from None
        except ApiError as error:
            raise explain_refusal(error, self._identity_id, self._source.name) from None
        return body["access_token"], int(body.get("expires_in", 0))


def _from_github(request_url: str, request_token: str, aud: str) -> str:
    """Ask GitHub Actions for an ID token with audience ``aud`` (its OIDC token endpoint)."""
    from keyplane.transport import ServerUnreachable, send

    joiner = "&" if "?" in request_url else "?"
    url = f"{request_url}{joiner}audience={quote(aud, safe='')}"
    try:
        answer = send("GET", url, headers={"Authorization": f"Bearer {request_token}"})
    except ServerUnreachable as error:
        raise CliError(
            f"cannot get the job's ID token from {GITHUB_URL_VAR}: {error.reason}"
        ) from None
    try:
        value = answer.json().get("value") if answer.status_code == 200 else None
    except (ValueError, AttributeError):
        value = None
    if not isinstance(value, str) or not value:
        raise NotAuthenticated(
            f"GitHub Actions gave the job no ID token (HTTP {answer.status_code} from "
            f"{GITHUB_URL_VAR})",
            hint=f"{NO_ID_TOKEN_ON_GITHUB}; {GITHUB_TOKEN_VAR} is valid only during its job",
        )
    return value


def explain_refusal(error: ApiError, identity_id: str, source: str) -> CliError:
    """The CLI error for a refused exchange: the server's reason, and what to change."""
    code = str(error.body.get("error", ""))
    reason = str(error.body.get("error_description") or error.message)
    inspect = f"`keyplane organization workload-identity inspect {identity_id}`"
    if code == "invalid_client":
        return NotAuthenticated(
            f"{IDENTITY_VAR}={identity_id} is not a workload identity the server knows ({reason})",
            hint="it may have been deleted: `keyplane organization workload-identity list` "
            "shows the organization's identities",
        )
    if code not in ("invalid_grant", "invalid_request"):
        return CliError(f"could not exchange the job's ID token: {error.message}")
    return NotAuthenticated(
        f"the workload identity {identity_id} refused the job's ID token (from {source}): {reason}",
        hint=_fix(reason.lower(), inspect),
    )


def _fix(reason: str, inspect: str) -> str:
    """What to change, by the check the server names in its description."""
    if "audience" in reason or "aud" in reason.split():
        return (
            f"ask for the identity's audience: set {AUDIENCE_VAR} to the audience "
            f"{inspect} shows (or the CI system's token audience, off GitHub)"
        )
    if "replay" in reason or "already" in reason:
        return (
            "each ID token is exchanged once: give the job a fresh one (the CLI keeps the "
            "access token it got for the job's later commands while its cache directory "
            "is writable)"
        )
    if "expired" in reason or "not yet valid" in reason:
        return "the ID token is outside its validity: give the job a fresh one"
    if "issuer" in reason:
        return (
            f"the identity must name the job's issuer ({inspect}), and the server's "
            "operator must list it in KEYPLANE_FEDERATION_ISSUERS"
        )
    return (
        "this job does not meet the identity's conditions: run it from the repository, "
        f"ref and environment {inspect} names, or change them with "
        "`keyplane organization workload-identity update <ID> --condition CLAIM=VALUE`"
    )
