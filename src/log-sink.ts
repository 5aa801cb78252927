import type { Db } from './store/db.ts'
import { insertLogMessages, type LogMessageRow } from './store/logmessages.ts'

/**
 * Keeps warn/error log lines in the `logmessage` table, so that an operator can see what went wrong without
 * shell access. Lines are batched and written in the background; if the database cannot take them (it may be
 * the very thing that is down), they are dropped after a note on stderr — never retried into a loop, never
 * blocking a request. Lines arrive already redacted by pino.
 */
export interface LogSink {
  /** pino's stream interface: one JSON line per call. */
  write(line: string): void
  attach(db: Db): void
  flush(): Promise<void>
  /** Flushes what is buffered and stops writing. */
  detach(): Promise<void>
}

const LEVELS: Record<number, string> = { 40: 'warn', 50: 'error', 60: 'fatal' }
const OMIT = new Set(['level', 'time', 'pid', 'hostname', 'msg'])

type Row = LogMessageRow

function toRow(line: string): Row | null {
  let record: Record<string, unknown>
  try {
    record = JSON.parse(line)
  } catch {
    return null
  }
  const level = LEVELS[Number(record.level)]
  if (!level) return null
  const context = Object.fromEntries(Object.entries(record).filter(([k]) => !OMIT.has(k)))
  const source = [record.plugin, record.component, record.job].find((s) => typeof s === 'string') as
    | string
    | undefined
  return {
    level,
    source: source ?? (record.taskId ? 'worker' : 'kbot'),
    message: String(record.msg ?? ''),
    context,
    createdAt: new Date(Number(record.time) || Date.now()),
  }
}

export function createLogSink(
  options: { maxBuffered?: number; intervalMs?: number; batch?: number } = {},
): LogSink {
  const maxBuffered = options.maxBuffered ?? 1000
  const batch = options.batch ?? 100
  let buffer: Row[] = []
  let db: Db | null = null
  let timer: ReturnType<typeof setInterval> | null = null
  let flushing: Promise<void> | null = null
  let lastFailure = 0

  const writeBatch = (rows: Row[]) => insertLogMessages(db!, rows)

  const flush = (): Promise<void> => {
    flushing ??= (async () => {
      while (db && buffer.length > 0) {
        const rows = buffer.splice(0, batch)
        try {
          await writeBatch(rows)
        } catch (err) {
          if (Date.now() - lastFailure > 60_000) {
            process.stderr.write(
              `kbot: ${rows.length} log lines could not be stored in logmessage: ${(err as Error).message}\n`,
            )
          }
          lastFailure = Date.now()
          return
        }
      }
    })().finally(() => {
      flushing = null
    })
    return flushing
  }

  return {
    write(line) {
      const row = toRow(line)
      if (!row) return
      buffer.push(row)
      if (buffer.length > maxBuffered) buffer = buffer.slice(-maxBuffered)
    },
    attach(target) {
      db = target
      timer ??= setInterval(() => void flush(), options.intervalMs ?? 1000)
      timer.unref?.()
    },
    flush,
    async detach() {
      if (timer) clearInterval(timer)
      timer = null
      await flush()
      db = null
    },
  }
}
