import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import plugin from '../../plugins/name-command/index.ts'
import { loadConfig } from '../../src/config.ts'
import type { SkillPayload } from '../../src/kakao/payload.ts'
import type { SkillResponse } from '../../src/kakao/response.ts'
import { createLogger } from '../../src/logger.ts'
import type { Handler, PluginDeps, Turn } from '../../src/pipeline/types.ts'
import { currentConversation } from '../../src/store/conversations.ts'
import { type Db, type Dialect, openStore } from '../../src/store/db.ts'
import { type AppUser, getUser, upsertUser } from '../../src/store/users.ts'
import { DEFAULT_MESSAGES } from '../../src/texts.ts'
import { createTestDb, type TestDb, testDialects } from '../helpers/db.ts'
import { type FakeOpenAI, startFakeOpenAI } from '../helpers/fake-openai.ts'
import { kakaoPayload } from '../helpers/kakao.ts'
import { startTestKbot, type TestKbot } from '../helpers/kbot.ts'
import { waitFor } from '../helpers/wait.ts'

const log = createLogger({ level: 'silent' })
const config = loadConfig({ env: {}, cwd: import.meta.dir })
const unused = () => {
  throw new Error('name-command must not use this')
}

/** The plugin on its own, with a clock the test moves. */
function handlerFor(db: Db, clock: { now: Date }, awaitMinutes = 5): Handler {
  const deps: PluginDeps = {
    config,
    db,
    log,
    messages: { ...DEFAULT_MESSAGES },
    prompts: { active: unused, invalidate: unused },
    queue: { wake: unused, waitFor: unused },
    now: () => clock.now,
  }
  return plugin.setup(deps, { await_minutes: awaitMinutes }) as Handler
}

const textOf = (reply: SkillResponse | null) =>
  (reply?.template?.outputs[0] as { simpleText?: { text: string } } | undefined)?.simpleText?.text ?? null

type Row = Record<string, unknown>
const detailOf = (row: Row) => (typeof row.detail === 'string' ? JSON.parse(row.detail) : row.detail)

