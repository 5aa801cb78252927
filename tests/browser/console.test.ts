import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core'
import type { Dialect } from '../../src/store/db.ts'
import { testDialects } from '../helpers/db.ts'
import { type FakeKakao, startFakeKakao } from '../helpers/fake-kakao.ts'
import { type FakeOpenAI, startFakeOpenAI } from '../helpers/fake-openai.ts'
import { kakaoPayload } from '../helpers/kakao.ts'
import { startTestKbot, type TestKbot } from '../helpers/kbot.ts'
import { waitFor } from '../helpers/wait.ts'

type Row = Record<string, any>
const CHROMIUM = '/usr/bin/chromium'
const TOKEN = 'browser-test-admin-token-0123456789'
/** Screenshots land here (gitignored), one folder per store. */
export const OUTPUT_DIR = join(import.meta.dir, 'output')

const haveChromium = existsSync(CHROMIUM)
if (!haveChromium) {
  if (process.env.CI === 'true')
    throw new Error(`CI=true but ${CHROMIUM} is missing: apt-get install chromium`)
  console.warn(
    `\n${'!'.repeat(78)}\n!! ${CHROMIUM} is missing: the console browser tests are SKIPPED.\n` +
      `!! Install it with: apt-get install -y chromium\n${'!'.repeat(78)}\n`,
  )
}

/**
 * The console in a real browser (Debian's Chromium, headless) against a kbot listening on a port, with the fake
 * model and the fake Kakao callback receiver. The tests run in order on one signed-in page, as an operator would.
 */
