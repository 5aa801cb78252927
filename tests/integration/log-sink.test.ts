import { describe, expect, test } from 'bun:test'
import { createLogSink } from '../../src/log-sink.ts'
import { createLogger } from '../../src/logger.ts'
import type { Dialect } from '../../src/store/db.ts'
import { testDialects, useTestDb } from '../helpers/db.ts'

type Row = Record<string, any>

/** Warn and error lines land in logmessage (redacted, batched); info and below do not. */
for (const dialect of await testDialects()) {
  describe(`logmessage sink (${dialect})`, () => {
    const db = useTestDb(dialect as Dialect, `logsink-${dialect}`)

    test('warn/error are stored with source and context; secrets redacted; info is not stored', async () => {
      const sink = createLogSink({ intervalMs: 60_000 })
      const lines: string[] = []
      const log = createLogger({
        level: 'info',
        sink,
        destination: { write: (l: string) => void lines.push(l) },
      })
      sink.attach(db.store.db)
      log.info('lifecycle only')
      log
        .child({ plugin: 'late-answer' })
        .warn({ taskId: 't1', callbackUrl: 'https://bot-api.kakao.com/cb/secret' }, 'degraded')
      log.error({ err: new Error('boom') }, 'task failed')
      await sink.detach()
      const rows = await db.store.db.query<Row>(
        'select level, source, message, context from logmessage order by created_at, level desc',
      )
      expect(rows.map((r) => [r.level, r.source, r.message])).toEqual([
        ['warn', 'late-answer', 'degraded'],
        ['error', 'kbot', 'task failed'],
      ])
      const context = typeof rows[0]!.context === 'string' ? JSON.parse(rows[0]!.context) : rows[0]!.context
      expect(context).toMatchObject({ plugin: 'late-answer', taskId: 't1', callbackUrl: '[redacted]' })
      expect(JSON.stringify(rows)).not.toContain('secret')
      expect(lines.length).toBe(3)
    })

    test('lines written before the database is there are bounded: only the newest maxBuffered are kept', async () => {
      const sink = createLogSink({ intervalMs: 60_000, maxBuffered: 5 })
      const log = createLogger({ level: 'info', sink, destination: { write: () => {} } })
      for (let i = 0; i < 20; i++) log.warn({ i }, 'buffered before the database is there')
      sink.attach(db.store.db)
      await sink.detach()
      const rows = await db.store.db.query<Row>(
        `select context from logmessage where message = 'buffered before the database is there'`,
      )
      const kept = rows
        .map((r) => (typeof r.context === 'string' ? JSON.parse(r.context) : r.context).i as number)
        .sort((a, b) => a - b)
      expect(kept).toEqual([15, 16, 17, 18, 19])
    })

    test('a database that cannot take the lines does not block or loop; lines after recovery are stored', async () => {
      const sink = createLogSink({ intervalMs: 60_000, maxBuffered: 5 })
      const log = createLogger({ level: 'info', sink, destination: { write: () => {} } })
      for (let i = 0; i < 20; i++) log.warn({ i }, 'lost while the database is down')
      let calls = 0
      const broken = {
        dialect: 'sqlite',
        query: async () => {
          calls++
          throw new Error('down')
        },
      } as never
      sink.attach(broken)
      await sink.flush()
      await sink.detach()
      // One failed batch, then the lines are dropped: no retry loop against a database that is down.
      expect(calls).toBe(1)
      sink.attach(db.store.db)
      log.warn('after recovery')
      await sink.detach()
      const rows = await db.store.db.query<Row>(
        `select message from logmessage where message in ('after recovery', 'lost while the database is down')`,
      )
      expect(rows.map((r) => r.message)).toEqual(['after recovery'])
    })
  })
}
