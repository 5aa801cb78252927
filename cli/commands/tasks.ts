import { Command, Option } from 'commander'
import * as v from 'valibot'
import { AppError } from '../../src/errors.ts'
import { findTask, retryTask } from '../../src/services/tasks.ts'
import { listTasks } from '../../src/store/task-admin.ts'
import { TASK_STATUSES, type Task } from '../../src/store/tasks.ts'
import { configFrom, output, table, withStore } from '../shared.ts'

const ListOptions = v.object({
  status: v.optional(v.picklist(TASK_STATUSES, `--status must be one of ${TASK_STATUSES.join(', ')}`)),
  limit: v.pipe(
    v.string(),
    v.regex(/^\d+$/, '--limit must be a whole number'),
    v.transform(Number),
    v.minValue(1),
    v.maxValue(1000),
  ),
  offset: v.pipe(v.string(), v.regex(/^\d+$/, '--offset must be a whole number'), v.transform(Number)),
})

function parse<T>(schema: v.GenericSchema<unknown, T>, input: unknown): T {
  const result = v.safeParse(schema, input)
  if (!result.success) throw new AppError('BAD_REQUEST', result.issues.map((i) => i.message).join('; '))
  return result.output
}

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

const view = (t: Task) => ({
  id: t.id,
  status: t.status,
  callback_status: t.callbackStatus,
  attempts: t.attempts,
  max_attempts: t.maxAttempts,
  tokens_used: t.tokensUsed,
  error: t.error,
  user_id: t.userId,
  conversation_id: t.convId,
  request_id: t.requestId,
  model: t.input.model,
  prompt: t.input.prompt,
  ai_response: t.aiResponse,
  created_at: t.createdAt.toISOString(),
  started_at: t.startedAt?.toISOString() ?? null,
  completed_at: t.completedAt?.toISOString() ?? null,
  delivered_at: t.deliveredAt?.toISOString() ?? null,
  deadline_at: t.deadlineAt.toISOString(),
})

export function tasksCommand(): Command {
  const tasks = new Command('tasks').description('inspect and retry AI tasks (the aiprocessingtask queue)')

  tasks
    .command('list')
    .description('newest first')
    .addOption(new Option('--status <status>', 'only tasks in this status').choices([...TASK_STATUSES]))
    .option('--limit <n>', 'how many', '20')
    .option('--offset <n>', 'skip this many', '0')
    .option('--json', 'machine-readable output')
    .action(async (raw: unknown, cmd: Command) => {
      const opts = parse(ListOptions, raw)
      await withStore(configFrom(cmd), async (store) => {
        const rows = await listTasks(store.db, opts)
        output(cmd, rows.map(view), () =>
          rows.length === 0
            ? 'no tasks'
            : table(
                ['id', 'status', 'callback', 'tries', 'tokens', 'age', 'error'],
                rows.map((t) => [
                  t.id,
                  t.status,
                  t.callbackStatus,
                  `${t.attempts}/${t.maxAttempts}`,
                  t.tokensUsed,
                  age(t.createdAt),
                  t.error?.slice(0, 40),
                ]),
              ),
        )
      })
    })

  tasks
    .command('show <id>')
    .description('one task in full')
    .option('--json', 'machine-readable output')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      await withStore(configFrom(cmd), async (store) => {
        const task = await findTask(store.db, id)
        output(cmd, view(task), () =>
          Object.entries(view(task))
            .map(
              ([k, val]) =>
                `${k.padEnd(16)} ${val === null ? '-' : typeof val === 'object' ? JSON.stringify(val) : val}`,
            )
            .join('\n'),
        )
      })
    })

  tasks
    .command('retry <id>')
    .description('put a failed task back to pending with fresh attempts')
    .option('--json', 'machine-readable output')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      await withStore(configFrom(cmd), async (store) => {
        const outcome = await retryTask(store.db, id)
        output(
          cmd,
          { task: view(outcome.task), delivery: outcome.delivery, note: outcome.note },
          () => `task ${outcome.task.id} is pending again; ${outcome.note}`,
        )
      })
    })

  return tasks
}
