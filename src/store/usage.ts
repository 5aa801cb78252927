import type { Db } from './db.ts'

export const USAGE_GROUPS = ['day', 'user', 'prompt', 'model'] as const
export type UsageGroup = (typeof USAGE_GROUPS)[number]

export interface UsageRow {
  /** The group: a UTC day (YYYY-MM-DD), a user id, "name v3" of a prompt, or a model. */
  key: string
  /** For users: their name or Kakao user key; for the others the key again. */
  label: string
  calls: number
  promptTokens: number
  cachedTokens: number
  completionTokens: number
  costUsd: number
}

const num = (value: unknown): number => (value === null || value === undefined ? 0 : Number(value))

/**
 * Model calls, tokens and USD cost from promptlog, summed per group over `[from, to)`. Users are found
 * through the assistant message's conversation (promptlog outlives the task row, which retention deletes).
 */
export async function usageTotals(
  db: Db,
  by: UsageGroup,
  range: { from: Date; to: Date },
): Promise<UsageRow[]> {
  // The one dialect gap: a UTC day from a timestamptz vs. from SQLite's ISO text.
  const day =
    db.dialect === 'postgres'
      ? `to_char(p.created_at at time zone 'UTC', 'YYYY-MM-DD')`
      : 'substr(p.created_at, 1, 10)'
  const groups: Record<UsageGroup, { key: string; label: string; join: string }> = {
    day: { key: day, label: day, join: '' },
    user: {
      key: 'u.id',
      label: `coalesce(max(u.name), max(u.kakao_user_id), '(deleted)')`,
      join: `left join message m on m.id = p.msg_id
             left join conversation c on c.id = m.conv_id
             left join appuser u on u.id = c.user_id`,
    },
    prompt: {
      key: `coalesce(p.prompt_name || ' v' || p.prompt_version, '(no prompt)')`,
      label: `coalesce(p.prompt_name || ' v' || p.prompt_version, '(no prompt)')`,
      join: '',
    },
    model: { key: 'p.model', label: 'p.model', join: '' },
  }
  const g = groups[by]
  const rows = await db.query<Record<string, unknown>>(
    `select ${g.key} as key, ${by === 'user' ? g.label : g.key} as label, count(*) as calls,
            sum(p.prompt_tokens) as prompt_tokens, sum(p.cached_tokens) as cached_tokens,
            sum(p.completion_tokens) as completion_tokens, sum(p.cost_usd) as cost_usd
       from promptlog p ${g.join}
      where p.created_at >= $1 and p.created_at < $2
      group by ${g.key}
      order by ${by === 'day' ? 'key' : 'cost_usd desc, key'}`,
    [range.from, range.to],
  )
  return rows.map((r) => ({
    key: r.key === null ? '(deleted)' : String(r.key),
    label: r.label === null ? '(deleted)' : String(r.label),
    calls: num(r.calls),
    promptTokens: num(r.prompt_tokens),
    cachedTokens: num(r.cached_tokens),
    completionTokens: num(r.completion_tokens),
    costUsd: num(r.cost_usd),
  }))
}
