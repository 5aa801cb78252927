import { openapi } from '@elysiajs/openapi'
import { type AnyElysia, Elysia } from 'elysia'
import type { Config } from '../config.ts'
import { AppError, coerceError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import type { Store } from '../store/db.ts'
import { VERSION } from '../version.ts'
import { docsAssets } from './docs-assets.ts'
import { errorBody } from './errors.ts'
import { allowedMethods } from './methods.ts'
import { any, doc } from './openapi-docs.ts'

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
  // Filled in once the app exists: the routes a wrong-method request is checked against.
  let routes: () => readonly { method: string; path: string }[] = () => []
  const app = new Elysia()
    .use(
      openapi({
        path: '/docs',
        // The viewer's script and stylesheet come from this server (swagger-ui-dist, pinned by bun.lock), never a
        // CDN: /docs works offline and runs no third-party code on the admin's origin.
        provider: 'swagger-ui',
        // validatorUrl: null, or Swagger UI sends the document's URL to validator.swagger.io for a badge.
        swagger: {
          cdn: '/docs/assets/swagger-ui-bundle.js',
          theme: '/docs/assets/swagger-ui.css',
          validatorUrl: null,
        } as never,
        openapiVersion: '3.0.3',
        documentation: {
          components: {
            securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'ADMIN_TOKEN' } },
          },
          info: {
            title: 'kbot',
            version: VERSION,
            description: 'AI chatbot server for Kakao i Open Builder skills',
          },
        },
      }),
    )
    .use(docsAssets())
    .onError(({ code, error, request }) => {
      if (code === 'NOT_FOUND' && !(error instanceof AppError)) {
        // Elysia answers 404 for a known path with the wrong method; an operator deserves 405 and the Allow list.
        const allow = allowedMethods(routes(), new URL(request.url).pathname)
        if (allow.length > 0) {
          return Response.json(errorBody('METHOD_NOT_ALLOWED', `use ${allow.join(' or ')} on this route`), {
            status: 405,
            headers: { allow: allow.join(', ') },
          })
        }
        return Response.json(errorBody('NOT_FOUND', 'no such route'), { status: 404 })
      }
      if (code === 'PARSE')
        return Response.json(errorBody('BAD_REQUEST', 'the body is not valid JSON'), { status: 400 })
      if (code === 'VALIDATION') {
        return Response.json(errorBody('BAD_REQUEST', 'the request does not match the expected shape'), {
          status: 400,
        })
      }
      const err = coerceError(error)
      if (err.status >= 500) deps.log.error({ err }, 'request failed')
      return Response.json(
        errorBody(err.code, err.status >= 500 ? 'internal error' : err.message, fieldsOf(err)),
        { status: err.status },
      )
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
      {
        detail: doc({
          tag: 'ops',
          summary: 'Liveness and database reachability',
          responses: { 200: any, 503: any },
        }),
      },
    )
  for (const group of deps.routes ?? []) app.use(group)
  routes = () => app.routes
  return app
}

export type App = ReturnType<typeof createApp>

/** Field-by-field problems of bad input (`AppError.details` as `{ field: message }`), else nothing. */
function fieldsOf(err: AppError): Record<string, string> | undefined {
  const d = err.details
  if (err.status >= 500 || typeof d !== 'object' || d === null || Array.isArray(d)) return undefined
  return Object.values(d).every((m) => typeof m === 'string') ? (d as Record<string, string>) : undefined
}
