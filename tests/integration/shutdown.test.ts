import { describe, expect, test } from 'bun:test'
import type { Dialect } from '../../src/store/db.ts'
import { useCleanup } from '../helpers/cleanup.ts'
import { createTestDb, type TestDb, testDialects } from '../helpers/db.ts'
import { useFakes } from '../helpers/fakes.ts'
import { kakaoPayload } from '../helpers/kakao.ts'
import { postJson, startServe } from '../helpers/proc.ts'
import { waitFor } from '../helpers/wait.ts'

type Row = Record<string, any>

/** SIGTERM: stop taking requests and claiming, let running tasks finish for the grace period, return the rest. */
for (const dialect of await testDialects()) {
  describe(`graceful shutdown (${dialect})`, () => {
    useCleanup()
    const fakes = useFakes()

    async function serve(db: TestDb, graceMs: number) {
      const p = await startServe({
        label: `shutdown-${dialect}`,
        toml: `[kakao]\ncallback_settle_ms = 20\n[worker]\nshutdown_grace_ms = ${graceMs}\nlease_ms = 2000\npoll_ms = 200`,
        env: { DATABASE_URL: db.url, ...fakes.env },
      })
      return p
    }

    test('a task running at SIGTERM finishes within the grace period and its callback is sent', async () => {
      const db = await createTestDb(dialect as Dialect, `shutdown-a-${dialect}`)
      fakes.model.setDefault({ delayMs: 800, content: '종료 전에 끝난 답변' })
      const p = await serve(db, 5000)
      const url = fakes.kakao.callbackUrl()
      await postJson(`${p.url}/skill`, kakaoPayload({ utterance: '질문', userId: 'grace', callbackUrl: url }))
      await waitFor(() => fakes.model.inFlight() === 1)
      p.kill('SIGTERM')
      expect(await p.exited).toBe(0)
      const [task] = await db.store.db.query<Row>("select * from aiprocessingtask where kind <> 'job'")
      expect(task).toMatchObject({
        status: 'completed',
        callback_status: 'sent',
        ai_response: '종료 전에 끝난 답변',
      })
      expect(fakes.kakao.arrivalsFor(url).length).toBe(1)
      // The port is closed: no new requests are taken.
      const after = await postJson(`${p.url}/skill`, kakaoPayload({ utterance: '또', userId: 'grace' }))
      expect(after.status).toBe(0)
      expect(p.logs.some((l) => l.msg === 'stopped')).toBe(true)
    }, 30_000)

    test('a task still running after the grace period goes back to pending and is finished by the next start', async () => {
      const db = await createTestDb(dialect as Dialect, `shutdown-b-${dialect}`)
      fakes.model.setDefault({ delayMs: 3000, content: '다음 실행에서 끝난 답변' })
      const first = await serve(db, 300)
      const url = fakes.kakao.callbackUrl()
      await postJson(
        `${first.url}/skill`,
        kakaoPayload({ utterance: '질문', userId: 'release', callbackUrl: url }),
      )
      await waitFor(() => fakes.model.inFlight() === 1)
      first.kill('SIGTERM')
      expect(await first.exited).toBe(0)
      const [released] = await db.store.db.query<Row>("select * from aiprocessingtask where kind <> 'job'")
      expect(released).toMatchObject({
        status: 'pending',
        attempts: 0,
        lease_owner: null,
        callback_status: 'pending',
      })
      expect(first.logs.some((l) => String(l.msg).includes('returned to pending'))).toBe(true)
      fakes.model.setDefault({ delayMs: 100, content: '다음 실행에서 끝난 답변' })
      await serve(db, 1000)
      await waitFor(() => fakes.kakao.arrivalsFor(url).length === 1, { timeoutMs: 15_000 })
      const [done] = await db.store.db.query<Row>("select * from aiprocessingtask where kind <> 'job'")
      expect(done).toMatchObject({ status: 'completed', attempts: 1, callback_status: 'sent' })
      expect((fakes.kakao.arrivalsFor(url)[0]!.body as any).template.outputs[0].simpleText.text).toBe(
        '다음 실행에서 끝난 답변',
      )
    }, 30_000)
  })
}
