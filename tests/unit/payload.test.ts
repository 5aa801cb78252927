import { describe, expect, test } from 'bun:test'
import {
  actionParams,
  botIdOf,
  parseSkillPayload,
  plusfriendUserKeyOf,
  type SkillPayload,
} from '../../src/kakao/payload.ts'
import {
  ackResponse,
  LIMITS,
  quickReply,
  textResponse,
  validateSkillResponse,
} from '../../src/kakao/response.ts'
import { fixture, fixtureNames } from '../helpers/kakao.ts'

function parsed(body: unknown): SkillPayload {
  const result = parseSkillPayload(body)
  if (!result.ok) throw new Error(`expected the payload to parse, got: ${result.reason}`)
  return result.payload
}

function refusal(body: unknown): string {
  const result = parseSkillPayload(body)
  if (result.ok) throw new Error('expected the payload to be refused')
  return result.reason
}

/** The smallest payload kbot accepts, plus overrides of userRequest. */
const minimal = (userRequest: Record<string, unknown> = {}, rest: Record<string, unknown> = {}) => ({
  userRequest: { utterance: '안녕', user: { id: 'u1' }, ...userRequest },
  ...rest,
})

describe('parseSkillPayload: every real and documented request fixture', () => {
  const names = fixtureNames('req-')

  test('the fixtures are there', () => {
    expect(names.length).toBeGreaterThanOrEqual(8)
  })

  test.each(names)('%s parses', (name) => {
    const raw = fixture(name) as { userRequest: { utterance: string } }
    const payload = parsed(raw)
    expect(payload.userRequest.utterance).toBe(raw.userRequest.utterance)
    expect(payload.userRequest.user.id.length).toBeGreaterThan(0)
  })

  test.each([
    [
      'req-04-real-fallback-with-callbackUrl.json',
      {
        utterance: 'aaa',
        botId: '5ae9b76d7409b11ec845b746',
        plusfriend: 'T8x9DhjAiBrv',
        callbackUrl:
          'https://bot-api.kakao.com/v1/bots/5ae9b76d7409b11ec845b746!/callback/-damddEwVMRHufi6uUr63Ir7veOUGTFaiVhcOWTOhijyBuCT-v4vu6V32YmyF8ZNqI8K7kn_tKY0',
        params: { skillIntentCode: 'testIntent' },
      },
    ],
    [
      'req-10-chat-jeju-callback-cbtoken-accountId.json',
      {
        utterance: 'Can you tell me the Wi-Fi information for Battie?',
        botId: 'your_bot_id',
        plusfriend: null,
        callbackUrl:
          'https://bot-api.kakao.com/v1/bots/6615572a/callback/cbtoken:fea13896e2684a52bdccd324af20b1d1',
        params: {},
      },
    ],
    [
      'req-08-real-2020-sys_number_ordinal.json',
      {
        utterance: '중고 3번',
        botId: '5e0c5cd9b617ea00015aaab8',
        plusfriend: 'ScNvVZVG5XH2',
        callbackUrl: undefined,
        params: { sys_number_ordinal: { amount: 3 } },
      },
    ],
    [
      'req-11-builderbottest-sys_text-detailParams.json',
      {
        utterance: '2021 검색\n',
        botId: 'id',
        plusfriend: null,
        callbackUrl: undefined,
        params: { sys_text: '2021' },
      },
    ],
  ])('%s: the fields kbot reads', (name, want) => {
    const payload = parsed(fixture(name))
    expect(payload.userRequest.utterance).toBe(want.utterance)
    expect(botIdOf(payload)).toBe(want.botId)
    expect(plusfriendUserKeyOf(payload)).toBe(want.plusfriend)
    expect(payload.userRequest.callbackUrl ?? undefined).toBe(want.callbackUrl)
    expect(actionParams(payload)).toEqual(want.params)
  })

  test('req-03: system-entity params given as JSON text are decoded; broken JSON stays text', () => {
    expect(actionParams(parsed(fixture('req-03-doc-copy-knowledge-plus-detailParams.json')))).toEqual({
      sys_date: {
        dateTag: 'Friday',
        dateHeadword: '',
        month: '',
        year: '',
        date: '2018-11-23',
        day: '',
      },
      sys_location: '강남',
      sys_number: '{"amount": 1, "unit": }',
    })
  })
})

