// A real OAuth 2.0 authorization server for hookgate's tests: oidc-provider on a loopback
// port, issuing RFC 9068 JWT access tokens through the client-credentials grant.
//
// Environment: PORT; CLIENTS, a JSON array of {client_id, client_secret, scope};
// KEYS_FILE, a JSON array of private JWKs, the first of which signs: created with one
// KEY_ALG key (RS256 by default, ES256 or EdDSA) when missing; ROTATE=1 puts a new key
// first and keeps publishing the others, as a rotation does. The signing key's public
// PEM is written to KEYS_FILE.pub.pem; an RSA one's private key to KEYS_FILE.key.der.
// TOKEN_TTL in seconds (60 by default).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomUUID } from 'node:crypto';
import Provider from 'oidc-provider';

const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}`;
const clients = JSON.parse(process.env.CLIENTS);

function newKey(alg) {
  const [type, options] = {
    RS256: ['rsa', { modulusLength: 2048 }],
    ES256: ['ec', { namedCurve: 'P-256' }],
    EdDSA: ['ed25519', {}],
  }[alg];
  const jwk = generateKeyPairSync(type, options).privateKey.export({ format: 'jwk' });
  return { ...jwk, kid: randomUUID(), alg, use: 'sig' };
}

const keysFile = process.env.KEYS_FILE;
let keys = existsSync(keysFile) ? JSON.parse(readFileSync(keysFile, 'utf8')) : [];
if (keys.length === 0 || process.env.ROTATE === '1') {
  keys = [newKey(process.env.KEY_ALG || 'RS256'), ...keys];
  writeFileSync(keysFile, JSON.stringify(keys));
}
const signing = createPublicKey({ key: keys[0], format: 'jwk' });
writeFileSync(`${keysFile}.pub.pem`, signing.export({ type: 'spki', format: 'pem' }));
// An RSA private key too (PKCS#1 DER), so that a test can sign a token the server would
// never issue.
if (keys[0].kty === 'RSA') {
  const privateKey = createPrivateKey({ key: keys[0], format: 'jwk' });
  writeFileSync(`${keysFile}.key.der`, privateKey.export({ type: 'pkcs1', format: 'der' }));
}
const ttl = Number(process.env.TOKEN_TTL || 60);
const scopes = ['webhooks:read', 'webhooks:manage'];

const provider = new Provider(issuer, {
  clients: clients.map((c) => ({
    client_id: c.client_id,
    client_secret: c.client_secret,
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
    scope: c.scope,
    id_token_signed_response_alg: keys[0].alg,
  })),
  jwks: { keys },
  scopes,
  features: {
    clientCredentials: { enabled: true },
    introspection: { enabled: false },
    devInteractions: { enabled: false },
    resourceIndicators: {
      enabled: true,
      useGrantedResource: () => true,
      // Any resource the client asks for becomes the token's audience, so a test can
      // get a token for the wrong one.
      getResourceServerInfo: (_ctx, resource) => ({
        scope: scopes.join(' '),
        audience: resource,
        accessTokenTTL: ttl,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: keys[0].alg } },
      }),
    },
  },
});
provider.listen(port, '127.0.0.1', () => {
  console.log(`ready ${issuer}`);
});
