import type { Db } from './db.ts'
import { toDateOrNull } from './rows.ts'
import { type CallbackStatus, type Task, type TaskStatus, toTask } from './tasks.ts'

// Read-only queries for operators (admin API, CLI, health), apart from the queue's own statements in tasks.ts.

type Row = Record<string, unknown>

export interface TaskFilter {
  status?: TaskStatus
  /** Only tasks created at or after this time. */
  since?: Date
}

function whereOf(filter: TaskFilter, params: unknown[]): string {
  const clauses: string[] = []
  if (filter.status) clauses.push(`status = $${params.push(filter.status)}`)
  if (filter.since) clauses.push(`created_at >= $${params.push(filter.since)}`)
  return clauses.length > 0 ? `where ${clauses.join(' and ')}` : ''
}

/** Newest first, with paging. */
export async function findTasks(
  db: Db,
  filter: TaskFilter & { limit: number; offset: number },
): Promise<Task[]> {
  const params: unknown[] = [filter.limit, filter.offset]
  const rows = await db.query<Row>(
    `select * from aiprocessingtask ${whereOf(filter, params)}
      order by created_at desc, id desc limit $1 offset $2`,
    params,
  )
  return rows.map(toTask)
}

export async function countTasks(db: Db, filter: TaskFilter): Promise<number> {
  const params: unknown[] = []
  const [row] = await db.query<Row>(
    `select count(*) as n from aiprocessingtask ${whereOf(filter, params)}`,
    params,
  )
  return Number(row?.n ?? 0)
}

/** How many tasks are in each status (every status present, 0 when none). */
export async function countByStatus(db: Db): Promise<Record<TaskStatus, number>> {
  const rows = await db.query<Row>('select status, count(*) as n from aiprocessingtask group by status')
  const counts: Record<TaskStatus, number> = { pending: 0, processing: 0, completed: 0, failed: 0 }
  for (const r of rows) counts[r.status as TaskStatus] = Number(r.n)
  return counts
}

/**
 * The oldest pending task's creation time. Read through the small pending partial index: a plain
 * `min(created_at) where status = 'pending'` walks the created_at index from the oldest (completed) tasks
 * up (320 ms on 194,000 tasks with 100 pending, against 1 ms this way).
 */
export async function oldestPendingCreatedAt(db: Db): Promise<Date | null> {
  const [row] = await db.query<Row>(
    `with p as materialized (select created_at from aiprocessingtask where status = 'pending')
     select min(created_at) as at from p`,
  )
  return toDateOrNull(row?.at ?? null)
}

/** Delivery outcomes of the tasks created since `since`, by callback status. */
export async function callbackOutcomesSince(
  db: Db,
  since: Date,
): Promise<Partial<Record<CallbackStatus, number>>> {
  const rows = await db.query<Row>(
    `select callback_status, count(*) as n from aiprocessingtask where created_at >= $1 group by callback_status`,
    [since],
  )
  return Object.fromEntries(rows.map((r) => [String(r.callback_status), Number(r.n)]))
}

/** The newest error a model attempt left on a task (any instance): what an operator looks at first. */
export async function lastTaskError(db: Db): Promise<{ error: string; at: Date; taskId: string } | null> {
  const [row] = await db.query<Row>(
    `select id, error, updated_at from aiprocessingtask where error is not null order by updated_at desc limit 1`,
  )
  return row ? { error: String(row.error), at: toDateOrNull(row.updated_at)!, taskId: String(row.id) } : null
}
