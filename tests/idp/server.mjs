// A real OpenID Connect provider for keyplane's SSO tests: panva's oidc-provider,
// configured for the authorization code flow with PKCE, an RS256-signed ID token
// carrying `email`, and its built-in development login pages (any login name is
// accepted and becomes the user's email; the password is not checked).
//
// Usage: node server.mjs PORT CLIENT_ID CLIENT_SECRET REDIRECT_URI [REDIRECT_URI...]
// Prints "ready <issuer>" once it listens. Stop it with SIGTERM.
import Provider from 'oidc-provider'
import * as jose from 'jose'

const [port, clientId, clientSecret, ...redirectUris] = process.argv.slice(2)
const issuer = `http://127.0.0.1:${port}`

const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true })
const jwk = { ...(await jose.exportJWK(privateKey)), alg: 'RS256', use: 'sig', kid: 'test-1' }

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    redirect_uris: redirectUris,
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  jwks: { keys: [jwk] },
  pkce: { required: () => true },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  scopes: ['openid', 'email', 'profile'],
  conformIdTokenClaims: false, // put email in the ID token itself, not only at userinfo
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: id, email_verified: true, name: id.split('@')[0] }
      },
    }
  },
  features: { devInteractions: { enabled: true } },
  ttl: { Session: 600, Interaction: 600, Grant: 600, AuthorizationCode: 60, IdToken: 600, AccessToken: 600 },
})
provider.on('server_error', (ctx, err) => console.error('server_error', err))
const server = provider.listen(Number(port), '127.0.0.1', () => console.log(`ready ${issuer}`))
process.on('SIGTERM', () => server.close(() => process.exit(0)))
