import { describe, expect, test } from 'bun:test'
import pino from 'pino'
import { parseSince } from '../../cli/commands/tasks.ts'
import promptResolver from '../../plugins/prompt-resolver/index.ts'
import { loadConfig } from '../../src/config.ts'
import { allowedMethods } from '../../src/http/methods.ts'
import type { AnswerRequest, PluginDeps, Turn } from '../../src/pipeline/types.ts'
import { PROMPT_VARIABLES, unknownVariables } from '../../src/prompts/render.ts'
import { diffLines } from '../../src/services/diff.ts'
import type { Db } from '../../src/store/db.ts'
import { DEFAULT_MESSAGES } from '../../src/texts.ts'

describe('prompt variables', () => {
  test('PROMPT_VARIABLES is exactly what prompt-resolver provides', async () => {
    const config = loadConfig({ env: {} })
    // The worker-time read's one row, as a database with no prompt, no name and no summary answers it.
    const db = { dialect: 'sqlite', query: async () => [{}] } as unknown as Db
    const deps = {
      config,
      db,
      log: pino({ level: 'silent' }),
      messages: DEFAULT_MESSAGES,
      prompts: { active: async () => null, invalidate() {} },
    } as unknown as PluginDeps
    const options = { prompt: 'default', routes: {}, time_zone: 'Asia/Seoul' }
    const handler = await promptResolver.setup(deps, options)
    const turn = {
      payload: { userRequest: { utterance: 'x', user: { id: 'u' } } },
      user: { id: 'u', name: '민수' },
      receivedAt: new Date(),
      vars: {},
    } as unknown as Turn
    await handler(turn, async () => {})
    // The variables are complete at worker time (issue 13): the ack's part adds what the payload says.
    const atWorker = await promptResolver.compose!(deps, options)
    const req = {
      userId: 'u',
      promptName: turn.promptName,
      receivedAt: turn.receivedAt,
      vars: turn.vars,
      log: deps.log,
    } as unknown as AnswerRequest
    await atWorker(req, async () => {})
    expect(Object.keys(req.vars).sort()).toEqual([...PROMPT_VARIABLES].sort())
  })

  test('unknownVariables: each unknown once, in order; spacing and known names pass', () => {
    expect(unknownVariables('{{ user_name }}님, {{today}} {{weather}} {{age}} {{weather}}')).toEqual([
      'weather',
      'age',
    ])
    expect(unknownVariables('no variables, {single} braces')).toEqual([])
    expect(unknownVariables('{{constructor}}')).toEqual(['constructor'])
  })
})

describe('diffLines', () => {
  test('keeps common lines, marks removed and added ones in order', () => {
    expect(diffLines('a\nb\nc', 'a\nx\nc\nd')).toEqual([
      { op: ' ', text: 'a' },
      { op: '-', text: 'b' },
      { op: '+', text: 'x' },
      { op: ' ', text: 'c' },
      { op: '+', text: 'd' },
    ])
    expect(diffLines('same', 'same')).toEqual([{ op: ' ', text: 'same' }])
  })
})

describe('parseSince', () => {
  const now = new Date('2026-12-01T10:00:00Z')
  test.each([
    ['30m', '2026-12-01T09:30:00.000Z'],
    ['24h', '2026-11-30T10:00:00.000Z'],
    ['7d', '2026-11-24T10:00:00.000Z'],
    ['2026-11-30', '2026-11-30T00:00:00.000Z'],
  ])('%s', (input, iso) => expect(parseSince(input, now).toISOString()).toBe(iso))
  test.each(['yesterday', '10', '-1h', ''])('refuses %p', (input) =>
    expect(() => parseSince(input, now)).toThrow('--since'),
  )
})

describe('allowedMethods', () => {
  const routes = [
    { method: 'GET', path: '/admin/prompts' },
    { method: 'POST', path: '/admin/prompts' },
    { method: 'GET', path: '/admin/prompts/:name' },
    { method: 'POST', path: '/admin/prompts/:prompt_id/activate' },
  ]
  test.each([
    ['/admin/prompts', ['GET', 'HEAD', 'POST']],
    ['/admin/prompts/default', ['GET', 'HEAD']],
    ['/admin/prompts/x/activate', ['POST']],
    ['/admin/prompts/x/y/z', []],
    ['/admin/prompts.json', []],
  ])('%s', (path, methods) => expect(allowedMethods(routes, path)).toEqual(methods))
})