describe('parseSkillPayload: lenient where real traffic differs from the docs', () => {
  test.each([
    ['lang null', minimal({ lang: null }), (p: SkillPayload) => p.userRequest.lang, null],
    ['lang "kr"', minimal({ lang: 'kr' }), (p: SkillPayload) => p.userRequest.lang, 'kr'],
    ['timezone null', minimal({ timezone: null }), (p: SkillPayload) => p.userRequest.timezone, null],
    [
      'callbackUrl null',
      minimal({ callbackUrl: null }),
      (p: SkillPayload) => p.userRequest.callbackUrl,
      null,
    ],
    [
      'clientExtra null',
      minimal({}, { action: { clientExtra: null } }),
      (p: SkillPayload) => p.action?.clientExtra,
      null,
    ],
    [
      'clientExtra {}',
      minimal({}, { action: { clientExtra: {} } }),
      (p: SkillPayload) => p.action?.clientExtra,
      {},
    ],
    [
      'clientExtra with values',
      minimal({}, { action: { clientExtra: { menu: 'more', n: 2 } } }),
      (p: SkillPayload) => p.action?.clientExtra,
      { menu: 'more', n: 2 },
    ],
    [
      'numeric user id',
      minimal({ user: { id: 945412 } }),
      (p: SkillPayload) => p.userRequest.user.id,
      '945412',
    ],
    [
      'user id is trimmed',
      minimal({ user: { id: '  u2 ' } }),
      (p: SkillPayload) => p.userRequest.user.id,
      'u2',
    ],
    [
      'user properties null',
      minimal({ user: { id: 'u', properties: null } }),
      (p: SkillPayload) => p.userRequest.user.properties,
      null,
    ],
    ['no intent', minimal(), (p: SkillPayload) => p.intent, undefined],
    ['intent null', minimal({}, { intent: null }), (p: SkillPayload) => p.intent, null],
    ['no action', minimal(), (p: SkillPayload) => p.action, undefined],
    ['no bot', minimal(), (p: SkillPayload) => p.bot, undefined],
    ['numeric bot id', minimal({}, { bot: { id: 12345 } }), (p: SkillPayload) => p.bot?.id, 12345],
    [
      'empty utterance (refused later, not here)',
      minimal({ utterance: '' }),
      (p: SkillPayload) => p.userRequest.utterance,
      '',
    ],
    [
      'extra top-level keys are kept',
      minimal({}, { flow: { lastBlock: { id: 'b' } }, something_new: [1, 2] }),
      (p: SkillPayload) => [(p as Record<string, unknown>).something_new, p.flow],
      [[1, 2], { lastBlock: { id: 'b' } }],
    ],
    [
      'extra userRequest and user keys are kept',
      minimal({ chat_id: 'c1', user: { id: 'u', bot_user_key: 'u', extra: { a: 1 } } }),
      (p: SkillPayload) => [
        (p.userRequest as Record<string, unknown>).chat_id,
        (p.userRequest.user as Record<string, unknown>).bot_user_key,
        (p.userRequest.user as Record<string, unknown>).extra,
      ],
      ['c1', 'u', { a: 1 }],
    ],
  ])('%s', (_, body, read, expected) => {
    expect(read(parsed(body))).toEqual(expected as never)
  })

  test.each([
    ['as JSON text', { sys_number: '{"amount": 3, "unit": "개"}' }],
    ['as an object', { sys_number: { amount: 3, unit: '개' } }],
    ['as JSON text with leading space', { sys_number: '  {"amount": 3, "unit": "개"}' }],
  ])('actionParams decodes a system entity given %s', (_, params) => {
    expect(actionParams(parsed(minimal({}, { action: { params } })))).toEqual({
      sys_number: { amount: 3, unit: '개' },
    })
  })

  test('actionParams keeps plain text and arrays given as text, and is {} without action', () => {
    const payload = parsed(
      minimal({}, { action: { params: { city: '서울', list: '[1, 2]', note: '{not json' } } }),
    )
    expect(actionParams(payload)).toEqual({ city: '서울', list: [1, 2], note: '{not json' })
    expect(actionParams(parsed(minimal()))).toEqual({})
    expect(actionParams(parsed(minimal({}, { action: { params: null } })))).toEqual({})
  })
})

