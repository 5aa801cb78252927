import type { TestKbot } from './kbot.ts'

export interface Answer {
  status: number
  headers: Headers
  json: any
}

/** Any method, any headers, a JSON (or raw string) body, through app.handle: for the admin API's tests. */
export async function call(
  k: TestKbot,
  method: string,
  path: string,
  opts: { token?: string | null; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...opts.headers }
  if (opts.token) headers.authorization = `Bearer ${opts.token}`
  if (opts.body !== undefined) headers['content-type'] = 'application/json'
  const res = await k.kbot.app.handle(
    new Request(`http://localhost${path}`, {
      method,
      headers,
      ...(opts.body !== undefined
        ? { body: typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body) }
        : {}),
    }),
  )
  const text = await res.text()
  let json: unknown = null
  try {
    json = text ? JSON.parse(text) : null
  } catch {
    json = text
  }
  return { status: res.status, headers: res.headers, json }
}
