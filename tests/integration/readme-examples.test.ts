import { afterAll, beforeAll, describe, expect, setSystemTime, test } from 'bun:test'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { registerDir, releaseAll } from '../helpers/cleanup.ts'
import { createTestDb, type TestDb } from '../helpers/db.ts'
import { type FakeOpenAI, startFakeOpenAI } from '../helpers/fake-openai.ts'
import { kakaoPayload } from '../helpers/kakao.ts'
import { startTestKbot } from '../helpers/kbot.ts'

const ROOT = join(import.meta.dir, '..', '..')
const README = readFileSync(join(ROOT, 'README.md'), 'utf8')

/** The examples in the README are run, so that the documentation stays true. Each test stands alone. */
describe('README examples (SQLite)', () => {
  const dir = join(ROOT, `plugins-local-${process.pid}`)
  let model: FakeOpenAI
  let db: TestDb

  beforeAll(async () => {
    mkdirSync(dir, { recursive: true })
    registerDir(dir)
    model = startFakeOpenAI({ content: '모델 답변' })
    db = await createTestDb('sqlite', 'readme')
  })
  afterAll(async () => {
    setSystemTime()
    await db.drop()
    model.close()
    await releaseAll()
  })

  test('the office-hours plugin example loads from [pipeline.paths]: closed at 03:00 KST, the model at 10:00 KST', async () => {
    const code = /```ts\n(\/\/ plugins-local\/office-hours\.ts\n[\s\S]*?)```/.exec(README)?.[1]
    expect(code).toBeDefined()
    writeFileSync(join(dir, 'office-hours.ts'), code!)
    const bot = await startTestKbot({
      dialect: 'sqlite',
      label: 'readme',
      db,
      env: { OPENAI_BASE_URL: model.url },
      toml: `[pipeline]\norder = ["late-answer", "office-hours", "name-command", "prompt-resolver", "history-context", "ai-dispatch"]\npaths = { "office-hours" = "${join(dir, 'office-hours.ts')}" }`,
    })
    try {
      expect(bot.kbot.pipeline.names).toContain('office-hours')
      // Both branches, whatever the hour of the run: the turn's clock is set (and frozen) for each request.
      const ask = async (utcIso: string, userId: string) => {
        setSystemTime(new Date(utcIso))
        try {
          const res = await bot.post('/skill', kakaoPayload({ utterance: '상담하고 싶어요', userId }))
          return res.json.template.outputs[0].simpleText.text as string
        } finally {
          setSystemTime()
        }
      }
      const before = model.requests.length
      expect(await ask('2026-03-02T18:00:00Z', 'readme-night')).toBe(
        '지금은 상담 시간이 아니에요. 평일 9시–18시에 다시 찾아 주세요.',
      ) // 03:00 KST
      expect(model.requests.length).toBe(before)
      expect(await ask('2026-03-02T01:00:00Z', 'readme-day')).toBe('모델 답변') // 10:00 KST
      expect(model.requests.length).toBe(before + 1)
    } finally {
      await bot.stop()
    }
  })

  test('the 반말 welcome example addresses the user with the right vocative particle', async () => {
    const template = /`welcome_known = "([^"]+)"`/.exec(README)?.[1]
    expect(template).toBe('{{name|아/야}}, 다시 와 줘서 반가워!')
    const bot = await startTestKbot({
      dialect: 'sqlite',
      label: 'readme-welcome',
      db,
      env: { OPENAI_BASE_URL: model.url },
      toml: `[messages]\nwelcome_known = "${template}"`,
    })
    try {
      for (const [name, expected] of [
        ['길동', '길동아, 다시 와 줘서 반가워!'],
        ['민수', '민수야, 다시 와 줘서 반가워!'],
      ]) {
        await bot.post('/skill', kakaoPayload({ utterance: `/이름 ${name}`, userId: `welcome-${name}` }))
        const res = await bot.post('/welcome', kakaoPayload({ utterance: '', userId: `welcome-${name}` }))
        expect(res.json.template.outputs[0].simpleText.text).toBe(expected)
      }
    } finally {
      await bot.stop()
    }
  })
})
