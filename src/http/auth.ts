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

/** The console's session cookie: `<expiry ms>.<HMAC-SHA256>`; HTTP-only, so page scripts never see it. */
export const SESSION_COOKIE = 'kbot_console'
/** The header a console write carries: a token derived from the session, which another origin cannot read. */
export const CSRF_HEADER = 'x-kbot-csrf'
const SESSION_MS = 12 * 3_600_000

const hmac = (key: string, data: string) =>
  new Bun.CryptoHasher('sha256', key).update(data).digest('base64url') as string

// The key is derived from ADMIN_TOKEN: sessions need no storage, hold on every instance, and all die when the
// token is rotated.
const keyOf = (adminToken: string) => hmac(adminToken, 'kbot console session v1')

/** A fresh session cookie value for the configured admin token. */
export function signSession(adminToken: string, now = Date.now()): { value: string; expiresAt: number } {
  const expiresAt = now + SESSION_MS
  return { value: `${expiresAt}.${hmac(keyOf(adminToken), String(expiresAt))}`, expiresAt }
}

/** The expiry of a valid, unexpired session cookie value, or null. */
export function verifySession(adminToken: string | undefined, value: string | null, now = Date.now()) {
  if (!adminToken || !value) return null
  const m = /^(\d{13})\.([\w-]{43})$/.exec(value)
  if (!m) return null
  const expiresAt = Number(m[1])
  if (expiresAt <= now || expiresAt > now + SESSION_MS) return null
  return sameSecret(m[2]!, hmac(keyOf(adminToken), m[1]!)) ? expiresAt : null
}

/** The CSRF token of a session: an HMAC of the cookie value, under the same key. */
export const csrfOf = (adminToken: string, session: string) => hmac(keyOf(adminToken), `csrf:${session}`)

export function cookieOf(headers: Headers, name: string): string | null {
  for (const part of (headers.get('cookie') ?? '').split(';')) {
    const at = part.indexOf('=')
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim()
  }
  return null
}

/** True when the request came over https, directly or through a proxy that says so. */
export const isHttps = (request: Request) =>
  request.url.startsWith('https:') ||
  (request.headers.get('x-forwarded-proto') ?? '').split(',')[0]!.trim() === 'https'

/** A present Origin header must name this host; browsers always send one on cross-site writes. */
export function sameOrigin(request: Request): boolean {
  const origin = request.headers.get('origin')
  if (origin === null) return true
  const host =
    request.headers.get('x-forwarded-host') ?? request.headers.get('host') ?? new URL(request.url).host
  try {
    return new URL(origin).host === host
  } catch {
    return false
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

/**
 * Like `requireBearer`, and also accepts the console's session cookie. A write with the cookie must carry
 * `X-Kbot-Csrf` (derived from the session) and no foreign Origin: a cookie travels with any request the browser
 * makes, a custom header only with the console's own.
 */
export function requireAdmin(adminToken: () => string | undefined) {
  const bearer = requireBearer(() => [adminToken()])
  return (ctx: { request: Request }): Response | undefined => {
    const { request } = ctx
    const token = adminToken()
    const session = cookieOf(request.headers, SESSION_COOKIE)
    if (bearerOf(request.headers) !== null || !token || session === null) return bearer(ctx)
    if (verifySession(token, session) === null)
      return jsonError(401, 'UNAUTHORIZED', 'the console session has expired; sign in again')
    if (SAFE_METHODS.has(request.method)) return undefined
    const csrf = request.headers.get(CSRF_HEADER)
    if (!sameOrigin(request) || csrf === null || !sameSecret(csrf, csrfOf(token, session)))
      return jsonError(403, 'FORBIDDEN', 'a console write needs the X-Kbot-Csrf header from this origin')
    return undefined
  }
}
