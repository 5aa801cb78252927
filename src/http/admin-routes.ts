import { Elysia } from 'elysia'
import type { Config } from '../config.ts'
import { type HealthDeps, healthSnapshot } from '../services/health.ts'
import { activatePromptVersion, createPrompt, listPrompts, showPrompt } from '../services/prompts.ts'
import { listTaskPage, retryTask, retryView } from '../services/tasks.ts'
import type { Store } from '../store/db.ts'
import { requireAdmin } from './auth.ts'
import { readJson } from './body.ts'
import { any, doc, ErrorBody, NewPrompt, obj, PromptVersion, TaskView } from './openapi-docs.ts'

export interface AdminDeps {
  config: Config
  store: Store
  pool: HealthDeps['pool']
  startedAt: Date
  /** The prompt cache's `changed()`: drops this instance's cache and tells the others. */
  promptsChanged: () => Promise<void>
  /** Wakes the workers after a retry, so the task does not wait for the backstop poll. */
  wake?: () => void
}

/** Admin bodies are small JSON objects; a prompt is at most 20000 characters. */
const MAX_ADMIN_BODY = 128 * 1024

const PromptSummary = obj({
  name: { type: 'string' },
  active_version: { type: 'integer', nullable: true },
  active_id: { type: 'string', nullable: true },
  versions: { type: 'integer' },
  latest_version: { type: 'integer' },
  updated_at: { type: 'string', format: 'date-time' },
})

/**
 * The admin API of SPEC §4, every route behind `Authorization: Bearer $ADMIN_TOKEN` (constant-time; no token
 * configured means 401 everywhere). Handlers only translate HTTP to the service functions the CLI also calls.
 */
export function adminRoutes(deps: AdminDeps) {
  const db = deps.store.db
  const prompts = { db, changed: deps.promptsChanged }
  return new Elysia({ prefix: '/admin' })
    .onBeforeHandle(requireAdmin(() => deps.config.admin_token))
    .get(
      '/health',
      async ({ set }) => {
        const snapshot = await healthSnapshot(deps)
        if (snapshot.status !== 'ok') set.status = 503
        return snapshot
      },
      {
        detail: doc({
          tag: 'admin',
          admin: true,
          summary:
            'Database latency, workers, queue depth, oldest pending age, model, callbacks, uptime, version',
          responses: { 200: any },
        }),
      },
    )
    .get('/ai-tasks', ({ query }) => listTaskPage({ db }, query), {
      detail: doc({
        tag: 'admin',
        admin: true,
        summary: 'AI tasks, newest first',
        query: [
          {
            name: 'status',
            schema: { type: 'string', enum: ['pending', 'processing', 'completed', 'failed'] },
          },
          { name: 'limit', schema: { type: 'integer', minimum: 1, maximum: 500, default: 50 } },
          { name: 'offset', schema: { type: 'integer', minimum: 0, default: 0 } },
        ],
        responses: {
          200: obj({
            tasks: { type: 'array', items: TaskView },
            total: { type: 'integer' },
            limit: { type: 'integer' },
            offset: { type: 'integer' },
          }),
          400: ErrorBody,
        },
      }),
    })
    .post(
      '/ai-tasks/:id/retry',
      async ({ params }) => {
        const outcome = await retryTask(db, params.id)
        deps.wake?.()
        return retryView(outcome)
      },
      {
        parse: 'none',
        detail: doc({
          tag: 'admin',
          admin: true,
          summary: 'Failed task → pending with fresh attempts; says how the answer will reach the user',
          responses: {
            200: obj({
              task: TaskView,
              delivery: { type: 'string', enum: ['callback', 'next-message'] },
              note: { type: 'string' },
            }),
            404: ErrorBody,
            409: ErrorBody,
          },
        }),
      },
    )
    .get('/prompts', () => listPrompts(prompts), {
      detail: doc({
        tag: 'admin',
        admin: true,
        summary: 'Every prompt name with its active version and version count',
        responses: { 200: { type: 'array', items: PromptSummary } },
      }),
    })
    .post(
      '/prompts',
      async ({ request, set }) => {
        const created = await createPrompt(prompts, await readJson(request, MAX_ADMIN_BODY))
        set.status = 201
        return created
      },
      {
        parse: 'none',
        detail: doc({
          tag: 'admin',
          admin: true,
          summary: 'A new version of a prompt (max version + 1), active unless activate is false',
          body: NewPrompt,
          responses: { 201: PromptVersion, 400: ErrorBody, 413: ErrorBody },
        }),
      },
    )
    .get('/prompts/:name', ({ params }) => showPrompt(prompts, params.name), {
      detail: doc({
        tag: 'admin',
        admin: true,
        summary: 'The active version of a prompt and all its versions',
        responses: {
          200: obj({
            name: { type: 'string' },
            active: { ...PromptVersion, nullable: true },
            versions: { type: 'array', items: PromptVersion },
          }),
          404: ErrorBody,
        },
      }),
    })
    .post('/prompts/:prompt_id/activate', ({ params }) => activatePromptVersion(prompts, params.prompt_id), {
      parse: 'none',
      detail: doc({
        tag: 'admin',
        admin: true,
        summary:
          'Makes this version the active one of its name (activating an older version is the rollback)',
        responses: { 200: PromptVersion, 404: ErrorBody },
      }),
    })
}
