import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { join } from 'node:path'
import { createAiClient } from '../../src/ai/client.ts'
import { createLogger } from '../../src/logger.ts'
import { summarizeConversation } from '../../src/memory/summarize.ts'
import type { Dialect } from '../../src/store/db.ts'
import { testDialects } from '../helpers/db.ts'
import { type FakeOpenAI, startFakeOpenAI } from '../helpers/fake-openai.ts'
import { kakaoPayload } from '../helpers/kakao.ts'
import { startTestKbot, type TestKbot } from '../helpers/kbot.ts'

type Row = Record<string, any>
const ROOT = join(import.meta.dir, '..', '..')
const BOT = '5cda0a3cffa74200015ba7b5'

/** Every table that holds rows of a user, with how to find them. */
async function rowsOf(k: TestKbot, ids: { userId: string; convIds: string[]; msgIds: string[] }) {
  const q = (sql: string, p: unknown[]) => k.db.store.db.query<Row>(sql, p)
  const inList = (col: string, list: string[]) =>
    list.length === 0 ? 'false' : `${col} in (${list.map((_, i) => `$${i + 1}`).join(', ')})`
  const count = async (sql: string, p: unknown[]) => Number((await q(sql, p))[0]!.n)
  return {
    appuser: await count('select count(*) as n from appuser where id = $1', [ids.userId]),
    conversation: await count('select count(*) as n from conversation where user_id = $1', [ids.userId]),
    message: await count(
      `select count(*) as n from message where ${inList('conv_id', ids.convIds)}`,
      ids.convIds,
    ),
    promptlog: await count(
      `select count(*) as n from promptlog where user_id = $${ids.msgIds.length + 1} or ${inList('msg_id', ids.msgIds)}`,
      [...ids.msgIds, ids.userId],
    ),
    usersummary: await count('select count(*) as n from usersummary where user_id = $1', [ids.userId]),
    aiprocessingtask: await count('select count(*) as n from aiprocessingtask where user_id = $1', [
      ids.userId,
    ]),
    eventlog: await count('select count(*) as n from eventlog where user_id = $1', [ids.userId]),
  }
}