for (const dialect of await testDialects()) {
  describe(`name-command plugin (${dialect})`, () => {
    let t: TestDb
    const clock = { now: new Date('2026-03-01T09:00:00Z') }
    beforeAll(async () => {
      t = await createTestDb(dialect as Dialect, `names-${dialect}`)
    })
    afterAll(() => t.drop())

    let n = 0
    const newUser = async () =>
      (await upsertUser(t.store.db, { botId: 'bot', kakaoUserId: `u${++n}` }, clock.now)).user

    /** Runs one message through the handler; returns the turn and whether the next plugin was called. */
    async function say(
      user: AppUser,
      utterance: string,
      handler = handlerFor(t.store.db, clock),
      db = t.store.db,
    ) {
      const { conversation } = await currentConversation(db, user.id, 30, clock.now)
      const payload = { userRequest: { utterance, user: { id: user.kakaoUserId } } } as SkillPayload
      const turn: Turn = {
        id: `turn-${n}`,
        requestId: null,
        receivedAt: clock.now,
        respondBy: new Date(clock.now.getTime() + 4500),
        answered: new AbortController().signal,
        payload,
        utterance,
        callbackUrl: null,
        clientExtra: {},
        user: (await getUser(db, user.id))!,
        conversation,
        prompt: null,
        history: [],
        vars: {},
        reply: null,
        log,
      }
      let nextCalled = false
      await handler(turn, async () => {
        nextCalled = true
      })
      return { turn, nextCalled, text: textOf(turn.reply), stored: (await getUser(db, user.id))! }
    }

    const events = (user: AppUser, type: string) =>
      t.store.db.query<Row>('select * from eventlog where user_id = $1 and type = $2 order by created_at', [
        user.id,
        type,
      ])

    test('an introduction alone is answered here, saved, and logged with old and new name', async () => {
      const user = await newUser()
      const r = await say(user, '내 이름은 민수야')
      expect(r.nextCalled).toBe(false)
      expect(r.text).toBe('반가워요! 앞으로 민수라고 불러 드릴게요.')
      expect(r.stored.name).toBe('민수')
      expect(r.turn.user.name).toBe('민수') // later plugins see the name
      const [row] = await events(user, 'name_changed')
      expect(detailOf(row!)).toEqual({ old: null, new: '민수', pattern: 'my-name-is' })
    })

    test('an introduction with a question saves the name and goes on to the model', async () => {
      const user = await newUser()
      const r = await say(user, '내 이름은 민수야, 오늘 날씨 어때?')
      expect(r.nextCalled).toBe(true)
      expect(r.turn.reply).toBeNull()
      expect(r.stored.name).toBe('민수')
      expect(r.turn.user.name).toBe('민수')
    })

    test('an explicit statement changes a stored name; an implicit one does not', async () => {
      const user = await newUser()
      await say(user, '난 영희야')
      const implicit = await say(user, '난 민지야')
      expect(implicit.nextCalled).toBe(true)
      expect(implicit.stored.name).toBe('영희')
      const r = await say(user, '길동이라고 불러줘')
      expect(r.text).toBe('알겠어요! 이제부터 영희가 아니라 길동이라고 불러 드릴게요.')
      expect(r.stored.name).toBe('길동')
      const rows = await events(user, 'name_changed')
      expect(rows.map(detailOf)).toEqual([
        { old: null, new: '영희', pattern: 'i-am' },
        { old: '영희', new: '길동', pattern: 'call-me' },
      ])
    })

    test('a self-description is not a name and goes on', async () => {
      const user = await newUser()
      for (const text of ['난 학생이야', '나는 배고파', '저는 괜찮아요', '난 스무살이야']) {
        const r = await say(user, text)
        expect({ text, nextCalled: r.nextCalled, name: r.stored.name }).toEqual({
          text,
          nextCalled: true,
          name: null,
        })
      }
      expect(await events(user, 'name_changed')).toHaveLength(0)
    })

    test('/이름 waits; the next message is the name; the state is in the database', async () => {
      const user = await newUser()
      const ask = await say(user, '/이름')
      expect(ask.text).toBe(DEFAULT_MESSAGES.name_ask)
      expect(ask.turn.reply?.template?.quickReplies).toEqual([
        { label: '취소', action: 'message', messageText: '취소' },
      ])
      expect(ask.stored.nameState).toBe('awaiting')
      expect(ask.stored.nameStateUntil?.toISOString()).toBe('2026-03-01T09:05:00.000Z')
      expect(await events(user, 'name_requested')).toHaveLength(1)
      const r = await say(user, '전지현이야')
      expect(r.text).toBe('반가워요! 앞으로 전지현이라고 불러 드릴게요.')
      expect(r.stored).toMatchObject({ name: '전지현', nameState: 'none', nameStateUntil: null })
    })

    test('/이름 홍길동 sets at once; the same name again is a friendly no-op', async () => {
      const user = await newUser()
      expect((await say(user, '/이름 홍길동')).stored.name).toBe('홍길동')
      const again = await say(user, '내 이름은 홍길동이야')
      expect(again.text).toBe('이미 홍길동이라고 불러 드리고 있어요. 앞으로도 그렇게 불러 드릴게요!')
      expect(await events(user, 'name_changed')).toHaveLength(1)
    })

    test('"이름 바꿔" names the current name and waits; 취소 stops waiting', async () => {
      const user = await newUser()
      await say(user, '/이름 길동')
      const ask = await say(user, '이름 좀 바꿔줘')
      expect(ask.text).toBe('지금은 길동이라고 불러 드리고 있어요. 새로 불러 드릴 이름을 알려 주세요.')
      const cancel = await say(user, '취소')
      expect(cancel.nextCalled).toBe(false)
      expect(cancel.text).toBe(DEFAULT_MESSAGES.name_cancelled)
      expect(cancel.stored).toMatchObject({ name: '길동', nameState: 'none' })
      expect(await events(user, 'name_cancelled')).toHaveLength(1)
      // Not waiting any more: 취소 and a bare name are ordinary messages.
      expect((await say(user, '취소')).nextCalled).toBe(true)
      expect((await say(user, '나연이야')).stored.name).toBe('길동')
    })

    test('an invalid name gets the rule and the bot keeps waiting', async () => {
      const user = await newUser()
      await say(user, '/이름')
      for (const bad of ['홍 길동', '가'.repeat(21), '민수#1']) {
        const r = await say(user, bad)
        expect(r.nextCalled).toBe(false)
        expect(r.text).toContain('20자 이내의 한글, 영문, 숫자와 기호(·, -, _)')
        expect(r.stored).toMatchObject({ name: null, nameState: 'awaiting' })
      }
      const retry = await say(user, '난 학생이야')
      expect(retry.text).toBe(DEFAULT_MESSAGES.name_retry)
      expect(retry.stored.nameState).toBe('awaiting')
      expect((await say(user, '나연이야')).stored).toMatchObject({ name: '나연', nameState: 'none' })
    })

    test('an explicit but invalid introduction explains the rule and starts waiting', async () => {
      const user = await newUser()
      const r = await say(user, '제 이름은 John Smith입니다')
      expect(r.text).toContain('띄어쓰기')
      expect(r.stored).toMatchObject({ name: null, nameState: 'awaiting' })
    })

    test('waiting expires: afterwards a bare name is an ordinary message', async () => {
      const user = await newUser()
      const short = handlerFor(t.store.db, clock, 2)
      await say(user, '/이름', short)
      const start = clock.now
      clock.now = new Date(start.getTime() + 2 * 60_000 + 1)
      try {
        const r = await say(user, '나연이야', short)
        expect(r.nextCalled).toBe(true)
        expect(r.stored.name).toBeNull()
      } finally {
        clock.now = start
      }
    })

    test('waiting survives a restart: a new store and plugin on the same database read it', async () => {
      const user = await newUser()
      await say(user, '/이름')
      const reopened = await openStore(t.url)
      try {
        const r = await say(user, '나연이야', handlerFor(reopened.db, clock), reopened.db)
        expect(r.text).toBe('반가워요! 앞으로 나연이라고 불러 드릴게요.')
        expect(r.stored).toMatchObject({ name: '나연', nameState: 'none' })
      } finally {
        await reopened.close()
      }
    })
  })

  describe(`name-command through /skill (${dialect})`, () => {
    let model: FakeOpenAI
    let db: TestDb
    const bots: TestKbot[] = []
    const toml = `[pipeline]\norder = ["late-answer", "name-command", "prompt-resolver", "history-context", "ai-dispatch"]\n`
    beforeAll(async () => {
      model = startFakeOpenAI({ content: '맑아요.' })
      db = await createTestDb(dialect as Dialect, `names-skill-${dialect}`)
    })
    afterAll(async () => {
      for (const k of bots) await k.stop()
      await db.drop()
      model.close()
    })
    const bot = async () => {
      const k = await startTestKbot({
        dialect: dialect as Dialect,
        label: 'names-skill',
        db,
        toml,
        env: { OPENAI_BASE_URL: model.url },
      })
      bots.push(k)
      return k
    }
    const say = async (k: TestKbot, userId: string, utterance: string) =>
      textOf((await k.post('/skill', kakaoPayload({ utterance, userId }))).json)
    const nameOf = async (userId: string) =>
      (
        await db.store.db.query<Row>('select name, name_state from appuser where kakao_user_id = $1', [
          userId,
        ])
      )[0]

    test('/이름, then the name after a restart, then a change and a cancel', async () => {
      const first = await bot()
      expect(await say(first, 'skill-1', '/이름')).toBe(DEFAULT_MESSAGES.name_ask)
      await first.stop()
      bots.splice(bots.indexOf(first), 1)
      const second = await bot()
      expect(await say(second, 'skill-1', '나연이야')).toBe('반가워요! 앞으로 나연이라고 불러 드릴게요.')
      expect(await nameOf('skill-1')).toMatchObject({ name: '나연', name_state: 'none' })
      expect(await say(second, 'skill-1', '이름 변경')).toContain('지금은 나연이라고')
      expect(await say(second, 'skill-1', '그만')).toBe(DEFAULT_MESSAGES.name_cancelled)
      expect(await nameOf('skill-1')).toMatchObject({ name: '나연', name_state: 'none' })
    })

    test('an introduction with a question reaches the model with the name saved', async () => {
      const k = await bot()
      const before = model.requests.length
      await k.post(
        '/skill',
        kakaoPayload({ utterance: '내 이름은 Yeonwoo야, 오늘 날씨 어때?', userId: 'skill-2' }),
      )
      expect(await nameOf('skill-2')).toMatchObject({ name: 'Yeonwoo' })
      const request = await waitFor(() => model.requests.slice(before).at(-1), { what: 'a model call' })
      expect(request.body.messages.at(-1)?.content).toContain('오늘 날씨 어때?')
    })
  })
}
