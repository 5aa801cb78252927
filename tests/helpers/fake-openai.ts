/**
 * An OpenAI-compatible HTTP server on 127.0.0.1 (port 0) for driving the real `openai` SDK. Replies are
 * scripted per request (slow, 429, 500, hanging) or fall back to a default.
 */
export interface FakeReply {
  status?: number
  delayMs?: number
  /** Never answer (until the client gives up). */
  hang?: boolean
  content?: string
  headers?: Record<string, string>
  usage?: { prompt_tokens: number; completion_tokens: number }
  /** Reported as usage.prompt_tokens_details.cached_tokens (part of prompt_tokens). */
  cachedTokens?: number
}

export interface RecordedRequest {
  at: number
  body: {
    model: string
    messages: { role: string; content: string }[]
    temperature?: number
    max_tokens?: number
  }
  authorization: string | null
}

/** A scripted answer of `/v1/moderations`: the categories set to true (others false), scores default to 0.9. */
export interface FakeModeration {
  categories?: string[]
  scores?: Record<string, number>
  status?: number
}

const MODERATION_CATEGORIES = [
  'harassment',
  'harassment/threatening',
  'hate',
  'hate/threatening',
  'illicit',
  'illicit/violent',
  'self-harm',
  'self-harm/intent',
  'self-harm/instructions',
  'sexual',
  'sexual/minors',
  'violence',
  'violence/graphic',
]

export interface FakeOpenAI {
  /** The baseURL to give the SDK (ends with /v1). */
  url: string
  requests: RecordedRequest[]
  /** Replies for the next requests, in order; afterwards the default applies. */
  script(...replies: FakeReply[]): void
  setDefault(reply: FakeReply | ((req: RecordedRequest) => FakeReply)): void
  /** Inputs sent to `/v1/moderations`, with the model asked. */
  moderations: { model: string; input: unknown }[]
  /** Answers for the next moderation requests, in order; afterwards nothing is flagged. */
  scriptModeration(...replies: FakeModeration[]): void
  /** Requests that are currently being answered (started, not finished). */
  inFlight(): number
  close(): void
}

export function startFakeOpenAI(defaults: FakeReply = {}): FakeOpenAI {
  const queue: FakeReply[] = []
  const requests: RecordedRequest[] = []
  let fallback: FakeReply | ((req: RecordedRequest) => FakeReply) = defaults
  let active = 0
  const moderations: { model: string; input: unknown }[] = []
  const moderationQueue: FakeModeration[] = []

  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    idleTimeout: 0,
    async fetch(req) {
      const path = new URL(req.url).pathname
      if (req.method === 'POST' && path === '/v1/moderations') {
        const body = (await req.json()) as { model: string; input: unknown }
        moderations.push(body)
        const reply = moderationQueue.shift() ?? {}
        if (reply.status && reply.status !== 200)
          return Response.json({ error: { message: `scripted ${reply.status}` } }, { status: reply.status })
        const on = new Set(reply.categories ?? [])
        return Response.json({
          id: `modr-${moderations.length}`,
          model: body.model,
          results: [
            {
              flagged: on.size > 0,
              categories: Object.fromEntries(MODERATION_CATEGORIES.map((c) => [c, on.has(c)])),
              category_scores: Object.fromEntries(
                MODERATION_CATEGORIES.map((c) => [c, reply.scores?.[c] ?? (on.has(c) ? 0.9 : 0.001)]),
              ),
            },
          ],
        })
      }
      if (req.method !== 'POST' || path !== '/v1/chat/completions') {
        return Response.json({ error: { message: `no route ${path}` } }, { status: 404 })
      }
      const body = (await req.json()) as RecordedRequest['body']
      const recorded: RecordedRequest = {
        at: Date.now(),
        body,
        authorization: req.headers.get('authorization'),
      }
      requests.push(recorded)
      const reply = queue.shift() ?? (typeof fallback === 'function' ? fallback(recorded) : fallback)
      active++
      try {
        if (reply.hang) {
          await new Promise<void>((resolve) => req.signal.addEventListener('abort', () => resolve()))
          return new Response(null, { status: 499 })
        }
        if (reply.delayMs) {
          await Promise.race([
            Bun.sleep(reply.delayMs),
            new Promise<void>((resolve) => req.signal.addEventListener('abort', () => resolve())),
          ])
        }
        const status = reply.status ?? 200
        if (status !== 200) {
          return Response.json(
            {
              error: {
                message: `scripted ${status}`,
                type: status === 429 ? 'rate_limit_exceeded' : 'server_error',
              },
            },
            { status, headers: reply.headers },
          )
        }
        const last = body.messages[body.messages.length - 1]?.content ?? ''
        const content = reply.content ?? `답변: ${last}`
        const usage = reply.usage ?? { prompt_tokens: 42, completion_tokens: 7 }
        return Response.json(
          {
            id: `chatcmpl-${requests.length}`,
            object: 'chat.completion',
            created: Math.floor(Date.now() / 1000),
            model: body.model,
            choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
            usage: {
              ...usage,
              total_tokens: usage.prompt_tokens + usage.completion_tokens,
              ...(reply.cachedTokens !== undefined
                ? { prompt_tokens_details: { cached_tokens: reply.cachedTokens } }
                : {}),
            },
          },
          { headers: reply.headers },
        )
      } finally {
        active--
      }
    },
  })

  return {
    url: `http://127.0.0.1:${server.port}/v1`,
    requests,
    moderations,
    scriptModeration: (...replies) => moderationQueue.push(...replies),
    script: (...replies) => queue.push(...replies),
    setDefault: (reply) => {
      fallback = reply
    },
    inFlight: () => active,
    close: () => server.stop(true),
  }
}
