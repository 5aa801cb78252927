import { Elysia } from 'elysia'
import * as v from 'valibot'
import type { Config } from '../config.ts'
import type { AppError } from '../errors.ts'
import { validateSkillResponse } from '../kakao/response.ts'
import type { TurnRunner } from '../kakao/turn.ts'
import { explainName } from '../names/extract.ts'
import type { Db } from '../store/db.ts'
import { getTaskByRequestId } from '../store/tasks.ts'
import { readJson } from './body.ts'
import { errorResponse, jsonError } from './errors.ts'
import { any, doc, ErrorBody, obj, SkillResponse } from './openapi-docs.ts'

const CallbackAnswer = obj({
  taskId: { type: 'string' },
  status: { type: 'string', enum: ['SUCCESS', 'FAIL'] },
  message: { type: 'string' },
  timestamp: { type: 'integer' },
})

const TestSkillBody = v.strictObject({
  utterance: v.pipe(v.string(), v.minLength(1)),
  user_id: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(200))),
  callback: v.optional(v.boolean()),
})

const TextBody = v.strictObject({ text: v.string() })

interface Arrival {
  token: string
  received_at: string
  valid: boolean
  problems: string[]
  body: unknown
}

/**
 * DEBUG-only tools: run a real turn without Kakao, a local stand-in for Kakao's callback receiver (single use
 * per URL, like Kakao), and the name extractor.
 */
export function debugRoutes(deps: { config: Config; db: Db; turns: TurnRunner; selfUrl: () => string }) {
  const arrivals: Arrival[] = []
  const used = new Set<string>()
  const parse = async <T>(request: Request, schema: v.GenericSchema<unknown, T>): Promise<T | Response> => {
    try {
      const result = v.safeParse(schema, await readJson(request, 64 * 1024))
      if (result.success) return result.output
      return jsonError(
        400,
        'BAD_REQUEST',
        result.issues.map((i) => `${v.getDotPath(i) ?? 'body'}: ${i.message}`).join('; '),
      )
    } catch (err) {
      return errorResponse(err as AppError)
    }
  }

  async function receive(request: Request, token: string | null) {
    let body: unknown
    try {
      body = await readJson(request, 256 * 1024)
    } catch {
      body = null
    }
    const problems = validateSkillResponse(body)
    const first = token === null || !used.has(token)
    if (token) used.add(token)
    arrivals.push({
      token: token ?? '',
      received_at: new Date().toISOString(),
      valid: problems.length === 0,
      problems,
      body,
    })
    if (arrivals.length > 200) arrivals.shift()
    const message = !first
      ? 'Invalid callback token. Check your callback token.'
      : problems.length > 0
        ? 'Invalid json response from bot-skill.'
        : 'OK'
    const status = first && problems.length === 0 ? 'SUCCESS' : 'FAIL'
    return { taskId: Bun.randomUUIDv7(), status, message, timestamp: Math.floor(Date.now() / 1000) }
  }

  return new Elysia()
    .post(
      '/test-skill',
      async ({ request }) => {
        const body = await parse(request, TestSkillBody)
        if (body instanceof Response) return body
        const requestId = `test-${Bun.randomUUIDv7()}`
        const payload = {
          bot: { id: 'kbot-test', name: 'kbot test' },
          userRequest: {
            utterance: body.utterance,
            user: { id: body.user_id ?? 'test-user', type: 'botUserKey', properties: {} },
            ...(body.callback
              ? { callbackUrl: `${deps.selfUrl()}/test-callback/${Bun.randomUUIDv7()}` }
              : {}),
          },
        }
        const headers = new Headers({ 'x-request-id': requestId })
        if (deps.config.kakao.skill_secret) headers.set('x-kbot-skill-secret', deps.config.kakao.skill_secret)
        const result = await deps.turns.skill({ body: payload, headers, receivedAt: new Date() })
        const task = await getTaskByRequestId(deps.db, requestId)
        return Response.json({ reply: result.body, task_id: task?.id ?? null }, { status: result.status })
      },
      {
        parse: 'none',
        detail: doc({
          tag: 'debug',
          summary: 'Run a real turn: {utterance, user_id?, callback?}',
          body: obj(
            { utterance: { type: 'string' }, user_id: { type: 'string' }, callback: { type: 'boolean' } },
            ['utterance'],
          ),
          responses: {
            200: obj({ reply: SkillResponse, task_id: { type: 'string', nullable: true } }),
            400: ErrorBody,
          },
        }),
      },
    )
    .post('/test-callback/:token', ({ request, params }) => receive(request, params.token), {
      parse: 'none',
      detail: doc({
        tag: 'debug',
        summary: "Stand-in for Kakao's callback receiver: one use per URL, like Kakao",
        body: SkillResponse,
        responses: { 200: CallbackAnswer },
      }),
    })
    .post('/test-callback', ({ request }) => receive(request, null), {
      parse: 'none',
      detail: doc({
        tag: 'debug',
        summary: "Stand-in for Kakao's callback receiver (no token: not single-use)",
        body: SkillResponse,
        responses: { 200: CallbackAnswer },
      }),
    })
    .get('/test-callback', () => ({ arrivals }), {
      detail: doc({
        tag: 'debug',
        summary: 'What reached /test-callback',
        responses: { 200: obj({ arrivals: { type: 'array', items: any } }) },
      }),
    })
    .post(
      '/test-name-extraction',
      async ({ request }) => {
        const body = await parse(request, TextBody)
        if (body instanceof Response) return body
        return explainName(body.text)
      },
      {
        parse: 'none',
        detail: doc({
          tag: 'debug',
          summary: 'Name extraction: {text} → {name, valid, reason, pattern}',
          body: obj({ text: { type: 'string' } }),
          responses: {
            200: obj({
              name: { type: 'string', nullable: true },
              valid: { type: 'boolean' },
              reason: { type: 'string', nullable: true },
              pattern: { type: 'string', nullable: true },
            }),
            400: ErrorBody,
          },
        }),
      },
    )
}
