import * as v from 'valibot'
import { parseHostRules } from '../util/host-rules.ts'

/**
 * Coercing field schemas shared by every config section. Environment values arrive as strings, TOML values as
 * typed values; both must validate to the same thing, with a message an operator can act on.
 */

export const int = (min: number, max: number, fallback: number) =>
  v.optional(
    v.pipe(
      v.union(
        [v.number(), v.pipe(v.string(), v.trim(), v.regex(/^-?\d+$/), v.transform(Number))],
        `must be a whole number from ${min} to ${max}`,
      ),
      v.integer(`must be a whole number from ${min} to ${max}`),
      v.minValue(min, `must be a whole number from ${min} to ${max}`),
      v.maxValue(max, `must be a whole number from ${min} to ${max}`),
    ),
    fallback,
  )

export const num = (min: number, max: number, fallback: number) =>
  v.optional(
    v.pipe(
      v.union(
        [v.number(), v.pipe(v.string(), v.trim(), v.regex(/^-?\d+(\.\d+)?$/), v.transform(Number))],
        `must be a number from ${min} to ${max}`,
      ),
      v.minValue(min, `must be a number from ${min} to ${max}`),
      v.maxValue(max, `must be a number from ${min} to ${max}`),
    ),
    fallback,
  )

const TRUE = ['true', '1', 'yes', 'on']
const FALSE = ['false', '0', 'no', 'off', '']
export const bool = (fallback: boolean) =>
  v.optional(
    v.union(
      [
        v.boolean(),
        v.pipe(
          v.string(),
          v.trim(),
          v.toLowerCase(),
          v.picklist([...TRUE, ...FALSE]),
          v.transform((s) => TRUE.includes(s)),
        ),
      ],
      'must be true or false',
    ),
    fallback,
  )

export const str = (fallback: string) =>
  v.optional(v.pipe(v.string('must be text'), v.trim(), v.minLength(1)), fallback)
export const optStr = () => v.optional(v.pipe(v.string('must be text'), v.trim(), v.minLength(1)))

/** A list given either as a TOML array or as a comma-separated environment value. */
export const list = (fallback: string[]) =>
  v.optional(
    v.pipe(
      v.union(
        [
          v.array(v.string()),
          v.pipe(
            v.string(),
            v.transform((s) => s.split(',')),
          ),
        ],
        'must be a list (TOML array or comma-separated text)',
      ),
      v.transform((xs) => xs.map((x) => x.trim()).filter((x) => x.length > 0)),
    ),
    fallback,
  )

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

/**
 * DATABASE_URL: `sqlite:<path>` (also `sqlite:///path`, `sqlite+aiosqlite:///path`, `sqlite::memory:`),
 * or `postgres://` / `postgresql://` (also the old bot's `postgresql+asyncpg://`).
 */
export const databaseUrl = v.pipe(
  v.string('must be text'),
  v.trim(),
  v.check(
    (s) => /^(sqlite(\+\w+)?:.+|postgres(ql)?(\+\w+)?:\/\/.+)$/.test(s),
    'must be sqlite:<path> or postgres://user@host:port/db',
  ),
  v.transform(normaliseDatabaseUrl),
)

export function normaliseDatabaseUrl(url: string): string {
  const pg = /^postgres(?:ql)?(?:\+\w+)?:\/\//.exec(url)
  if (pg) return `postgres://${url.slice(pg[0].length)}`
  const lite = /^sqlite(?:\+\w+)?:/.exec(url)
  if (lite) {
    let path = url.slice(lite[0].length)
    // SQLAlchemy style: sqlite:///relative.db and sqlite:////absolute.db
    if (path.startsWith('///')) path = path.slice(3)
    else if (path.startsWith('//')) path = path.slice(2)
    return `sqlite:${path}`
  }
  return url
}

/** A list of `[scheme://]host[:port]` allow-list entries (CALLBACK_ALLOWED_HOSTS and its kind), each parsed. */
export const hostList = (fallback: string[], example: string) =>
  v.pipe(
    list(fallback),
    v.check((entries) => {
      try {
        parseHostRules(entries)
        return true
      } catch {
        return false
      }
    }, `every entry must be [scheme://]host[:port], e.g. ${example}`),
  )