describe('parseSkillPayload: refusals say why', () => {
  test.each([
    ['no userRequest', { bot: { id: 'x' } }, 'userRequest is missing'],
    ['userRequest null', { userRequest: null }, 'userRequest: userRequest must be an object'],
    ['utterance missing', { userRequest: { user: { id: 'u' } } }, 'userRequest.utterance is missing'],
    [
      'utterance a number',
      { userRequest: { utterance: 3, user: { id: 'u' } } },
      'userRequest.utterance: userRequest.utterance must be a string',
    ],
    ['user missing', { userRequest: { utterance: 'hi' } }, 'userRequest.user is missing'],
    ['user.id missing', { userRequest: { utterance: 'hi', user: {} } }, 'userRequest.user.id is missing'],
    [
      'user.id empty',
      { userRequest: { utterance: 'hi', user: { id: '' } } },
      'userRequest.user.id: userRequest.user.id is empty',
    ],
    [
      'user.id blank',
      { userRequest: { utterance: 'hi', user: { id: '   ' } } },
      'userRequest.user.id: userRequest.user.id is empty',
    ],
    [
      'user.id an object',
      { userRequest: { utterance: 'hi', user: { id: { a: 1 } } } },
      'userRequest.user.id: userRequest.user.id must be a string',
    ],
    ['body an array', [], 'userRequest is missing'],
    ['body a string', 'userRequest', 'Invalid type: Expected Object but received "userRequest"'],
    ['body null', null, 'Invalid type: Expected Object but received null'],
  ])('%s', (_, body, reason) => {
    expect(refusal(body)).toBe(reason)
  })
})

describe('payload helpers', () => {
  test.each([
    ['5ae9b76d7409b11ec845b746!', '5ae9b76d7409b11ec845b746'],
    ['5ae9b76d7409b11ec845b746', '5ae9b76d7409b11ec845b746'],
    ['abc!!', 'abc'],
    ['a!b', 'a!b'],
    [12345, '12345'],
    [null, ''],
    [undefined, ''],
  ])('botIdOf(%p) → %p', (id, expected) => {
    const body = id === undefined ? minimal({}, { bot: {} }) : minimal({}, { bot: { id } })
    expect(botIdOf(parsed(body))).toBe(expected)
  })

  test('botIdOf without bot is ""', () => {
    expect(botIdOf(parsed(minimal()))).toBe('')
  })

  test.each([
    ['camelCase', { plusfriendUserKey: 'K1' }, 'K1'],
    ['snake_case', { plusfriend_user_key: 'K2' }, 'K2'],
    ['both (camelCase wins)', { plusfriendUserKey: 'K1', plusfriend_user_key: 'K2' }, 'K1'],
    ['empty', { plusfriendUserKey: '' }, null],
    ['not text', { plusfriendUserKey: 42 }, null],
    ['absent', { appUserId: 'x' }, null],
    ['properties null', null, null],
  ])('plusfriendUserKeyOf: %s', (_, properties, expected) => {
    expect(plusfriendUserKeyOf(parsed(minimal({ user: { id: 'u', properties } })))).toBe(expected)
  })
})

