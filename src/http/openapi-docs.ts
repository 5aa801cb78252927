/**
 * OpenAPI fragments for `detail` of each route. Request bodies are read and validated by our own code (valibot,
 * size limits, our error shape), so schemas are documentation only: Elysia's own validation is not used.
 */

type Schema = Record<string, unknown>

const str = { type: 'string' }
const nstr = { type: 'string', nullable: true }
const nint = { type: 'integer', nullable: true }
const nnum = { type: 'number', nullable: true }
const time = { type: 'string', format: 'date-time' }
const ntime = { type: 'string', format: 'date-time', nullable: true }
export const obj = (
  properties: Record<string, unknown>,
  required: string[] = Object.keys(properties),
): Schema => ({
  type: 'object',
  properties,
  ...(required.length > 0 ? { required } : {}),
})

export const ErrorBody = obj({
  error: obj(
    {
      code: str,
      message: str,
      fields: { type: 'object', additionalProperties: str, description: 'field → problem (bad input)' },
    },
    ['code', 'message'],
  ),
})

export const SkillResponse: Schema = {
  type: 'object',
  description: 'Kakao SkillResponse (version 2.0)',
  properties: {
    version: { type: 'string', enum: ['2.0'] },
    useCallback: { type: 'boolean' },
    template: { type: 'object', additionalProperties: true },
    data: { type: 'object', additionalProperties: true },
  },
  required: ['version'],
}

export const SkillPayload: Schema = {
  type: 'object',
  description: 'Kakao SkillPayload; userRequest.utterance and userRequest.user.id are required',
  additionalProperties: true,
  properties: {
    bot: { type: 'object', additionalProperties: true },
    intent: { type: 'object', additionalProperties: true },
    action: { type: 'object', additionalProperties: true },
    userRequest: {
      type: 'object',
      additionalProperties: true,
      properties: {
        utterance: str,
        callbackUrl: str,
        user: { type: 'object', additionalProperties: true, properties: { id: str } },
      },
      required: ['utterance', 'user'],
    },
  },
  required: ['userRequest'],
}

export const TaskView = obj({
  task_id: str,
  status: { type: 'string', enum: ['pending', 'processing', 'completed', 'failed'] },
  ai_response: nstr,
  tokens_used: nint,
  attempts: { type: 'integer' },
  max_attempts: { type: 'integer' },
  error: nstr,
  callback_status: { type: 'string', enum: ['none', 'pending', 'sent', 'rejected', 'expired', 'inline'] },
  user_id: str,
  conversation_id: nstr,
  request_id: nstr,
  model: str,
  prompt: { type: 'object', nullable: true, additionalProperties: true },
  created_at: time,
  started_at: ntime,
  completed_at: ntime,
  delivered_at: ntime,
  deadline_at: time,
})

export const UserTaskView = obj(
  Object.fromEntries(
    [
      'task_id',
      'status',
      'ai_response',
      'tokens_used',
      'attempts',
      'error',
      'callback_status',
      'created_at',
      'completed_at',
    ].map((k) => [k, (TaskView.properties as Record<string, unknown>)[k]]),
  ),
)

export const PromptVersion = obj({
  id: str,
  name: str,
  version: { type: 'integer' },
  system_prompt: str,
  description: nstr,
  model: nstr,
  temperature: nnum,
  max_tokens: nint,
  is_active: { type: 'boolean' },
  created_at: time,
})

export const NewPrompt = obj(
  {
    name: { type: 'string', pattern: '^[\\p{L}\\p{N}_.-]{1,64}$', description: 'letters, digits, _ - .' },
    system_prompt: {
      type: 'string',
      description: '{{variables}} must be known ones (see the error for the list)',
    },
    description: nstr,
    model: nstr,
    temperature: { type: 'number', minimum: 0, maximum: 2, nullable: true },
    max_tokens: { type: 'integer', minimum: 1, nullable: true },
    activate: { type: 'boolean', default: true },
  },
  ['name', 'system_prompt'],
)

export const any = { type: 'object', additionalProperties: true }

const json = (schema: unknown) => ({ 'application/json': { schema } })
const DESCRIPTIONS: Record<string, string> = {
  '200': 'OK',
  '201': 'Created',
  '400': 'Bad input (field by field in error.fields)',
  '401': 'Missing or wrong credentials',
  '403': 'Forbidden',
  '404': 'Not found',
  '409': 'Conflict',
  '413': 'Body too large',
  '503': 'Unavailable',
}

/** `detail` for a route: summary, tag, JSON body and responses (status → schema; errors default to ErrorBody). */
export function doc(opts: {
  summary: string
  tag: string
  description?: string
  body?: unknown
  query?: { name: string; schema: unknown; description?: string }[]
  responses: Record<number, unknown>
  admin?: boolean
}) {
  return {
    summary: opts.summary,
    tags: [opts.tag],
    ...(opts.description ? { description: opts.description } : {}),
    ...(opts.admin ? { security: [{ bearer: [] }] } : {}),
    ...(opts.body ? { requestBody: { required: true, content: json(opts.body) } } : {}),
    ...(opts.query ? { parameters: opts.query.map((q) => ({ in: 'query', required: false, ...q })) } : {}),
    responses: Object.fromEntries(
      Object.entries({ ...opts.responses, ...(opts.admin ? { 401: ErrorBody } : {}) }).map(
        ([status, schema]) => [
          status,
          { description: DESCRIPTIONS[status] ?? 'Response', content: json(schema ?? ErrorBody) },
        ],
      ),
    ),
  } as never
}
