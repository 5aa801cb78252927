import { Elysia } from 'elysia'
import * as v from 'valibot'
import type { Config } from '../config.ts'
import { type AppError, isAppError } from '../errors.ts'
import { classify } from '../safety/classify.ts'
import type { Lexicon } from '../safety/lexicon.ts'
import { listSafety, parseSince } from '../services/safety.ts'
import type { Db } from '../store/db.ts'
import { requireAdmin } from './auth.ts'
import { readJson } from './body.ts'
import { errorResponse, jsonError } from './errors.ts'
import { any, doc, ErrorBody, obj } from './openapi-docs.ts'

const TextBody = v.strictObject({ text: v.pipe(v.string(), v.maxLength(10_000)) })

/**
 * `GET /admin/safety` (admin token): flagged conversations with their last turns. `POST /test-safety` (DEBUG
 * only): what the crisis check makes of one text, `{kinds, matched, reason}`.
 */
export function safetyRoutes(deps: { config: Config; db: Db; lexicon: () => Lexicon }) {
  const admin = new Elysia({ prefix: '/admin', detail: { tags: ['admin'] } })
    .onBeforeHandle(requireAdmin(() => deps.config.admin_token))
    .get(
      '/safety',
      async ({ query }) => {
        try {
          const since = parseSince(query.since)
          const limit = query.limit === undefined ? 50 : Number(query.limit)
          if (!Number.isInteger(limit) || limit < 1 || limit > 500)
            return jsonError(400, 'BAD_REQUEST', 'limit must be a whole number from 1 to 500')
          return { conversations: await listSafety(deps.db, { since, limit }) }
        } catch (err) {
          if (isAppError(err, 'BAD_REQUEST')) return errorResponse(err)
          throw err
        }
      },
      {
        detail: doc({
          tag: 'admin',
          admin: true,
          summary: 'Flagged conversations (?since=24h|ISO&limit), newest flag first, with last turns',
          query: [
            { name: 'since', schema: { type: 'string' } },
            { name: 'limit', schema: { type: 'integer', minimum: 1, maximum: 500, default: 50 } },
          ],
          responses: { 200: any, 400: ErrorBody },
        }),
      },
    )
  if (!deps.config.debug) return [admin]
  // A separate instance: the admin token guards /admin/* only, and /test-safety exists in DEBUG mode only.
  return [
    admin,
    new Elysia({ detail: { tags: ['debug'] } }).post(
      '/test-safety',
      async ({ request }) => {
        let body: unknown
        try {
          body = await readJson(request, 64 * 1024)
        } catch (err) {
          return errorResponse(err as AppError)
        }
        const parsed = v.safeParse(TextBody, body)
        if (!parsed.success)
          return jsonError(
            400,
            'BAD_REQUEST',
            parsed.issues.map((i) => `${v.getDotPath(i) ?? 'body'}: ${i.message}`).join('; '),
          )
        return classify(deps.lexicon(), parsed.output.text)
      },
      {
        parse: 'none',
        detail: doc({
          tag: 'debug',
          summary: 'Crisis check of one text: {text} → {kinds, matched, reason}',
          body: obj({ text: { type: 'string' } }),
          responses: { 200: any, 400: ErrorBody },
        }),
      },
    ),
  ]
}
