import { AppError } from '../errors.ts'

/**
 * Reads a JSON body with a size limit. Elysia's own parser is bypassed on these routes so that an oversize or
 * malformed body gets our JSON error (and nothing is written).
 */
export async function readJson(request: Request, maxBytes: number): Promise<unknown> {
  const declared = Number(request.headers.get('content-length') ?? 0)
  if (declared > maxBytes) throw new AppError('PAYLOAD_TOO_LARGE', `the body exceeds ${maxBytes} bytes`)
  const buffer = await request.arrayBuffer()
  if (buffer.byteLength > maxBytes)
    throw new AppError('PAYLOAD_TOO_LARGE', `the body exceeds ${maxBytes} bytes`)
  if (buffer.byteLength === 0)
    throw new AppError('BAD_REQUEST', 'the body is empty; a JSON object is expected')
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(buffer))
  } catch {
    throw new AppError('BAD_REQUEST', 'the body is not valid UTF-8 JSON')
  }
}
