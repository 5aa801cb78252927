import { Elysia } from 'elysia'
import * as v from 'valibot'
import type { AiClient } from '../ai/client.ts'
import type { Config } from '../config.ts'
import { previewPrompt } from '../services/console-preview.ts'
import { type AckLatency, hourlySeries } from '../services/console-series.ts'
import { findUsers, userTranscript } from '../services/console-users.ts'
import { diffPrompt } from '../services/prompts.ts'
import { forgetUser } from '../services/users.ts'
import { parseInput } from '../services/validate.ts'
import type { Store } from '../store/db.ts'
import { requireAdmin } from './auth.ts'
import { readJson } from './body.ts'
import { any, doc, ErrorBody, obj } from './openapi-docs.ts'

export interface ConsoleAdminDeps {
  config: Config
  store: Store
  ai: AiClient
  ack: AckLatency
}

const DiffQuery = v.strictObject({
  from: v.pipe(v.string(), v.transform(Number), v.integer('must be a version number')),
  to: v.pipe(v.string(), v.transform(Number), v.integer('must be a version number')),
})

const admin = (
  summary: string,
  responses: Record<number, unknown> = { 200: any },
  more: { body?: unknown; query?: { name: string; schema: unknown }[] } = {},
) => doc({ tag: 'admin', admin: true, summary, responses, ...more })

const Preview = obj(
  {
    prompt_id: { type: 'string', description: 'a prompt version id (active or not)' },
    messages: {
      type: 'array',
      items: obj({ role: { type: 'string', enum: ['user', 'assistant'] }, content: { type: 'string' } }),
      description: 'the chat so far, ending with the user turn',
    },
    user_name: { type: 'string' },
    summary: { type: 'string' },
  },
  ['prompt_id', 'messages'],
)

/**
 * Admin routes the console needed and SPEC §4 did not list: user search, a transcript with costs, forgetting a
 * user, a prompt diff and preview, hourly series. JSON behind the same guard as the rest of /admin, so the
 * CLI or a script can use them too; each handler only calls a service function.
 */
export function consoleAdminRoutes(deps: ConsoleAdminDeps) {
  const db = deps.store.db
  return new Elysia({ prefix: '/admin' })
    .onBeforeHandle(requireAdmin(() => deps.config.admin_token))
    .get('/users', ({ query }) => findUsers(db, query), {
      detail: admin(
        'Users by exact Kakao user key (or plusfriend key, or id) or by part of the name',
        { 200: { type: 'array', items: any }, 400: ErrorBody },
        { query: [{ name: 'q', schema: { type: 'string' } }] },
      ),
    })
    .get(
      '/users/:id/transcript',
      ({ params }) => {
        const { currency, krw_per_usd } = deps.config.usage
        return userTranscript(db, params.id, { currency, rate: currency === 'KRW' ? krw_per_usd : 1 })
      },
      {
        detail: admin(
          'A user, their newest conversations with every message, tokens and cost, and crisis flags',
          {
            200: any,
            404: ErrorBody,
          },
        ),
      },
    )
    .post('/users/:id/forget', ({ params }) => forgetUser(db, params.id), {
      parse: 'none',
      detail: admin('Erases everything kept about a user (the same as kbot users forget)', {
        200: any,
        404: ErrorBody,
      }),
    })
    .get(
      '/prompts/:name/diff',
      ({ params, query }) => {
        const { from, to } = parseInput(DiffQuery, query)
        return diffPrompt({ db }, params.name, from, to)
      },
      {
        detail: admin(
          'Line diff of two versions of a prompt, and the parameters that differ',
          { 200: any, 400: ErrorBody, 404: ErrorBody },
          {
            query: [
              { name: 'from', schema: { type: 'integer' } },
              { name: 'to', schema: { type: 'integer' } },
            ],
          },
        ),
      },
    )
    .post(
      '/prompts/preview',
      async ({ request }) =>
        previewPrompt({ db, ai: deps.ai, config: deps.config }, await readJson(request, 256 * 1024)),
      {
        parse: 'none',
        detail: admin(
          'Runs a prompt version against the model with a typed chat; writes nothing',
          { 200: any, 400: ErrorBody, 404: ErrorBody },
          { body: Preview },
        ),
      },
    )
    .get('/series', ({ query }) => hourlySeries({ db, ack: deps.ack }, query), {
      detail: admin(
        'Per UTC hour: model calls, tokens and cost (all instances), ack latency (this instance)',
      ),
    })
}
