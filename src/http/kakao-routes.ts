import { Elysia } from 'elysia'
import type { Config } from '../config.ts'
import type { AppError } from '../errors.ts'
import type { KakaoResult, TurnRunner } from '../kakao/turn.ts'
import { type AckOutcome, type AckRoute, type Metrics, noMetrics } from '../metrics/registry.ts'
import { userTaskView } from '../services/tasks.ts'
import type { Db } from '../store/db.ts'
import { latestAssistantMessage } from '../store/messages.ts'
import { uuidOrNull } from '../store/rows.ts'
import { getTask } from '../store/tasks.ts'
import { readJson } from './body.ts'
import { errorResponse, jsonError } from './errors.ts'
import { doc, ErrorBody, obj, SkillPayload, SkillResponse, UserTaskView } from './openapi-docs.ts'

const KAKAO_RESPONSES = { 200: SkillResponse, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 413: ErrorBody }

const json = (result: KakaoResult) => Response.json(result.body, { status: result.status })

const outcomeOf = (result: KakaoResult): AckOutcome =>
  result.status !== 200 ? 'refused' : result.body.useCallback === true ? 'callback' : 'inline'

/** The Kakao skill webhooks and the public status routes of SPEC §4. */
export function kakaoRoutes(deps: { config: Config; db: Db; turns: TurnRunner; metrics?: Metrics }) {
  const maxBytes = deps.config.kakao.max_body_bytes
  const metrics = deps.metrics ?? noMetrics
  const handle = async (request: Request, route: AckRoute, run: TurnRunner['skill']) => {
    const receivedAt = new Date()
    const started = performance.now()
    let body: unknown
    try {
      body = await readJson(request, maxBytes)
    } catch (err) {
      metrics.ack(route, 'refused', (performance.now() - started) / 1000)
      return errorResponse(err as AppError)
    }
    const result = await run({ body, headers: request.headers, receivedAt })
    // An in-memory observation only: the ack path does no metrics I/O.
    metrics.ack(route, outcomeOf(result), (performance.now() - started) / 1000)
    return json(result)
  }

  return new Elysia()
    .post('/skill', ({ request }) => handle(request, 'skill', deps.turns.skill), {
      parse: 'none',
      detail: doc({
        tag: 'kakao',
        summary: 'Kakao i Open Builder skill webhook',
        description:
          'Receives a SkillPayload. With userRequest.callbackUrl it acknowledges at once with useCallback and ' +
          'POSTs the answer to the callback; without one it answers inline within the budget.',
        body: SkillPayload,
        responses: KAKAO_RESPONSES,
      }),
    })
    .post('/welcome', ({ request }) => handle(request, 'welcome', deps.turns.welcome), {
      parse: 'none',
      detail: doc({
        tag: 'kakao',
        summary: 'Welcome block: greets a known user by name, asks a new one for a name',
        body: SkillPayload,
        responses: KAKAO_RESPONSES,
      }),
    })
    .get(
      '/user/ai-status/:task_id',
      async ({ params }) => {
        const id = uuidOrNull(params.task_id)
        const task = id ? await getTask(deps.db, id) : null
        if (!task) return jsonError(404, 'NOT_FOUND', 'no task with this id')
        return userTaskView(task)
      },
      {
        detail: doc({
          tag: 'user',
          summary: 'Status of one AI task',
          responses: { 200: UserTaskView, 404: ErrorBody },
        }),
      },
    )
    .get(
      '/user/conversation/:conv_id/latest-ai-response',
      async ({ params }) => {
        const id = uuidOrNull(params.conv_id)
        const message = id ? await latestAssistantMessage(deps.db, id) : null
        if (!message) return jsonError(404, 'NOT_FOUND', 'no assistant message in this conversation')
        return {
          conversation_id: message.convId,
          message_id: message.id,
          content: message.content,
          tokens: message.tokens,
          created_at: message.createdAt.toISOString(),
        }
      },
      {
        detail: doc({
          tag: 'user',
          summary: 'The latest assistant message of a conversation',
          responses: {
            200: obj({
              conversation_id: { type: 'string' },
              message_id: { type: 'string' },
              content: { type: 'string' },
              tokens: { type: 'integer', nullable: true },
              created_at: { type: 'string', format: 'date-time' },
            }),
            404: ErrorBody,
          },
        }),
      },
    )
}
