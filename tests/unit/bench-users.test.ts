import { afterAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runWrk, wrkAvailable } from '../../bench/floor/wrk.ts'
import { createTurnSender } from '../../bench/load.ts'
import { startFakeKakao } from '../helpers/fake-kakao.ts'
import { kakaoPayload } from '../helpers/kakao.ts'

/** A /skill stand-in that records who asked and answers the useCallback ack. */
function startRecorder() {
  const users: string[] = []
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(req) {
      const body = (await req.json()) as { userRequest: { user: { id: string } } }
      users.push(body.userRequest.user.id)
      return Response.json({ version: '2.0', useCallback: true })
    },
  })
  return { users, url: `http://127.0.0.1:${server.port}`, stop: () => server.stop(true) }
}

// The floor phase compares servers only if each is measured on its own returning users: a shared pool made every
// measured request a first contact, or a user another kbot had just written.
describe('bench users', () => {
  const kakao = startFakeKakao()
  const recorder = startRecorder()
  const dir = mkdtempSync(join(tmpdir(), 'bench-users-'))
  afterAll(() => {
    kakao.close()
    recorder.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  test('the turn sender rotates its named pool and sends a new user every n-th request', async () => {
    recorder.users.length = 0
    const sender = createTurnSender(kakao, 3, { prefix: 'side-a', newEvery: 4 })
    for (let i = 0; i < 8; i++) expect(await sender.send(recorder.url, `t${i}`)).toBe(true)
    expect(recorder.users).toEqual([
      'side-a-0',
      'side-a-1',
      'side-a-2',
      'side-a-new-t3',
      'side-a-0',
      'side-a-1',
      'side-a-2',
      'side-a-new-t7',
    ])
  })

  test('without options: the shared bench-user pool, no new users', async () => {
    recorder.users.length = 0
    const sender = createTurnSender(kakao, 2)
    for (let i = 0; i < 3; i++) await sender.send(recorder.url, `u${i}`)
    expect(recorder.users).toEqual(['bench-user-0', 'bench-user-1', 'bench-user-0'])
  })

  test.skipIf(!wrkAvailable())('wrk names its users with the side’s prefix, returning and new', async () => {
    recorder.users.length = 0
    const bodyFile = join(dir, 'body.json')
    writeFileSync(
      bodyFile,
      JSON.stringify(kakaoPayload({ utterance: '질문', userId: '@@USER@@', callbackUrl: '@@CALLBACK@@' })),
    )
    const run = await runWrk({
      url: recorder.url,
      connections: 2,
      durationS: 1,
      bodyFile,
      sink: '127.0.0.1:9',
      tag: 'x',
      users: 5,
      userPrefix: 'wrk-kbot-',
    })
    expect(run.acks).toBeGreaterThan(40)
    expect(recorder.users.length).toBeGreaterThanOrEqual(run.acks)
    const returning = recorder.users.filter((u) => /^wrk-kbot-user-\d$/.test(u))
    const fresh = recorder.users.filter((u) => u.startsWith('wrk-kbot-new-'))
    expect(returning.length + fresh.length).toBe(recorder.users.length)
    expect(new Set(returning).size).toBe(5)
    // Every 20th request of each connection's thread: about one in twenty.
    expect(fresh.length).toBeGreaterThanOrEqual(Math.floor(recorder.users.length / 20) - 2)
  })
})
