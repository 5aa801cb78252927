import { timingSafeEqual } from 'node:crypto'
import { jsonError } from './errors.ts'

/** Constant-time comparison, so a secret cannot be guessed byte by byte from response times. */
export function sameSecret(given: string, secret: string): boolean {
  const a = Buffer.from(given)
  const b = Buffer.from(secret)
  return a.length === b.length && timingSafeEqual(a, b)
}

/** The token of an `Authorization: Bearer <token>` header, or null. */
export function bearerOf(headers: Headers): string | null {
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(headers.get('authorization') ?? '')
  return m ? m[1]! : null
}

/**
 * An Elysia `beforeHandle` that lets a request through only with `Authorization: Bearer <one of tokens>`.
 * Tokens that are not configured (undefined) never match, so with none configured every request gets 401.
 *
 * @example
 *   new Elysia({ prefix: '/admin' }).onBeforeHandle(requireBearer(() => [config.admin_token])).get(…)
 */
export function requireBearer(tokens: () => readonly (string | undefined)[]) {
  return ({ request }: { request: Request }): Response | undefined => {
    const accepted = tokens().filter((t): t is string => typeof t === 'string' && t.length > 0)
    if (accepted.length === 0)
      return jsonError(401, 'UNAUTHORIZED', 'no admin token is configured on this server (set ADMIN_TOKEN)')
    const given = bearerOf(request.headers)
    if (given === null) return jsonError(401, 'UNAUTHORIZED', 'missing Authorization: Bearer <token>')
    // Every configured token is compared, so timing does not tell which one came close.
    let ok = false
    for (const token of accepted) ok = sameSecret(given, token) || ok
    return ok ? undefined : jsonError(401, 'UNAUTHORIZED', 'wrong token')
  }
}
