import { openapi } from '@elysiajs/openapi'
import { type AnyElysia, Elysia } from 'elysia'
import type { Config } from '../config.ts'
import { AppError, coerceError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import type { Store } from '../store/db.ts'
import { VERSION } from '../version.ts'
import { errorBody } from './errors.ts'

export interface AppDeps {
  config: Config
  store: Store
  log: Logger
  /** Route groups added by the composition root (Kakao, user, debug…); each is a plain Elysia plugin. */
  routes?: readonly AnyElysia[]
}

/**
 * The HTTP edge. Elysia handles only HTTP matters here (routing, body limits, error mapping); a Kakao turn is
 * handed to the pipeline by the Kakao route group.
 */
export function createApp(deps: AppDeps) {
  const maxBytes = deps.config.kakao.max_body_bytes
  const app = new Elysia()
    // Before any parsing: an oversize body gets the JSON error, unread. A streamed body without a length could
    // only be measured by reading it, so it is refused (Kakao, browsers and curl send Content-Length).
    .onRequest(({ request }) => {
      const declared = request.headers.get('content-length')
      if (declared !== null && Number(declared) > maxBytes)
        // The body is left unread, so the connection cannot carry another request: close it.
        return Response.json(errorBody('PAYLOAD_TOO_LARGE', `the body exceeds ${maxBytes} bytes`), {
          status: 413,
          headers: { connection: 'close' },
        })
      if (declared === null && request.headers.has('transfer-encoding'))
        return Response.json(errorBody('LENGTH_REQUIRED', 'a request body must declare its Content-Length'), {
          status: 411,
        })
    })
    .use(
      openapi({
        path: '/docs',
        documentation: {
          info: {
            title: 'kbot',
            version: VERSION,
            description: 'AI chatbot server for Kakao i Open Builder skills',
          },
        },
      }),
    )
    .onError(({ code, error }) => {
      if (code === 'NOT_FOUND') return Response.json(errorBody('NOT_FOUND', 'no such route'), { status: 404 })
      if (code === 'PARSE')
        return Response.json(errorBody('BAD_REQUEST', 'the body is not valid JSON'), { status: 400 })
      if (code === 'VALIDATION') {
        return Response.json(errorBody('BAD_REQUEST', 'the request does not match the expected shape'), {
          status: 400,
        })
      }
      const err = coerceError(error)
      if (err.status >= 500) deps.log.error({ err }, 'request failed')
      return Response.json(errorBody(err.code, err.status >= 500 ? 'internal error' : err.message), {
        status: err.status,
      })
    })
    .get(
      '/health',
      async ({ set }) => {
        try {
          await deps.store.ping()
          return { status: 'ok' }
        } catch (err) {
          set.status = 503
          return { status: 'unavailable', reason: err instanceof AppError ? err.code : 'DB_UNAVAILABLE' }
        }
      },
      { detail: { summary: 'Liveness and database reachability', tags: ['ops'] } },
    )
  for (const routes of deps.routes ?? []) app.use(routes)
  return app
}

export type App = ReturnType<typeof createApp>