for (const dialect of haveChromium ? await testDialects() : []) {
  describe(`console in Chromium (${dialect})`, () => {
    let model: FakeOpenAI
    let kakao: FakeKakao
    let k: TestKbot
    let browser: Browser
    let context: BrowserContext
    let page: Page
    let base = ''
    const shots = join(OUTPUT_DIR, dialect)
    const userKey = `browser-user-${crypto.randomUUID()}`

    beforeAll(async () => {
      mkdirSync(shots, { recursive: true })
      model = startFakeOpenAI()
      // The answer tells which prompt the model was given, so the test sees which version a turn used.
      model.setDefault((req) => ({
        content: req.body.messages[0]?.content.includes('PIRATE')
          ? '아호이! 해적 답변입니다.'
          : '기본 답변입니다.',
        usage: { prompt_tokens: 1200, completion_tokens: 300 },
      }))
      kakao = startFakeKakao()
      k = await startTestKbot({
        dialect: dialect as Dialect,
        label: `browser-${dialect}`,
        env: { ADMIN_TOKEN: TOKEN, OPENAI_BASE_URL: model.url, CALLBACK_ALLOWED_HOSTS: kakao.origin },
      })
      k.kbot.app.listen({ hostname: '127.0.0.1', port: 0 })
      base = `http://127.0.0.1:${k.kbot.app.server!.port}`
      browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] })
      context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'ko-KR' })
      page = await context.newPage()
    })
    afterAll(async () => {
      await browser?.close()
      await k?.kbot.app.stop(true)
      await k?.stop()
      model?.close()
      kakao?.close()
    })

    const q = (sql: string, p: unknown[] = []) => k.db.store.db.query<Row>(sql, p)
    const shot = async (name: string) => {
      const path = join(shots, `${name}.png`)
      await page.screenshot({ path, fullPage: true })
      console.log(`screenshot: ${path}`)
      return path
    }
    /** A Kakao turn with a callback URL; resolves with the callback Kakao received. */
    async function kakaoTurn(utterance: string) {
      const callbackUrl = kakao.callbackUrl()
      const res = await k.post('/skill', kakaoPayload({ utterance, userId: userKey, callbackUrl }))
      expect(res.status).toBe(200)
      return waitFor(() => kakao.arrivalsFor(callbackUrl)[0], { what: 'the Kakao callback' })
    }
    const callbackText = (body: Row) => JSON.stringify(body)
    const go = async (hash: string) => {
      await page.goto(`${base}/console#/${hash}`)
      await page.waitForSelector('main#content h1')
    }

    test('a wrong token is refused (by keyboard), and no session cookie is set', async () => {
      await page.goto(`${base}/console`)
      await page.waitForSelector('#token')
      // Keyboard only: the language switch, then the token field.
      await page.keyboard.press('Tab')
      await page.keyboard.press('Tab')
      expect(await page.evaluate(() => (globalThis as any).document.activeElement?.id)).toBe('token')
      await page.keyboard.type('not-the-token')
      await page.keyboard.press('Enter')
      await expect(page.getByRole('alert').textContent()).resolves.toContain('토큰이 올바르지 않습니다')
      expect((await context.cookies()).map((c) => c.name)).not.toContain('kbot_console')
      await shot('sign-in-refused')
    })

    test('sign in: an HTTP-only, SameSite=Strict session; the overview shows health and workers', async () => {
      await page.fill('#token', TOKEN)
      await page.keyboard.press('Enter')
      await page.waitForSelector('nav a[aria-current="page"]')
      const cookie = (await context.cookies()).find((c) => c.name === 'kbot_console')!
      expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', secure: false, path: '/' })
      // Page scripts never see it.
      expect(await page.evaluate(() => (globalThis as any).document.cookie)).not.toContain('kbot_console')
      await expect(page.getByTestId('health-status').textContent()).resolves.toBe('ok')
      expect(await page.locator('nav a').allTextContents()).toEqual([
        '개요',
        '프롬프트',
        '작업',
        '대화',
        '사용량',
      ])
    })

    test('create a version from an old one, see the diff, activate it, and the next Kakao turn uses it', async () => {
      // A user with a name and a first answer under version 1.
      const named = await k.post('/skill', kakaoPayload({ utterance: '/이름 홍길동', userId: userKey }))
      expect(named.status).toBe(200)
      expect(callbackText((await kakaoTurn('안녕하세요')).body)).toContain('기본 답변')

      await go('prompts')
      await page.waitForSelector('[data-testid="versions"] tr[data-version="1"]')
      await page.getByTestId('new-from-1').click()
      const editor = page.locator('textarea[name="system_prompt"]')
      const v1 = await editor.inputValue()
      expect(v1.length).toBeGreaterThan(0)
      await editor.fill(`${v1}\nPIRATE: 해적 말투로 답하세요.`)
      await page.getByRole('button', { name: '버전 만들기', exact: true }).click()
      await page.waitForSelector('[data-testid="versions"] tr[data-version="2"]')
      const [v2] = await q(`select is_active from prompttemplate where name = 'default' and version = 2`)
      // Created inactive: the editor's "activate now" box was left unticked.
      expect([false, 0]).toContain(v2!.is_active)

      // Side by side: the new line only on the right.
      await page.waitForSelector('[data-testid="diff"] td.add')
      expect(await page.locator('[data-testid="diff"] td.add').allTextContents()).toEqual([
        'PIRATE: 해적 말투로 답하세요.',
      ])

      await page.getByTestId('activate-2').click()
      await page.getByTestId('activate-2-confirm').click()
      await page.getByText('활성화했습니다: default v2').waitFor()
      const active = await q(`select version from prompttemplate where name = 'default' and is_active = $1`, [
        true,
      ])
      expect(active.map((r) => Number(r.version))).toEqual([2])
      await shot('prompts')

      const callback = await kakaoTurn('오늘 날씨 어때요?')
      expect(callbackText(callback.body)).toContain('아호이')
      expect(model.requests.at(-1)!.body.messages[0]!.content).toContain('PIRATE')
    })

    test('the preview chat runs an inactive version against the model and writes nothing', async () => {
      const count = async () =>
        (
          await q(`select (select count(*) from message) as m, (select count(*) from appuser) as u,
                          (select count(*) from aiprocessingtask where kind <> 'job') as t, (select count(*) from promptlog) as p`)
        )[0]
      const before = await count()
      await page.getByTestId('preview-1').click()
      await page.fill('input[name="preview-message"]', '미리보기로 인사해 주세요')
      await page.keyboard.press('Enter')
      await page.locator('[data-testid="preview-chat"] li.assistant').waitFor()
      expect(await page.locator('[data-testid="preview-chat"] li.assistant span').textContent()).toBe(
        '기본 답변입니다.',
      )
      expect(model.requests.at(-1)!.body.messages.at(-1)).toEqual({
        role: 'user',
        content: '미리보기로 인사해 주세요',
      })
      expect(await count()).toEqual(before)
      await shot('prompts-preview')
    })

    test('a failed task: filter, read its error, retry it, and it completes', async () => {
      model.script({ status: 400, content: 'bad request' })
      const callback = await kakaoTurn('이 질문은 실패합니다')
      expect(callback.status).toBe('SUCCESS')
      const [failed] = await q(`select id, error from aiprocessingtask where status = 'failed'`)
      expect(failed).toBeDefined()

      await go('tasks')
      await page.getByTestId('filter-failed').click()
      // The filtered list replaces the whole one: wait until only the failed task is shown.
      await waitFor(async () => (await page.locator('[data-testid="tasks"] tbody tr').count()) === 1, {
        what: 'the failed filter to apply',
      })
      expect(await page.locator('[data-testid="tasks"] tbody tr[data-status="failed"]').count()).toBe(1)
      await page.getByRole('button', { name: String(failed!.id).slice(-12) }).click()
      await expect(page.getByTestId('task-error').textContent()).resolves.toBe(String(failed!.error))
      await shot('tasks')
      await page.getByTestId('retry').click()
      await page.getByTestId('retry-confirm').click()
      await page.getByTestId('notice').waitFor()
      expect(await page.getByTestId('notice').textContent()).toContain('다시 대기열에 넣었습니다')
      await waitFor(
        async () =>
          (await q('select status from aiprocessingtask where id = $1', [failed!.id]))[0]?.status ===
          'completed',
        { what: 'the retried task to complete' },
      )
      // The list updates itself: the failed filter empties without a click.
      await page.getByText('작업이 없습니다.').waitFor({ timeout: 15_000 })
    })

    test('find a user by name and by key, and read the transcript with tokens, cost and crisis flags', async () => {
      // crisis-guard answers this one at once and flags the conversation.
      const crisis = await k.post(
        '/skill',
        kakaoPayload({ utterance: '요즘 너무 힘들어서 죽고 싶어요', userId: userKey }),
      )
      expect(crisis.status).toBe(200)
      await go('conversations')
      await page.fill('input[name="q"]', '길동')
      await page.keyboard.press('Enter')
      await page.locator('[data-testid="transcript"] li.assistant').first().waitFor()
      const texts = await page.locator('[data-testid="transcript"] li').allTextContents()
      expect(texts.some((t) => t.includes('아호이'))).toBe(true)
      expect(texts.some((t) => t.includes('오늘 날씨 어때요?'))).toBe(true)
      // 1200 + 300 tokens at gpt-4o list prices: $0.006 per answer.
      const meta = await page.locator('[data-testid="transcript"] li.assistant small').first().textContent()
      expect(meta).toContain('1,500')
      expect(meta).toContain('$0.006')
      expect(await page.getByTestId('crisis-flag').textContent()).toContain('suicide')
      expect(await page.getByTestId('crisis-count').textContent()).toContain('suicide')
      await shot('conversations')

      await page.fill('input[name="q"]', userKey)
      await page.keyboard.press('Enter')
      await page.locator('[data-testid="transcript"] li').first().waitFor()
      expect(await page.locator('dd.mono').textContent()).toBe(userKey)
    })

    test('the overview charts and the usage chart draw with data', async () => {
      await go('overview')
      await page.waitForSelector('#tokens-chart rect.bar', { state: 'attached' })
      const heights = await page
        .locator('#tokens-chart rect.bar')
        .evaluateAll((bars) => bars.map((b) => Number(b.getAttribute('height'))))
      expect(heights.at(-1)).toBeGreaterThan(0)
      expect(await page.locator('#ack-chart circle.dot').count()).toBeGreaterThan(0)
      await shot('overview')

      await go('usage')
      await page.waitForSelector('#usage-chart rect.bar', { state: 'attached' })
      const bars = await page
        .locator('#usage-chart rect.bar')
        .evaluateAll((els) => els.map((b) => Number(b.getAttribute('height'))))
      expect(bars.some((h) => h > 0)).toBe(true)
      const [today] = await page.locator('[data-testid="usage-table"] tbody tr td').allTextContents()
      expect(today).toBe(new Date().toISOString().slice(0, 10))
      await shot('usage')
      // The same costs by model and by prompt version.
      await page.getByTestId('by-model').click()
      await page.locator('[data-testid="usage-table"] tbody td', { hasText: 'gpt-4o' }).waitFor()
      await page.getByTestId('by-prompt').click()
      await page.locator('[data-testid="usage-table"] tbody td', { hasText: 'default v2' }).waitFor()
      expect(await page.locator('#usage-chart rect.bar').count()).toBe(
        await page.locator('[data-testid="usage-table"] tbody tr').count(),
      )
    })

    test('readable at 360 px on every page, and English by the language switch', async () => {
      await page.setViewportSize({ width: 360, height: 780 })
      for (const name of ['overview', 'prompts', 'tasks', 'conversations', 'usage']) {
        await go(name)
        await page.waitForLoadState('networkidle')
        const width = await page.evaluate(() => (globalThis as any).document.documentElement.scrollWidth)
        expect(`${name}: ${width}`).toBe(`${name}: 360`)
      }
      await go('overview')
      await page.getByTestId('health-status').waitFor()
      await shot('overview-360')
      await page.getByTestId('lang').click()
      expect(await page.locator('nav a').allTextContents()).toEqual([
        'Overview',
        'Prompts',
        'Tasks',
        'Conversations',
        'Usage',
      ])
      await page.reload()
      await page.waitForSelector('nav a')
      expect(await page.locator('html').getAttribute('lang')).toBe('en')
      await page.getByTestId('lang').click()
      await page.setViewportSize({ width: 1280, height: 900 })
    })

    test('forget a user after a confirmation; sign out ends the session', async () => {
      await go('conversations')
      await page.fill('input[name="q"]', userKey)
      await page.keyboard.press('Enter')
      await page.getByTestId('forget').click()
      expect(await q('select id from appuser where kakao_user_id = $1', [userKey])).toHaveLength(1)
      await page.getByTestId('forget-confirm').click()
      await page.getByText('사용자의 기록을 삭제했습니다.').waitFor()
      expect(await q('select id from appuser where kakao_user_id = $1', [userKey])).toEqual([])

      await page.getByRole('button', { name: '로그아웃' }).click()
      await page.waitForSelector('#token')
      expect((await context.cookies()).map((c) => c.name)).not.toContain('kbot_console')
      const res = await page.request.get(`${base}/admin/health`)
      expect(res.status()).toBe(401)
    })
  })
}