describe('validateSkillResponse', () => {
  const withTemplate = fixtureNames('resp-').filter((n) => 'template' in fixture(n))

  test('the response fixtures with a template are there', () => {
    expect(withTemplate.length).toBeGreaterThanOrEqual(9)
  })

  test.each(withTemplate)('%s is valid', (name) => {
    expect(validateSkillResponse(fixture(name))).toEqual([])
  })

  test('resp-10, the useCallback ack without template, is valid', () => {
    expect(validateSkillResponse(fixture('resp-10-docs-callback-ack-useCallback-data-text.json'))).toEqual([])
  })

  test('a context-only response (resp-09) lacks the template a skill-data block needs', () => {
    expect(validateSkillResponse(fixture('resp-09-docs-context-control.json'))).toEqual([
      'template is required',
    ])
  })

  test('the builders produce valid responses', () => {
    expect(validateSkillResponse(ackResponse('잠시만요'))).toEqual([])
    expect(validateSkillResponse(textResponse(['하나', '둘', '셋'], [quickReply('자세히')]))).toEqual([])
    expect(validateSkillResponse(textResponse('x'.repeat(LIMITS.simpleText)))).toEqual([])
  })

  const simple = (text: string) => ({ simpleText: { text } })
  const reply = (label: string, action = 'message') => ({ label, action, messageText: label })
  const response = (template: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    version: '2.0',
    template,
    ...extra,
  })

  test.each([
    ['not an object', 'hello', ['not a JSON object']],
    ['null', null, ['not a JSON object']],
    ['missing version', { template: { outputs: [simple('a')] } }, ['version must be "2.0"']],
    ['version 1.0', response({ outputs: [simple('a')] }, { version: '1.0' }), ['version must be "2.0"']],
    ['no template, no useCallback', { version: '2.0' }, ['template is required']],
    ['useCallback false without template', { version: '2.0', useCallback: false }, ['template is required']],
    ['0 outputs', response({ outputs: [] }), ['template.outputs must hold 1–3 components']],
    ['outputs missing', response({}), ['template.outputs must hold 1–3 components']],
    [
      '4 outputs',
      response({ outputs: [simple('1'), simple('2'), simple('3'), simple('4')] }),
      ['template.outputs must hold 1–3 components'],
    ],
    [
      'a 1001-character simpleText',
      response({ outputs: [simple('a'), simple('가'.repeat(1001))] }),
      ['outputs[1].simpleText.text exceeds 1000 characters'],
    ],
    ['an empty simpleText', response({ outputs: [simple('')] }), ['outputs[0].simpleText.text is empty']],
    [
      '11 quick replies',
      response({ outputs: [simple('a')], quickReplies: Array.from({ length: 11 }, (_, i) => reply(`${i}`)) }),
      ['quickReplies must hold at most 10'],
    ],
    [
      'a 15-character label',
      response({ outputs: [simple('a')], quickReplies: [reply('가'.repeat(14)), reply('가'.repeat(15))] }),
      ['quickReplies[1].label must be 1–14 characters'],
    ],
    [
      'an empty label',
      response({ outputs: [simple('a')], quickReplies: [reply('')] }),
      ['quickReplies[0].label must be 1–14 characters'],
    ],
    [
      'a bad action',
      response({ outputs: [simple('a')], quickReplies: [reply('ok'), reply('웹', 'webLink')] }),
      ['quickReplies[1].action must be message or block'],
    ],
    [
      'several problems at once',
      {
        version: '2',
        template: { outputs: [simple('x'.repeat(1001))], quickReplies: [reply('x'.repeat(15), 'phone')] },
      },
      [
        'version must be "2.0"',
        'outputs[0].simpleText.text exceeds 1000 characters',
        'quickReplies[0].label must be 1–14 characters',
        'quickReplies[0].action must be message or block',
      ],
    ],
  ])('%s', (_, body, problems) => {
    expect(validateSkillResponse(body)).toEqual(problems)
  })

  test('exactly at the limits is valid: 3 outputs, 1000 characters, 10 quick replies, 14-character labels', () => {
    const body = response({
      outputs: [simple('a'), simple('b'), simple('x'.repeat(1000))],
      quickReplies: Array.from({ length: 10 }, () => reply('가'.repeat(14), 'block')),
    })
    expect(validateSkillResponse(body)).toEqual([])
  })
})
