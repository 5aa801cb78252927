import { Command, Option } from 'commander'
import { AppError } from '../../src/errors.ts'
import {
  findTask,
  listTaskPage,
  retryFailedSince,
  retryTask,
  retryView,
  taskView,
} from '../../src/services/tasks.ts'
import { TASK_STATUSES } from '../../src/store/tasks.ts'
import { configFrom, output, table, withStore } from '../shared.ts'

const age = (from: Date, to = new Date()) => {
  const s = Math.max(0, Math.round((to.getTime() - from.getTime()) / 1000))
  return s < 120
    ? `${s}s`
    : s < 7200
      ? `${Math.round(s / 60)}m`
      : s < 172_800
        ? `${Math.round(s / 3600)}h`
        : `${Math.round(s / 86_400)}d`
}

/** `--since 24h` / `30m` / `7d`, or a date (`2026-11-30`, ISO time). */
export function parseSince(value: string, now = new Date()): Date {
  const rel = /^(\d+)\s*([mhd])$/.exec(value.trim())
  if (rel) {
    const unit = { m: 60_000, h: 3_600_000, d: 86_400_000 }[rel[2] as 'm' | 'h' | 'd']
    return new Date(now.getTime() - Number(rel[1]) * unit)
  }
  const date = new Date(value)
  if (/^\d{4}-\d{2}-\d{2}/.test(value) && !Number.isNaN(date.getTime())) return date
  throw new AppError(
    'BAD_REQUEST',
    `--since must be like 30m, 24h, 7d or a date (2026-11-30), got "${value}"`,
  )
}

export function tasksCommand(): Command {
  const tasks = new Command('tasks').description('inspect and retry AI tasks (the aiprocessingtask queue)')

  tasks
    .command('list')
    .description('newest first')
    .addOption(new Option('--status <status>', 'only tasks in this status').choices([...TASK_STATUSES]))
    .option('--limit <n>', 'how many (1–500)', '20')
    .option('--offset <n>', 'skip this many', '0')
    .option('--json', 'machine-readable output: {tasks, total, limit, offset}')
    .addHelpText(
      'after',
      '\nExamples:\n  kbot tasks list\n  kbot tasks list --status failed --limit 50 --json',
    )
    .action(async (raw: { status?: string; limit: string; offset: string }, cmd: Command) => {
      await withStore(configFrom(cmd), async (store) => {
        const page = await listTaskPage(
          { db: store.db },
          { ...(raw.status ? { status: raw.status } : {}), limit: raw.limit, offset: raw.offset },
        )
        output(cmd, page, () =>
          page.tasks.length === 0
            ? 'no tasks'
            : [
                table(
                  ['id', 'status', 'callback', 'tries', 'tokens', 'age', 'error'],
                  page.tasks.map((t) => [
                    t.task_id,
                    t.status,
                    t.callback_status,
                    `${t.attempts}/${t.max_attempts}`,
                    t.tokens_used,
                    age(new Date(t.created_at)),
                    t.error?.slice(0, 40),
                  ]),
                ),
                `${page.offset + 1}–${page.offset + page.tasks.length} of ${page.total}`,
              ].join('\n'),
        )
      })
    })

  tasks
    .command('show <id>')
    .description('one task in full')
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nExample:\n  kbot tasks show 0193a1b2-…')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      await withStore(configFrom(cmd), async (store) => {
        const view = taskView(await findTask(store.db, id))
        output(cmd, view, () =>
          Object.entries(view)
            .map(
              ([k, val]) =>
                `${k.padEnd(16)} ${val === null ? '-' : typeof val === 'object' ? JSON.stringify(val) : val}`,
            )
            .join('\n'),
        )
      })
    })

  tasks
    .command('retry [id]')
    .description(
      'put a failed task (or, with --failed, every failed task) back to pending with fresh attempts',
    )
    .option('--failed', 'retry every failed task')
    .option('--since <when>', 'with --failed: only tasks created since (30m, 24h, 7d or a date)')
    .option('--json', 'machine-readable output')
    .addHelpText(
      'after',
      '\nThe answer goes through the callback only if it is unused and still valid; otherwise it waits until the\n' +
        'user asks for it ("답변 확인"). Each retry says which.\n\nExamples:\n' +
        '  kbot tasks retry 0193a1b2-…\n  kbot tasks retry --failed --since 2h',
    )
    .action(async (id: string | undefined, opts: { failed?: boolean; since?: string }, cmd: Command) => {
      if (Boolean(id) === Boolean(opts.failed))
        throw new AppError('BAD_REQUEST', 'give a task id, or --failed to retry every failed task')
      if (opts.since && !opts.failed) throw new AppError('BAD_REQUEST', '--since goes with --failed')
      const since = opts.since ? parseSince(opts.since) : undefined
      await withStore(configFrom(cmd), async (store) => {
        if (id) {
          const outcome = await retryTask(store.db, id)
          output(cmd, retryView(outcome), () => `task ${outcome.task.id} is pending again; ${outcome.note}`)
          return
        }
        const { retried, skipped } = await retryFailedSince(store.db, since)
        output(cmd, { retried: retried.map(retryView), skipped }, () =>
          retried.length + skipped.length === 0
            ? 'no failed tasks'
            : [
                `${retried.length} task${retried.length === 1 ? '' : 's'} pending again`,
                ...retried.map((o) => `  ${o.task.id}  ${o.delivery}`),
                ...skipped.map((s) => `  skipped ${s.task_id}: ${s.reason}`),
              ].join('\n'),
        )
      })
    })

  return tasks
}
