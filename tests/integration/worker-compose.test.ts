import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { Dialect } from '../../src/store/db.ts'
import { insertMessage } from '../../src/store/messages.ts'
import { newId } from '../../src/store/rows.ts'
import { insertTask } from '../../src/store/tasks.ts'
import { testDialects } from '../helpers/db.ts'
import { type FakeKakao, startFakeKakao } from '../helpers/fake-kakao.ts'
import { type FakeOpenAI, startFakeOpenAI } from '../helpers/fake-openai.ts'
import { kakaoPayload } from '../helpers/kakao.ts'
import { startTestKbot, type TestKbot } from '../helpers/kbot.ts'
import { waitFor } from '../helpers/wait.ts'

type Row = Record<string, any>

/**
 * Issue 13: the ack stores only the turn ({ v: 2, utterance, promptName, vars, receivedAt }); the worker reads
 * the prompt, the user's name, the summary and the history when it claims the task. Tasks stored before, with
 * their `messages`, run unchanged.
 */
for (const dialect of await testDialects()) {
  describe(`worker-time composition (${dialect})`, () => {
    let model: FakeOpenAI
    let kakao: FakeKakao
    let k: TestKbot
    const q = (sql: string, params: unknown[] = []) => k.db.store.db.query<Row>(sql, params)

    beforeAll(async () => {
      model = startFakeOpenAI({ content: '네, 답변이에요.' })
      kakao = startFakeKakao()
      k = await startTestKbot({
        dialect: dialect as Dialect,
        label: `compose-${dialect}`,
        env: { OPENAI_BASE_URL: model.url, CALLBACK_ALLOWED_HOSTS: kakao.origin },
      })
    })
    afterAll(async () => {
      await k.stop()
      model.close()
      kakao.close()
    })

    test('the ack stores the turn only; the worker composes prompt and history and keeps what it sent', async () => {
      const user = `compose-${dialect}`
      const send = async (text: string) => {
        const before = model.requests.length
        const res = await k.post(
          '/skill',
          kakaoPayload({ utterance: text, userId: user, callbackUrl: kakao.callbackUrl() }),
        )
        expect(res.json.useCallback).toBe(true)
        await waitFor(() => model.requests.length > before)
        return model.requests.find((r, i) => i >= before && r.body.messages.at(-1)?.content === text)!.body
      }
      await send('첫 번째')
      const [first] = await q(
        `select t.* from aiprocessingtask t join appuser u on u.id = t.user_id where u.kakao_user_id = $1`,
        [user],
      )
      await waitFor(
        async () =>
          (await q('select status from aiprocessingtask where id = $1', [first!.id]))[0]?.status ===
          'completed',
      )
      const sent = await send('두 번째')
      expect(sent.messages[0]!.role).toBe('system')
      expect(sent.messages.slice(1).map((m: Row) => m.content)).toEqual([
        '첫 번째',
        '네, 답변이에요.',
        '두 번째',
      ])
      const [task] = await q(
        `select t.* from aiprocessingtask t join appuser u on u.id = t.user_id where u.kakao_user_id = $1
          order by t.created_at desc limit 1`,
        [user],
      )
      await waitFor(
        async () =>
          (await q('select status from aiprocessingtask where id = $1', [task!.id]))[0]?.status ===
          'completed',
      )
      const [done] = await q('select input from aiprocessingtask where id = $1', [task!.id])
      const input = typeof done!.input === 'string' ? JSON.parse(done!.input) : done!.input
      // Once answered, the task holds what the model was given (ops views show its model and prompt).
      expect(input.messages.map((m: Row) => m.content).slice(1)).toEqual([
        '첫 번째',
        '네, 답변이에요.',
        '두 번째',
      ])
      expect(input.prompt).toMatchObject({ name: 'default', version: 1 })
      const [log] = await q('select prompt_name, prompt_version, model from promptlog where task_id = $1', [
        task!.id,
      ])
      expect(log).toMatchObject({ prompt_name: 'default', prompt_version: 1, model: 'gpt-4o' })
    })

    test('a task stored before issue 13 (with its messages) runs with exactly those messages', async () => {
      const [conv] = await q(
        `select c.id, c.user_id from conversation c join appuser u on u.id = c.user_id where u.kakao_user_id = $1`,
        [`compose-${dialect}`],
      )
      const messageId = newId()
      await insertMessage(k.db.store.db, {
        id: messageId,
        convId: conv!.id,
        role: 'user',
        content: '옛 질문',
      })
      const old = {
        messages: [
          { role: 'system' as const, content: '옛 프롬프트' },
          { role: 'user' as const, content: '옛 질문' },
        ],
        model: 'gpt-4o-mini',
        temperature: 0.5,
        maxTokens: 77,
        prompt: null,
      }
      const before = model.requests.length
      const task = await insertTask(k.db.store.db, {
        userId: conv!.user_id,
        convId: conv!.id,
        messageId,
        requestId: null,
        input: old,
        callbackUrl: null,
        expiresAt: null,
        deadlineAt: new Date(Date.now() + 30_000),
        maxAttempts: 1,
        now: new Date(),
      })
      k.kbot.pool.wake()
      await waitFor(() => model.requests.length > before)
      const body = model.requests.find(
        (r, i) => i >= before && r.body.messages.at(-1)?.content === '옛 질문',
      )!.body
      expect(body.messages).toEqual(old.messages)
      expect({ model: body.model, temperature: body.temperature, max_tokens: body.max_tokens }).toEqual({
        model: 'gpt-4o-mini',
        temperature: 0.5,
        max_tokens: 77,
      })
      await waitFor(
        async () =>
          (await q('select status from aiprocessingtask where id = $1', [task!.id]))[0]?.status ===
          'completed',
      )
    })
  })
}
