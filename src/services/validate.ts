import * as v from 'valibot'
import { AppError } from '../errors.ts'

/**
 * Validates operator input (admin API bodies and queries, CLI options) with every problem at once. The error's
 * `details` is `{ field: message }`, which the HTTP edge returns as `error.fields`.
 */
export function parseInput<S extends v.GenericSchema>(schema: S, input: unknown): v.InferOutput<S> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new AppError('BAD_REQUEST', 'a JSON object is expected', {
      details: { '(body)': 'must be a JSON object' },
    })
  }
  const result = v.safeParse(schema, input, { abortEarly: false })
  if (result.success) return result.output
  const fields: Record<string, string> = {}
  for (const issue of result.issues) {
    const path = v.getDotPath(issue) ?? '(body)'
    const message =
      issue.expected === 'never' ? 'unknown field' : issue.input === undefined ? 'is required' : issue.message
    fields[path] ??= message
  }
  const summary = Object.entries(fields)
    .map(([k, m]) => `${k}: ${m}`)
    .join('; ')
  throw new AppError('BAD_REQUEST', summary, { details: fields })
}
