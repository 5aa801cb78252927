import { join } from 'node:path'
import { Elysia } from 'elysia'
import type { Config } from '../config.ts'
import { AppError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import {
  cookieOf,
  csrfOf,
  isHttps,
  SESSION_COOKIE,
  sameOrigin,
  sameSecret,
  signSession,
  verifySession,
} from './auth.ts'
import { readJson } from './body.ts'
import { jsonError } from './errors.ts'

/** Where the console's TypeScript sources live (bundled by Bun at the first request). */
export const CONSOLE_DIR = join(import.meta.dir, '..', '..', 'console')

export interface ConsoleBundle {
  /** The page every /console URL answers with (the app routes by #hash). */
  html: string
  /** Hashed file name → content and type. */
  assets: Map<string, { body: Uint8Array<ArrayBuffer>; type: string }>
  /** Gzipped bytes of everything a first load fetches (html, js, css). */
  gzipBytes: number
}

/** Bundles console/main.tsx with Bun's bundler: minified, names carry a content hash so they can be cached forever. */
export async function buildConsole(dir = CONSOLE_DIR): Promise<ConsoleBundle> {
  const result = await Bun.build({
    entrypoints: [join(dir, 'main.tsx')],
    target: 'browser',
    minify: true,
    naming: '[name]-[hash].[ext]',
    define: { 'process.env.NODE_ENV': '"production"' },
  })
  if (!result.success) throw new AppError('INTERNAL', `console bundle failed: ${result.logs.join('; ')}`)
  const assets = new Map<string, { body: Uint8Array<ArrayBuffer>; type: string }>()
  let js = ''
  let css = ''
  for (const out of result.outputs) {
    const name = out.path.replace(/^.*\//, '')
    assets.set(name, { body: new Uint8Array(await out.arrayBuffer()), type: out.type })
    if (out.kind === 'entry-point') js = name
    else if (name.endsWith('.css')) css = name
  }
  const html = `<!doctype html><html lang="ko"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>kbot console</title>${css ? `<link rel="stylesheet" href="/console/assets/${css}">` : ''}</head><body><div id="app"></div><script type="module" src="/console/assets/${js}"></script></body></html>`
  let gzipBytes = Bun.gzipSync(html).byteLength
  for (const a of assets.values()) gzipBytes += Bun.gzipSync(a.body).byteLength
  return { html, assets, gzipBytes }
}

const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
}

export interface ConsoleDeps {
  config: Config
  log: Logger
  /** Tests pass a prebuilt bundle; otherwise it is built once, at the first request, off the start-up path. */
  bundle?: () => Promise<ConsoleBundle>
}

/**
 * `/console`: the operator's web page. It holds no business logic: the page calls the admin API with the session
 * cookie this route group issues in exchange for the admin token.
 */
export function consoleRoutes(deps: ConsoleDeps) {
  let building: Promise<ConsoleBundle> | null = null
  const bundle = () => {
    building ??= (deps.bundle ?? (() => buildConsole()))().catch((err) => {
      building = null
      throw err
    })
    return building
  }
  const token = () => deps.config.admin_token
  const cookie = (request: Request, value: string, maxAge: number) =>
    `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${isHttps(request) ? '; Secure' : ''}`
  const page = async () =>
    new Response((await bundle()).html, {
      headers: {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-cache',
        ...SECURITY_HEADERS,
      },
    })

  return new Elysia({ prefix: '/console' })
    .get('', page, { detail: { hide: true } })
    .get('/', page, { detail: { hide: true } })
    .get(
      '/assets/:file',
      async ({ params }) => {
        const asset = (await bundle()).assets.get(params.file)
        if (!asset) return jsonError(404, 'NOT_FOUND', 'no such console asset')
        return new Response(asset.body, {
          headers: {
            'content-type': asset.type,
            'cache-control': 'public, max-age=31536000, immutable',
            'x-content-type-options': 'nosniff',
          },
        })
      },
      { detail: { hide: true } },
    )
    .get(
      '/session',
      ({ request }) => {
        const admin = token()
        const value = cookieOf(request.headers, SESSION_COOKIE)
        const expiresAt = verifySession(admin, value)
        if (!admin || expiresAt === null || value === null)
          return jsonError(401, 'UNAUTHORIZED', 'not signed in')
        return { csrf: csrfOf(admin, value), expires_at: new Date(expiresAt).toISOString() }
      },
      { detail: { hide: true } },
    )
    .post(
      '/login',
      async ({ request }) => {
        if (!sameOrigin(request)) return jsonError(403, 'FORBIDDEN', 'sign in from the console page')
        const body = (await readJson(request, 4096)) as { token?: unknown }
        const given = typeof body?.token === 'string' ? body.token.trim() : ''
        const admin = token()
        if (!admin) return jsonError(401, 'UNAUTHORIZED', 'no admin token is configured on this server')
        if (!given || !sameSecret(given, admin)) {
          deps.log.warn('console sign-in refused: wrong token')
          return jsonError(401, 'UNAUTHORIZED', 'wrong token')
        }
        const session = signSession(admin)
        return Response.json(
          { csrf: csrfOf(admin, session.value), expires_at: new Date(session.expiresAt).toISOString() },
          {
            headers: {
              'set-cookie': cookie(
                request,
                session.value,
                Math.floor((session.expiresAt - Date.now()) / 1000),
              ),
            },
          },
        )
      },
      { parse: 'none', detail: { hide: true } },
    )
    .post(
      '/logout',
      ({ request }) => {
        if (!sameOrigin(request)) return jsonError(403, 'FORBIDDEN', 'sign out from the console page')
        return new Response(null, { status: 204, headers: { 'set-cookie': cookie(request, '', 0) } })
      },
      { parse: 'none', detail: { hide: true } },
    )
}

/**
 * Times every Kakao turn (/skill, /welcome) from the request's arrival to the response, for the console's ack
 * latency chart. Global hooks, because the Kakao routes live in another group.
 */
export function ackTimer(ack: { record(ms: number): void }) {
  const started = new WeakMap<Request, number>()
  const isTurn = (request: Request) => {
    const path = new URL(request.url).pathname
    return request.method === 'POST' && (path === '/skill' || path === '/welcome')
  }
  return new Elysia({ name: 'ack-timer' })
    .onRequest(({ request }) => {
      if (isTurn(request)) started.set(request, performance.now())
    })
    .onAfterResponse({ as: 'global' }, ({ request }) => {
      const at = started.get(request)
      if (at !== undefined) ack.record(performance.now() - at)
    })
}
