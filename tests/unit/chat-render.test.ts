import { describe, expect, test } from 'bun:test'
import { buildSkillPayload } from '../../src/chat/payload.ts'
import { formatReply, replyJson, replyOf } from '../../src/chat/render.ts'
import { parseSkillPayload } from '../../src/kakao/payload.ts'
import { checkReply, quickReply, textResponse } from '../../src/kakao/response.ts'

describe('kbot chat rendering', () => {
  test('bubbles as 봇> lines (further lines indented, blank lines kept bare), quick replies numbered', () => {
    const reply = replyOf(
      textResponse(
        ['첫 줄\n\n둘째 줄', '두 번째 말풍선'],
        [checkReply('답변 확인', 't-1'), quickReply('자세히')],
      ),
      'callback',
    )
    expect(formatReply(reply)).toBe(
      ['봇> 첫 줄', '', '    둘째 줄', '봇> 두 번째 말풍선', '[1] 답변 확인  [2] 자세히'].join('\n'),
    )
    expect(reply.quickReplies[0]!.extra).toEqual({ kbot_task: 't-1' })
  })

  test('outputs other than simpleText get a short stand-in; a missed callback says so', () => {
    const reply = replyOf(
      {
        version: '2.0',
        template: {
          outputs: [
            { simpleImage: { imageUrl: 'https://x/y.png', altText: '고양이' } },
            { basicCard: { title: '제목', description: '설명' } },
          ],
        },
      },
      'inline',
    )
    expect(reply.texts).toEqual(['[이미지] 고양이', '[basicCard] 제목 — 설명'])
    expect(formatReply(replyOf(null, 'timeout'))).toBe('(no answer arrived through the callback in time)')
  })

  test('--json lines carry via, texts, quick reply labels and the raw response', () => {
    const response = textResponse('안녕', [quickReply('자세히')])
    const line = JSON.parse(replyJson({ ...replyOf(response, 'callback'), waiting: '잠시만요' }))
    expect(line).toEqual({
      via: 'callback',
      waiting: '잠시만요',
      texts: ['안녕'],
      quickReplies: ['자세히'],
      response,
    })
  })

  test('payloads parse as Kakao SkillPayloads, with the callbackUrl only when given', () => {
    const id = { botId: 'bot!', userId: 'u-1' }
    const withCallback = buildSkillPayload(id, '질문', {
      callbackUrl: 'http://127.0.0.1:1/v1/bots/b/callback/t',
    })
    const parsed = parseSkillPayload(withCallback)
    expect(parsed.ok).toBe(true)
    expect(withCallback.userRequest).toMatchObject({
      utterance: '질문',
      callbackUrl: 'http://127.0.0.1:1/v1/bots/b/callback/t',
      user: { id: 'u-1', type: 'botUserKey', properties: { botUserKey: 'u-1' } },
    })
    const inline = buildSkillPayload(id, '1', { clientExtra: { kbot_task: 'x' } })
    expect('callbackUrl' in inline.userRequest).toBe(false)
    expect(inline.action.clientExtra).toEqual({ kbot_task: 'x' })
  })
})