for (const dialect of await testDialects()) {
  describe(`forget me (${dialect})`, () => {
    let model: FakeOpenAI
    let k: TestKbot
    const log = createLogger({ level: 'silent' })

    beforeAll(async () => {
      model = startFakeOpenAI({ content: '네, 알겠어요.' })
      k = await startTestKbot({
        dialect: dialect as Dialect,
        label: `forget-${dialect}`,
        env: { OPENAI_BASE_URL: model.url },
      })
    })
    afterAll(async () => {
      await k.stop()
      model.close()
    })

    const say = (userId: string, utterance: string) =>
      k.post('/skill', kakaoPayload({ utterance, userId, botId: BOT }))
    const textOf = (res: { json: any }) =>
      res.json.template.outputs.map((o: any) => o.simpleText.text).join('\n')

    /** A user with a name, answered turns (messages, tasks, prompt logs), events and a summary. */
    async function history(key: string) {
      expect(textOf(await say(key, '내 이름은 민수야'))).toContain('민수')
      expect(textOf(await say(key, '요즘 잠을 못 자요'))).toBe('네, 알겠어요.')
      expect(textOf(await say(key, '어떻게 하면 좋을까요'))).toBe('네, 알겠어요.')
      const db = k.db.store.db
      const [user] = await db.query<Row>('select * from appuser where kakao_user_id = $1', [key])
      const convs = await db.query<Row>('select id from conversation where user_id = $1', [user!.id])
      await summarizeConversation(
        { db, ai: createAiClient(k.config, log), config: k.config, log },
        { userId: user!.id, convId: convs[0]!.id },
      )
      const msgs = await db.query<Row>(
        'select m.id from message m join conversation c on c.id = m.conv_id where c.user_id = $1',
        [user!.id],
      )
      const ids = {
        userId: String(user!.id),
        convIds: convs.map((c) => String(c.id)),
        msgIds: msgs.map((m) => String(m.id)),
      }
      const rows = await rowsOf(k, ids)
      for (const n of Object.values(rows)) expect(n).toBeGreaterThan(0)
      return { ids, rows }
    }

    function kbot(...args: string[]) {
      const r = Bun.spawnSync(['bun', 'cli/index.ts', ...args], {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', DATABASE_URL: k.db.url },
        stdin: 'ignore',
      })
      return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() }
    }

    test('through /skill: asked to confirm with quick replies, then every row of that user is gone', async () => {
      const me = await history(`forget-me-${dialect}`)
      const other = await history(`forget-other-${dialect}`)

      const ask = await say(`forget-me-${dialect}`, '대화 기록 삭제')
      expect(textOf(ask)).toBe(k.config.messages.forget_confirm.replace('{{confirm}}', '삭제할게요'))
      expect(ask.json.template.quickReplies).toEqual([
        { label: '삭제할게요', action: 'message', messageText: '삭제할게요' },
        { label: '취소', action: 'message', messageText: '취소' },
      ])
      // The question is in the database, so the answer may reach any instance.
      const [pending] = await k.db.store.db.query<Row>('select forget_until from appuser where id = $1', [
        me.ids.userId,
      ])
      expect(pending!.forget_until).not.toBeNull()
      expect(await rowsOf(k, me.ids)).toMatchObject({ message: me.rows.message })

      const before = model.requests.length
      const done = await say(`forget-me-${dialect}`, '삭제할게요')
      expect(textOf(done)).toBe(k.config.messages.forget_done)
      expect(model.requests.length).toBe(before)
      expect(await rowsOf(k, me.ids)).toEqual({
        appuser: 0,
        conversation: 0,
        message: 0,
        promptlog: 0,
        usersummary: 0,
        aiprocessingtask: 0,
        eventlog: 0,
      })
      // Neither the key nor the name survives anywhere; the erasure itself is recorded without them.
      const leftovers = await k.db.store.db.query<Row>(
        `select count(*) as n from appuser where kakao_user_id = $1`,
        [`forget-me-${dialect}`],
      )
      expect(Number(leftovers[0]!.n)).toBe(0)
      const [forgotten] = await k.db.store.db.query<Row>(
        `select * from eventlog where type = 'user_forgotten'`,
      )
      expect(forgotten!.user_id).toBeNull()
      const detail = JSON.stringify(forgotten!.detail)
      expect(detail).not.toContain(`forget-me-${dialect}`)
      expect(detail).not.toContain(me.ids.userId)
      expect(JSON.parse(typeof forgotten!.detail === 'string' ? forgotten!.detail : detail)).toMatchObject({
        by: 'user',
        erased: { message: me.rows.message, usersummary: 1 },
      })
      // The other user is untouched.
      expect(await rowsOf(k, other.ids)).toEqual(other.rows)
    })

    test('through /skill: 취소 keeps everything; another message drops the question and is answered', async () => {
      const key = `forget-cancel-${dialect}`
      const me = await history(key)
      await say(key, '내 기록 지워줘')
      expect(textOf(await say(key, '취소'))).toBe(k.config.messages.forget_cancelled)
      await say(key, '대화 내용 다 지워 주세요')
      expect(textOf(await say(key, '오늘 날씨 어때?'))).toBe('네, 알겠어요.')
      // The question is closed: a late "삭제할게요" is an ordinary message, answered by the model.
      expect(textOf(await say(key, '삭제할게요'))).toBe('네, 알겠어요.')
      const rows = await rowsOf(k, me.ids)
      expect(rows.appuser).toBe(1)
      expect(rows.message).toBe(me.rows.message + 4)
      const types = await k.db.store.db.query<Row>(
        `select type from eventlog where user_id = $1 and type like 'forget%' order by created_at, id`,
        [me.ids.userId],
      )
      expect(types.map((t) => t.type)).toEqual(['forget_requested', 'forget_cancelled', 'forget_requested'])
    })

    test('kbot users show / forget as a real process: refuses without --yes, then erases only that user', async () => {
      const key = `forget-cli-${dialect}`
      const me = await history(key)
      const other = await history(`forget-cli-other-${dialect}`)

      const show = kbot('users', 'show', key, '--json')
      expect(show.code).toBe(0)
      const [view] = JSON.parse(show.out)
      expect(view).toMatchObject({
        id: me.ids.userId,
        kakao_user_id: key,
        name: '민수',
        summary: '네, 알겠어요.',
      })
      expect(view.rows).toEqual({
        conversation: me.rows.conversation,
        message: me.rows.message,
        promptlog: me.rows.promptlog,
        usersummary: 1,
        aiprocessingtask: me.rows.aiprocessingtask,
        eventlog: me.rows.eventlog,
      })
      expect(kbot('users', 'show', key).out).toMatch(/rows in message\s+\d+/)

      const refused = kbot('users', 'forget', key)
      expect(refused.code).toBe(1)
      expect(refused.err.trim()).toBe(
        'kbot: BAD_REQUEST: nothing erased: confirm on a terminal or pass --yes',
      )
      expect(await rowsOf(k, me.ids)).toEqual(me.rows)

      const forgot = kbot('users', 'forget', key, '--yes', '--json')
      expect(forgot.code).toBe(0)
      expect(JSON.parse(forgot.out)).toEqual({
        users: [{ id: me.ids.userId, erased: { ...view.rows } }],
      })
      expect(Object.values(await rowsOf(k, me.ids)).every((n) => n === 0)).toBe(true)
      expect(await rowsOf(k, other.ids)).toEqual(other.rows)

      const gone = kbot('users', 'show', key)
      expect(gone.code).toBe(1)
      expect(gone.err.trim()).toBe(`kbot: NOT_FOUND: no user with key ${key}`)
      expect(kbot('users', 'forget', '', '--yes').code).toBe(1)
    })
  })
}
