import { decodeJwt } from 'jose';
import { AppiaError } from '../domain/errors.js';
import { bearerToken, type Verifier } from './verifier.js';

/**
 * DESIGN 5, several external issuers at once: a token goes to the verifier
 * of the issuer its (not yet verified) `iss` names, which then checks
 * everything, `iss` included. A token naming an issuer that is not listed
 * is refused without a signature check.
 *
 * @example
 * const verifier = verifierForIssuers(new Map([
 *   ['https://login.example.com/t/v2.0', entraVerifier],
 *   ['https://kc.example.com/realms/appia', keycloakVerifier],
 * ]));
 */
export function verifierForIssuers(byIssuer: ReadonlyMap<string, Verifier>): Verifier {
  if (byIssuer.size === 0) throw new TypeError('verifierForIssuers needs at least one issuer');
  const only = byIssuer.size === 1 ? [...byIssuer.values()][0] : undefined;
  if (only) return only;
  return {
    async verify(authorizationHeader) {
      const token = bearerToken(authorizationHeader);
      let iss: unknown;
      try {
        iss = decodeJwt(token).iss;
      } catch (err) {
        throw new AppiaError('invalidToken', 'The access token is malformed.', { cause: err });
      }
      const verifier = typeof iss === 'string' ? byIssuer.get(iss) : undefined;
      if (!verifier) throw new AppiaError('invalidToken', 'The token was issued by an issuer this server does not trust (iss).');
      return verifier.verify(authorizationHeader);
    },
  };
}
