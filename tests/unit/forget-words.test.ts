import { describe, expect, test } from 'bun:test'
import { confirmationOf, isForgetRequest } from '../../src/memory/forget-words.ts'

const labels = { confirm: '삭제할게요', cancel: '취소' }

describe('forget-me: what counts as a request', () => {
  test.each([
    '대화 기록 삭제',
    '대화기록 삭제해 주세요',
    '내 기록 지워줘',
    '대화 내용 다 지워 주세요',
    '제 대화 기록 전부 삭제해주세요!',
    '상담 내역 삭제 부탁드립니다',
    '내 정보 삭제해줘',
    '채팅 기록 초기화',
    '나를 잊어 줘',
    '/삭제',
    'forget me',
  ])('%s', (text) => expect(isForgetRequest(text)).toBe(true))

  test.each([
    '대화 기록 삭제는 어떻게 해요?',
    '기록을 삭제하면 복구할 수 있나요',
    '어제 대화 기록 보여줘',
    '삭제',
    '이름 바꿔',
    '사진 삭제하는 법 알려줘',
    '',
  ])('not: %s', (text) => expect(isForgetRequest(text)).toBe(false))
})

describe('forget-me: answers to the confirmation', () => {
  test.each(['삭제할게요', '네', '지워 주세요', '삭제해 주세요', '확인'])('yes: %s', (text) =>
    expect(confirmationOf(text, labels)).toBe('yes'),
  )
  test.each(['취소', '아니요', '삭제하지 마세요', '그만'])('no: %s', (text) =>
    expect(confirmationOf(text, labels)).toBe('no'),
  )
  test.each(['오늘 날씨 어때?', '민수야'])('neither: %s', (text) =>
    expect(confirmationOf(text, labels)).toBe(null),
  )
  test('an operator label is understood too', () =>
    expect(confirmationOf('모두 지우기', { confirm: '모두 지우기', cancel: '그대로 둘게요' })).toBe('yes'))
})
