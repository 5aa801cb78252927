import { afterAll, describe, expect, test } from 'bun:test'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createTestDb, type TestDb } from '../helpers/db.ts'
import { type FakeOpenAI, startFakeOpenAI } from '../helpers/fake-openai.ts'
import { kakaoPayload } from '../helpers/kakao.ts'
import { startTestKbot, type TestKbot } from '../helpers/kbot.ts'

const ROOT = join(import.meta.dir, '..', '..')
const README = readFileSync(join(ROOT, 'README.md'), 'utf8')

/** The examples in the README are run, so that the documentation stays true. */
describe('README examples (SQLite)', () => {
  const dir = join(ROOT, `plugins-local-${process.pid}`)
  let model: FakeOpenAI
  const bots: TestKbot[] = []
  let db: TestDb

  afterAll(async () => {
    for (const b of bots) await b.stop()
    await db?.drop()
    model?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  test('the office-hours plugin example loads from [pipeline.paths] and answers outside office hours', async () => {
    const code = /```ts\n(\/\/ plugins-local\/office-hours\.ts\n[\s\S]*?)```/.exec(README)?.[1]
    expect(code).toBeDefined()
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, 'office-hours.ts'), code!)
    model = startFakeOpenAI({ content: '모델 답변' })
    db = await createTestDb('sqlite', 'readme')
    const bot = await startTestKbot({
      dialect: 'sqlite',
      label: 'readme',
      db,
      env: { OPENAI_BASE_URL: model.url },
      toml: `[pipeline]\norder = ["late-answer", "office-hours", "name-command", "prompt-resolver", "history-context", "ai-dispatch"]\npaths = { "office-hours" = "${join(dir, 'office-hours.ts')}" }`,
    })
    bots.push(bot)
    expect(bot.kbot.pipeline.names).toContain('office-hours')
    const res = await bot.post(
      '/skill',
      kakaoPayload({ utterance: '상담하고 싶어요', userId: 'readme-user' }),
    )
    const text = res.json.template.outputs[0].simpleText.text as string
    const hour = Number(
      new Date().toLocaleString('en-US', { timeZone: 'Asia/Seoul', hour: 'numeric', hour12: false }),
    )
    if (hour < 9 || hour >= 18)
      expect(text).toBe('지금은 상담 시간이 아니에요. 평일 9시–18시에 다시 찾아 주세요.')
    else expect(text).toBe('모델 답변')
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
    bots.push(bot)
    for (const [name, expected] of [
      ['길동', '길동아, 다시 와 줘서 반가워!'],
      ['민수', '민수야, 다시 와 줘서 반가워!'],
    ]) {
      await bot.post('/skill', kakaoPayload({ utterance: `/이름 ${name}`, userId: `welcome-${name}` }))
      const res = await bot.post('/welcome', kakaoPayload({ utterance: '', userId: `welcome-${name}` }))
      expect(res.json.template.outputs[0].simpleText.text).toBe(expected)
    }
  })
})
