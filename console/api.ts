/** The admin API as the page calls it: the session cookie rides along, writes carry the CSRF header. */

let csrf = ''
let onSignedOut: () => void = () => {}

export const setCsrf = (token: string) => {
  csrf = token
}
export const whenSignedOut = (fn: () => void) => {
  onSignedOut = fn
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

export async function api<T>(
  path: string,
  init: {
    method?: string
    body?: unknown /** Statuses whose body is still the answer (503 health). */
    accept?: number[]
  } = {},
): Promise<T> {
  const method = init.method ?? 'GET'
  const headers: Record<string, string> = {}
  if (method !== 'GET') headers['x-kbot-csrf'] = csrf
  if (init.body !== undefined) headers['content-type'] = 'application/json'
  const res = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  })
  const text = await res.text()
  const json = text ? (JSON.parse(text) as unknown) : null
  if (!res.ok && !init.accept?.includes(res.status)) {
    const err = (json as { error?: { code?: string; message?: string } } | null)?.error
    if (res.status === 401 && !path.startsWith('/console/')) onSignedOut()
    throw new ApiError(res.status, err?.code ?? 'HTTP', err?.message ?? `HTTP ${res.status}`)
  }
  return json as T
}

export const qs = (params: Record<string, string | number | undefined | null>) => {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params))
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v))
  const s = q.toString()
  return s ? `?${s}` : ''
}
