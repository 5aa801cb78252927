import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { buildConsole } from '../../src/http/console-routes.ts'
import type { Dialect } from '../../src/store/db.ts'
import { testDialects } from '../helpers/db.ts'
import { type FakeKakao, startFakeKakao } from '../helpers/fake-kakao.ts'
import { type FakeOpenAI, startFakeOpenAI } from '../helpers/fake-openai.ts'
import { kakaoPayload } from '../helpers/kakao.ts'
import { startTestKbot, type TestKbot } from '../helpers/kbot.ts'
import { waitFor } from '../helpers/wait.ts'

type Row = Record<string, any>
const TOKEN = 'console-test-admin-token-0123456789'
const ORIGIN = 'http://localhost'

/** Sign-in, the session cookie, CSRF, and the admin routes the console added, through app.handle. */
for (const dialect of await testDialects()) {
  describe(`console API (${dialect})`, () => {
    let model: FakeOpenAI
    let kakao: FakeKakao
    let k: TestKbot

    beforeAll(async () => {
      model = startFakeOpenAI({
        content: '기본 답변',
        usage: { prompt_tokens: 1000, completion_tokens: 500 },
      })
      kakao = startFakeKakao()
      k = await startTestKbot({
        dialect: dialect as Dialect,
        label: `console-api-${dialect}`,
        env: { ADMIN_TOKEN: TOKEN, OPENAI_BASE_URL: model.url, CALLBACK_ALLOWED_HOSTS: kakao.origin },
      })
    })
    afterAll(async () => {
      await k.stop()
      model.close()
      kakao.close()
    })

    const q = (sql: string, p: unknown[] = []) => k.db.store.db.query<Row>(sql, p)
    const send = (path: string, init: RequestInit = {}) =>
      k.kbot.app.handle(new Request(`${ORIGIN}${path}`, init))
    const login = async (token: string, headers: Record<string, string> = {}) =>
      send('/console/login', {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: ORIGIN, ...headers },
        body: JSON.stringify({ token }),
      })
    const session = async () => {
      const res = await login(TOKEN)
      const cookie = res.headers.get('set-cookie')!.split(';')[0]!
      return { cookie, csrf: ((await res.json()) as { csrf: string }).csrf }
    }
    const counts = async () =>
      (
        await q(`select (select count(*) from prompttemplate) as prompts, (select count(*) from message) as messages,
                        (select count(*) from appuser) as users, (select count(*) from aiprocessingtask where kind <> 'job') as tasks,
                        (select count(*) from promptlog) as logs`)
      )[0]

    /** One Kakao turn with a callback, waited until its answer arrived. */
    async function turn(userId: string, utterance: string) {
      const callbackUrl = kakao.callbackUrl()
      const res = await k.post('/skill', kakaoPayload({ utterance, userId, callbackUrl }))
      expect(res.status).toBe(200)
      return waitFor(() => kakao.arrivalsFor(callbackUrl)[0], { what: 'the callback' })
    }

    test('/console serves the page uncached and its hashed assets cached forever, under 150 kB gzipped', async () => {
      const page = await send('/console')
      expect(page.status).toBe(200)
      expect(page.headers.get('cache-control')).toBe('no-cache')
      expect(page.headers.get('content-security-policy')).toContain("script-src 'self'")
      const html = await page.text()
      const assets = [...html.matchAll(/\/console\/assets\/([\w.-]+)/g)].map((m) => m[1]!)
      expect(assets.length).toBe(2)
      for (const name of assets) {
        expect(name).toMatch(/-[a-z0-9]{8}\.(js|css)$/)
        const res = await send(`/console/assets/${name}`)
        expect(res.status).toBe(200)
        expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable')
      }
      expect((await send('/console/assets/nope-12345678.js')).status).toBe(404)
      const { gzipBytes } = await buildConsole()
      console.log(`console first load: ${(gzipBytes / 1024).toFixed(1)} kB gzipped (html + js + css)`)
      expect(gzipBytes).toBeLessThan(150 * 1024)
    })

    test('a wrong token is refused and sets no cookie; the right one sets an HTTP-only, SameSite=Strict cookie', async () => {
      for (const wrong of ['nope', '', `${TOKEN}x`]) {
        const res = await login(wrong)
        expect(res.status).toBe(401)
        expect(res.headers.get('set-cookie')).toBeNull()
      }
      const res = await login(TOKEN)
      expect(res.status).toBe(200)
      const cookie = res.headers.get('set-cookie')!
      expect(cookie).toMatch(
        /^kbot_console=\d{13}\.[\w-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/,
      )
      expect(cookie).not.toContain('Secure')
      const behindTls = await login(TOKEN, { 'x-forwarded-proto': 'https' })
      expect(behindTls.headers.get('set-cookie')).toEndWith('; Secure')
      // Another site cannot sign a browser in (login CSRF).
      expect((await login(TOKEN, { origin: 'https://evil.example' })).status).toBe(403)
    })

    test('the cookie opens the admin API; writes need the CSRF header and this origin, and write nothing without', async () => {
      const { cookie, csrf } = await session()
      expect((await send('/admin/health', { headers: { cookie } })).status).toBe(200)
      expect((await send('/admin/health')).status).toBe(401)
      const body = JSON.stringify({ name: 'csrf-probe', system_prompt: 'x', activate: false })
      const post = (headers: Record<string, string>) =>
        send('/admin/prompts', {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body,
        })
      const before = await counts()
      expect((await post({ cookie })).status).toBe(403)
      expect((await post({ cookie, 'x-kbot-csrf': 'forged' })).status).toBe(403)
      expect((await post({ cookie, 'x-kbot-csrf': csrf, origin: 'https://evil.example' })).status).toBe(403)
      expect(await counts()).toEqual(before)
      const ok = await post({ cookie, 'x-kbot-csrf': csrf, origin: ORIGIN })
      expect(ok.status).toBe(201)
      expect(await q(`select name from prompttemplate where name = 'csrf-probe'`)).toHaveLength(1)
      // The bearer token keeps working without any of it (CLI scripts, curl).
      const bearer = await send('/admin/prompts', { headers: { authorization: `Bearer ${TOKEN}` } })
      expect(bearer.status).toBe(200)
    })

    test('a tampered, expired or foreign-token cookie is refused; sign-out clears the cookie', async () => {
      const { cookie } = await session()
      const [name, value] = cookie.split('=') as [string, string]
      const [exp, mac] = value.split('.') as [string, string]
      const tampered = `${name}=${Number(exp) + 1000}.${mac}`
      expect((await send('/admin/health', { headers: { cookie: tampered } })).status).toBe(401)
      expect((await send('/console/session', { headers: { cookie: tampered } })).status).toBe(401)
      const other = await startTestKbot({
        dialect: dialect as Dialect,
        label: `console-api-other-${dialect}`,
        db: k.db,
        env: { ADMIN_TOKEN: 'a-rotated-token-9876543210' },
      })
      try {
        const res = await other.kbot.app.handle(
          new Request(`${ORIGIN}/admin/health`, { headers: { cookie } }),
        )
        expect(res.status).toBe(401)
      } finally {
        await other.stop()
      }
      expect((await send('/console/session', { headers: { cookie } })).status).toBe(200)
      const out = await send('/console/logout', { method: 'POST', headers: { cookie, origin: ORIGIN } })
      expect(out.status).toBe(204)
      expect(out.headers.get('set-cookie')).toStartWith(
        'kbot_console=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0',
      )
    })

    test('users by key or by part of the name; the transcript carries tokens and cost; forget erases them', async () => {
      const key = `console-user-${crypto.randomUUID()}`
      // The name command answers inline (no model, no callback).
      expect(
        (await k.post('/skill', kakaoPayload({ utterance: '/이름 김민수_1', userId: key }))).status,
      ).toBe(200)
      await turn(key, '안녕하세요')
      const auth = { authorization: `Bearer ${TOKEN}` }
      const find = async (text: string) =>
        (await (await send(`/admin/users?q=${encodeURIComponent(text)}`, { headers: auth })).json()) as Row[]
      const byKey = await find(key)
      expect(byKey.map((u) => u.kakao_user_id)).toEqual([key])
      expect((await find('민수_1')).map((u) => u.id)).toEqual([byKey[0]!.id])
      // % and _ are taken literally, not as LIKE wildcards.
      expect(await find('김_수')).toEqual([])
      expect(await find('민수%')).toEqual([])
      expect((await send('/admin/users?q=', { headers: auth })).status).toBe(400)

      const res = await send(`/admin/users/${byKey[0]!.id}/transcript`, { headers: auth })
      expect(res.status).toBe(200)
      const tr = (await res.json()) as Row
      expect(tr.user.name).toBe('김민수_1')
      const messages = tr.conversations.flatMap((c: Row) => c.messages)
      const answer = messages.find((m: Row) => m.role === 'assistant')
      expect(messages.find((m: Row) => m.role === 'user' && m.content === '안녕하세요')).toBeDefined()
      expect(answer).toMatchObject({ content: '기본 답변', total_tokens: 1500, prompt: { name: 'default' } })
      // gpt-4o list price: 1000 × $2.5/M + 500 × $10/M.
      expect(answer.cost_usd).toBeCloseTo(0.0075, 6)
      expect(tr.conversations[0].cost_usd).toBeCloseTo(0.0075, 6)
      expect((await send('/admin/users/not-a-uuid/transcript', { headers: auth })).status).toBe(404)

      const forget = await send(`/admin/users/${byKey[0]!.id}/forget`, { method: 'POST', headers: auth })
      expect(forget.status).toBe(200)
      expect(await q('select id from appuser where kakao_user_id = $1', [key])).toEqual([])
      expect(await q('select id from conversation where user_id = $1', [byKey[0]!.id])).toEqual([])
    })

    test('a crisis flag shows on the transcript: the conversation, its kinds and the event', async () => {
      const key = `console-crisis-${crypto.randomUUID()}`
      await turn(key, '안녕하세요')
      // crisis-guard answers at once, without the model and without the callback.
      const calls = model.requests.length
      expect(
        (await k.post('/skill', kakaoPayload({ utterance: '요즘 너무 힘들어서 죽고 싶어요', userId: key })))
          .status,
      ).toBe(200)
      expect(model.requests.length).toBe(calls)
      const auth = { authorization: `Bearer ${TOKEN}` }
      const [user] = (await (await send(`/admin/users?q=${key}`, { headers: auth })).json()) as Row[]
      const tr = (await (await send(`/admin/users/${user!.id}/transcript`, { headers: auth })).json()) as Row
      expect(tr.conversations).toHaveLength(1)
      expect(tr.conversations[0]).toMatchObject({ crisis_flagged: true, crisis_kinds: ['suicide'] })
      expect(tr.crisis_flags).toHaveLength(1)
      expect(tr.crisis_flags[0]).toMatchObject({ type: 'crisis_flagged', detail: { kinds: ['suicide'] } })
      const [flag] = await q('select flagged_at from conversation where id = $1', [tr.conversations[0].id])
      expect(tr.conversations[0].flagged_at).toBe(new Date(flag!.flagged_at).toISOString())
    })

    test('a prompt preview calls the model with that version, rendered, and writes nothing', async () => {
      const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }
      const created = await send('/admin/prompts', {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({
          name: 'preview-me',
          system_prompt: '{{user_name_vocative}}, 미리보기 전용',
          activate: false,
        }),
      })
      const version = (await created.json()) as Row
      const before = await counts()
      const calls = model.requests.length
      model.script({ content: '미리보기 답변', usage: { prompt_tokens: 10, completion_tokens: 5 } })
      const res = await send('/admin/prompts/preview', {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({
          prompt_id: version.id,
          user_name: '민수',
          messages: [{ role: 'user', content: '안녕' }],
        }),
      })
      expect(res.status).toBe(200)
      expect(await res.json()).toMatchObject({
        reply: '미리보기 답변',
        total_tokens: 15,
        prompt: { version: 1 },
      })
      expect(model.requests.length).toBe(calls + 1)
      expect(model.requests.at(-1)!.body.messages).toEqual([
        { role: 'system', content: '민수야, 미리보기 전용' },
        { role: 'user', content: '안녕' },
      ])
      expect(await counts()).toEqual(before)
      const bad = await send('/admin/prompts/preview', {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({ prompt_id: version.id, messages: [{ role: 'assistant', content: 'x' }] }),
      })
      expect(bad.status).toBe(400)
      expect(model.requests.length).toBe(calls + 1)
    })

    test('the prompt diff pairs lines and names changed parameters; series count this hour’s tokens', async () => {
      const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }
      for (const [text, temperature] of [
        ['하나\n둘\n셋', 0.2],
        ['하나\n둘!\n셋', 0.7],
      ] as const)
        await send('/admin/prompts', {
          method: 'POST',
          headers: auth,
          body: JSON.stringify({ name: 'diff-me', system_prompt: text, temperature, activate: false }),
        })
      const diff = (await (
        await send('/admin/prompts/diff-me/diff?from=1&to=2', { headers: auth })
      ).json()) as Row
      expect(diff.lines).toEqual([
        { op: ' ', text: '하나' },
        { op: '-', text: '둘' },
        { op: '+', text: '둘!' },
        { op: ' ', text: '셋' },
      ])
      expect(diff.params).toEqual([{ field: 'temperature', from: 0.2, to: 0.7 }])
      expect((await send('/admin/prompts/diff-me/diff?from=1&to=9', { headers: auth })).status).toBe(404)

      await turn(`series-${crypto.randomUUID()}`, '토큰을 세어 주세요')
      const series = (await (await send('/admin/series?hours=3', { headers: auth })).json()) as Row
      expect(series.hours).toHaveLength(3)
      const [logged] = await q(
        `select count(*) as n, sum(total_tokens) as tokens from promptlog where created_at >= $1`,
        [new Date(Date.parse(series.hours[2].hour))],
      )
      expect(series.hours[2].tokens).toBe(Number(logged!.tokens))
      expect(series.hours[2].calls).toBe(Number(logged!.n))
      expect(series.hours[2].tokens).toBeGreaterThan(0)
      // The Kakao turns above went through /skill: their acks were timed.
      expect(series.hours[2].ack.count).toBeGreaterThan(0)
      expect((await send('/admin/series?hours=0', { headers: auth })).status).toBe(400)
    })
  })
}
