import { describe, expect, test } from 'bun:test'
import { explainName, parseNameIntent, splitName, validateName } from '../../src/names/extract.ts'
import { nameVars, type ParticlePair, particle } from '../../src/names/josa.ts'
import { DEFAULT_MESSAGES, fill } from '../../src/texts.ts'

const W = true // awaiting a name
const _ = false // an ordinary turn

/** [utterance, awaiting, name, explicit, pattern, rest] */
const INTRODUCTIONS: [string, boolean, string, boolean, string, string][] = [
  // SPEC §7, verbatim
  ['내 이름은 민수야', _, '민수', true, 'my-name-is', ''],
  ['난 영희야', _, '영희', false, 'i-am', ''],
  ['저는 철수라고 해요', _, '철수', false, 'called', ''],
  ['제 이름은 김철수입니다', _, '김철수', true, 'my-name-is', ''],
  ['길동이라고 불러줘', _, '길동', true, 'call-me', ''],
  ['전지현이야', W, '전지현', false, 'bare-while-waiting', ''],
  ['나연이야', W, '나연', false, 'bare-while-waiting', ''],
  ['내 이름은 Yeonwoo야', _, 'Yeonwoo', true, 'my-name-is', ''],
  // explicit, 반말 and 존댓말, with and without spaces
  ['제 이름은 민수예요', _, '민수', true, 'my-name-is', ''],
  ['제 이름은 길동이에요', _, '길동', true, 'my-name-is', ''],
  ['내 이름은 길동이야', _, '길동', true, 'my-name-is', ''],
  ['내이름은민수야', _, '민수', true, 'my-name-is', ''],
  ['내 이름 민수야', _, '민수', true, 'my-name-is', ''],
  ['제 이름은요, 김철수예요', _, '김철수', true, 'my-name-is', ''],
  ['이름은 민수입니다', _, '민수', true, 'my-name-is', ''],
  ['제 이름은 민수라고 해요', _, '민수', true, 'my-name-is', ''],
  ['저의 이름은 박서준입니다.', _, '박서준', true, 'my-name-is', ''],
  ['민수가 제 이름이에요', _, '민수', true, 'name-is-mine', ''],
  ['길동이 내 이름이야', _, '길동', true, 'name-is-mine', ''],
  ['민수라고 불러 주세요', _, '민수', true, 'call-me', ''],
  ['앞으로 길동으로 불러 주세요', _, '길동', true, 'call-me', ''],
  ['날 한결로 불러줘', _, '한결', true, 'call-me', ''],
  ['그냥 민수라고 불러', _, '민수', true, 'call-me', ''],
  ['길동이라고불러줘', _, '길동', true, 'call-me', ''],
  ['민수라고 불러줄래?', _, '민수', true, 'call-me', ''],
  ['이름을 민수로 바꿔줘', _, '민수', true, 'change-to', ''],
  ['이름 길동으로 변경해 주세요', _, '길동', true, 'change-to', ''],
  ['my name is John', _, 'John', true, 'my-name-is', ''],
  ['Call me Mike!', _, 'Mike', true, 'call-me', ''],
  // implicit
  ['저는 김철수입니다', _, '김철수', false, 'i-am', ''],
  ['나는 민수', _, '민수', false, 'i-am', ''],
  ['저 민수예요', _, '민수', false, 'i-am', ''],
  ['전 지현이에요', _, '지현', false, 'i-am', ''],
  ['나는민수야', _, '민수', false, 'i-am', ''],
  ['민수라고 합니다', _, '민수', false, 'called', ''],
  ['저는철수라고해요', _, '철수', false, 'called', ''],
  ['저는 서하라고 해요', _, '서하', false, 'called', ''],
  // while waiting: the reply is the name
  ['나연', W, '나연', false, 'bare-while-waiting', ''],
  ['민수입니다', W, '민수', false, 'bare-while-waiting', ''],
  ['Yeonwoo', W, 'Yeonwoo', false, 'bare-while-waiting', ''],
  ['길동이요', W, '길동', false, 'bare-while-waiting', ''],
  ['민수예요.', W, '민수', false, 'bare-while-waiting', ''],
  ['네, 민수예요', W, '민수', false, 'bare-while-waiting', ''],
  ['안녕하세요, 홍길동입니다', W, '홍길동', false, 'bare-while-waiting', ''],
  ['길동이', W, '길동이', false, 'bare-while-waiting', ''],
  ['민지야', W, '민지', false, 'bare-while-waiting', ''],
  ['R2-D2', W, 'R2-D2', false, 'bare-while-waiting', ''],
  ['내 이름은 나연이야', W, '나연', true, 'my-name-is', ''],
  ['저 민수인데요', _, '민수', false, 'i-am', ''],
  ['난 서아야', _, '서아', false, 'i-am', ''], // 서아, 은아, 정아: 아 after a name syllable is not 괜찮아
  ['나 은아야', _, '은아', false, 'i-am', ''],
  ['난 지해야', _, '지해', false, 'i-am', ''],
  ['난 스텔라야', _, '스텔라', false, 'i-am', ''],
  ['민수라고 불러도 돼?', _, '민수', true, 'call-me', ''],
  // with a question or more: the rest goes on to the model
  ['내 이름은 민수야, 오늘 날씨 어때?', _, '민수', true, 'my-name-is', '오늘 날씨 어때?'],
  ['내 이름은 민수야 오늘 날씨 어때', _, '민수', true, 'my-name-is', '오늘 날씨 어때'],
  ['나는 민수야 너는 누구니', _, '민수', false, 'i-am', '너는 누구니'],
  ['길동이라고 불러줘. 그리고 점심 추천해 줘', _, '길동', true, 'call-me', '그리고 점심 추천해 줘'],
  ['내 이름은 민수고 스무살이야', _, '민수', true, 'my-name-is', '스무살이야'],
  ['민수. 오늘 날씨 어때?', W, '민수', false, 'bare-while-waiting', '오늘 날씨 어때?'],
  // greetings around an introduction are not a question
  ['안녕! 내 이름은 민수야', _, '민수', true, 'my-name-is', ''],
  ['안녕 난 영희야, 반가워', _, '영희', false, 'i-am', ''],
  ['처음 뵙겠습니다. 제 이름은 김철수입니다. 잘 부탁드립니다!', _, '김철수', true, 'my-name-is', ''],
  // edge cases: emoji, punctuation, quotes, laughter, mixed scripts
  ['내 이름은 민수야 😊', _, '민수', true, 'my-name-is', ''],
  ['난 영희야!!!', _, '영희', false, 'i-am', ''],
  ['민수야~~', W, '민수', false, 'bare-while-waiting', ''],
  ['민수야ㅋㅋ', W, '민수', false, 'bare-while-waiting', ''],
  ['내 이름은 "민수"야', _, '민수', true, 'my-name-is', ''],
  ["제 이름은 '길동'이에요", _, '길동', true, 'my-name-is', ''],
  ['“나연”이라고 불러줘', _, '나연', true, 'call-me', ''],
  ['내 이름은 Kim민수야', _, 'Kim민수', true, 'my-name-is', ''],
  ['John이라고 불러줘', _, 'John', true, 'call-me', ''],
  ['Anna라고 불러줘', _, 'Anna', true, 'call-me', ''],
  ['민수2라고 불러줘', _, '민수2', true, 'call-me', ''],
  ['내 이름은 이·수민이야', _, '이·수민', true, 'my-name-is', ''],
  // two words are kept together so that validation can say spaces are not allowed
  ['제 이름은 John Smith입니다', _, 'John Smith', true, 'my-name-is', ''],
  ['제 이름은 김 철수예요', _, '김 철수', true, 'my-name-is', ''],
  [
    '내 이름은 가나다라마바사아자차카타파하가나다라마바사야',
    _,
    '가나다라마바사아자차카타파하가나다라마바사',
    true,
    'my-name-is',
    '',
  ],
]

describe('introductions', () => {
  test.each(INTRODUCTIONS)('%p (awaiting %p) → %p', (text, awaiting, name, explicit, pattern, rest) => {
    expect(parseNameIntent(text, { awaiting })).toEqual({ kind: 'introduce', name, explicit, rest, pattern })
  })
})

/** Self-descriptions, questions about names and other people's names: no name. */
const NOT_INTRODUCTIONS: [string, boolean][] = [
  ['난 학생이야', _],
  ['나는 배고파', _],
  ['저는 괜찮아요', _],
  ['난 스무살이야', _],
  ['난 20살이야', _],
  ['저는 서른 살이에요', _],
  ['나는 20이야', _],
  ['난 고3이야', _],
  ['저는 회사원입니다', _],
  ['저는 선생님이에요', _],
  ['나 피곤해', _],
  ['난 행복해', _],
  ['나 너무 슬퍼', _],
  ['나는 우울해', _],
  ['나 아파', _],
  ['저 배고파요', _],
  ['난 괜찮아', _],
  ['나 간다', _],
  ['난 좋아', _],
  ['난 심심해', _],
  ['저는 피곤합니다', _],
  ['나 왔어', _],
  ['난 한국인이야', _],
  ['난 엄마야', _],
  ['나 남자야', _],
  ['난 ENFP야', _],
  ['난 AB형이야', _],
  ['나 집이야', _],
  ['저 회사예요', _],
  ['난 용띠야', _],
  ['전지현이야', _], // bare names only count while waiting
  ['민수', _],
  ['내 이름이 뭐야?', _],
  ['내 이름은 뭐였지', _],
  ['내 이름 알아?', _],
  ['내 이름은 민수야?', _],
  ['친구 이름은 민수야', _],
  ['친구를 민수라고 불러', _],
  ['노래 불러줘', _],
  ['엄마가 공부하라고 해', _],
  ['먹으라고 해요', _],
  ['나는 오늘 학교에 갔어', _],
  ['나 생일이야', _],
  ['나 운전중', _],
  ['저는 외향적이에요', _],
  ['저는 채식주의자예요', _],
  ['나 스물다섯', _],
  ['나 키 180이야', _],
  ['난 괜찮은데', _],
  ['이름 바꾸지 마', _],
  ['강아지 이름은 초코야', _],
  ['취소', _], // cancel only means something while waiting
  ['', _],
  ['😊😊', _],
  // while waiting: not a name, so the plugin asks again
  ['난 학생이야', W],
  ['배고파', W],
  ['오늘 날씨 어때?', W],
  ['뭐라고?', W],
  ['ㅋㅋㅋ', W],
  ['저는 서울에 살아요', W], // a sentence, not a name
  ['나도', W],
]

describe('not introductions', () => {
  test.each(NOT_INTRODUCTIONS)('%p (awaiting %p) → none', (text, awaiting) => {
    expect(parseNameIntent(text, { awaiting })).toEqual({ kind: 'none' })
  })
})

const COMMANDS: [string, boolean, ReturnType<typeof parseNameIntent>][] = [
  ['/이름', _, { kind: 'ask' }],
  ['/이름 ', _, { kind: 'ask' }],
  ['/이름 홍길동', _, { kind: 'set', name: '홍길동' }],
  ['/이름 "홍길동"', _, { kind: 'set', name: '홍길동' }],
  ['/이름 홍길동이야', _, { kind: 'set', name: '홍길동이야' }], // a command is literal
  ['/이름 홍 길동', _, { kind: 'set', name: '홍 길동' }],
  ['/name Yeonwoo', _, { kind: 'set', name: 'Yeonwoo' }],
  ['다른 이름', _, { kind: 'ask' }],
  ['다른 이름으로 불러줘', _, { kind: 'ask' }],
  ['이름 바꿔', _, { kind: 'ask' }],
  ['이름 변경', _, { kind: 'ask' }],
  ['이름 바꾸고 싶어', _, { kind: 'ask' }],
  ['이름 좀 바꿔줘', _, { kind: 'ask' }],
  ['이름을 바꾸고 싶어요!', _, { kind: 'ask' }],
  ['내 이름 바꿀래', _, { kind: 'ask' }],
  ['이름 변경해 주세요', _, { kind: 'ask' }],
  ['이름 바꿀 수 있어?', _, { kind: 'ask' }],
  ['호칭 바꿔줘', _, { kind: 'ask' }],
  ['이름 다시 알려줄게', _, { kind: 'ask' }],
  ['이름 바꿔', W, { kind: 'ask' }],
  ['파일 이름 변경하는 법 알려줘', _, { kind: 'none' }],
  ['취소', W, { kind: 'cancel' }],
  ['취소!', W, { kind: 'cancel' }],
  ['그만', W, { kind: 'cancel' }],
  ['그만할래', W, { kind: 'cancel' }],
  ['됐어', W, { kind: 'cancel' }],
  ['됐어요', W, { kind: 'cancel' }],
  ['괜찮아요', W, { kind: 'cancel' }],
  ['나중에', W, { kind: 'cancel' }],
  ['/취소', W, { kind: 'cancel' }],
]

describe('commands', () => {
  test.each(COMMANDS)('%p (awaiting %p)', (text, awaiting, intent) => {
    expect(parseNameIntent(text, { awaiting })).toEqual(intent)
  })
})

describe('splitName: the batchim decides whether 이 belongs to the name', () => {
  test.each([
    ['전지현이야', '전지현'],
    ['나연이야', '나연'],
    ['민수야', '민수'],
    ['영희야', '영희'],
    ['민수이야', '민수이'], // 수 has no batchim, so 이 is part of the name
    ['길동이에요', '길동'],
    ['민수예요', '민수'],
    ['Yeonwoo야', 'Yeonwoo'],
    ['John이야', 'John'],
  ])('%p → %p', (word, name) => {
    expect(splitName(word, ['copula']).name).toBe(name)
  })

  test.each([
    ['길동이라고', '길동'],
    ['민수라고', '민수'],
    ['영이라고', '영'], // 영이 and 영 + 이라고 are written alike; the rule picks 영
    ['길동으로', '길동'],
    ['한결로', '한결'], // ㄹ takes 로, not 으로
    ['민수로', '민수'],
  ])('%p → %p', (word, name) => {
    expect(splitName(word, ['quote', 'dir']).name).toBe(name)
  })
})

describe('validateName', () => {
  test.each([
    '민수',
    '김철수',
    'Yeonwoo',
    'Kim민수',
    '민수2',
    'R2-D2',
    '이·수민',
    'snake_case',
    'Zoë',
    '1004',
    '가'.repeat(20),
  ])('%p is valid', (name) => {
    expect(validateName(name)).toEqual({ valid: true, reason: null })
  })

  test.each([
    ['', '비어'],
    ['   ', '비어'],
    ['가'.repeat(21), '21자'],
    ['abcdefghijklmnopqrstu', '21자'],
    ['홍 길동', '띄어쓰기'],
    ['ㅋㅋ', '자음이나 모음'],
    ['민수!', '쓸 수 없는 문자(!)'],
    ['민수😊', '쓸 수 없는 문자'],
    ['みんす', '쓸 수 없는 문자'],
    ['---', '기호만'],
  ])('%p is refused with a reason that states the rule', (name, problem) => {
    const { valid, reason } = validateName(name)
    expect(valid).toBe(false)
    expect(reason).toContain(problem)
    expect(reason).toContain('20자 이내의 한글, 영문, 숫자와 기호(·, -, _)')
  })
})

describe('particle', () => {
  const cases: [string, ParticlePair, string][] = [
    ['민수', '아/야', '민수야'],
    ['길동', '아/야', '길동아'],
    ['민수', '은/는', '민수는'],
    ['길동', '은/는', '길동은'],
    ['민수', '이/가', '민수가'],
    ['길동', '이/가', '길동이'],
    ['민수', '을/를', '민수를'],
    ['길동', '을/를', '길동을'],
    ['민수', '이에요/예요', '민수예요'],
    ['길동', '이에요/예요', '길동이에요'],
    ['길동', '이라고/라고', '길동이라고'],
    ['민수', '이라고/라고', '민수라고'],
    ['한결', '으로/로', '한결로'],
    ['길동', '으로/로', '길동으로'],
    ['민수', '와/과', '민수와'],
    ['길동', '이랑/랑', '길동이랑'],
    // Latin names by their Korean reading
    ['John', '이/가', 'John이'], // 존
    ['Mike', '이/가', 'Mike가'], // 마이크
    ['Yeonwoo', '이/가', 'Yeonwoo가'], // 연우
    ['Anna', '이/가', 'Anna가'], // 애나
    ['Bob', '이/가', 'Bob이'], // 밥
    ['Kim', '이/가', 'Kim이'], // 킴
    ['James', '이/가', 'James가'], // 제임스
    ['Peter', '은/는', 'Peter는'], // 피터
    ['Young', '아/야', 'Young아'], // 영
    ['Jack', '을/를', 'Jack을'], // 잭
    ['Paul', '으로/로', 'Paul로'], // 폴: ㄹ takes 로
    ['Mark', '이/가', 'Mark가'], // 마크
    ['Anne', '이에요/예요', 'Anne이에요'], // 앤
    ['Seok', '이/가', 'Seok이'], // 석
    ['BTS', '이/가', 'BTS가'], // 비티에스
    // digits by their Sino-Korean reading
    ['민수1', '이/가', '민수1이'], // 일
    ['민수2', '이/가', '민수2가'], // 이
    ['민수3', '아/야', '민수3아'], // 삼
    ['민수4', '을/를', '민수4를'], // 사
    ['민수6', '은/는', '민수6은'], // 육
    ['민수7', '으로/로', '민수7로'], // 칠: ㄹ
    ['민수3', '으로/로', '민수3으로'], // 삼
    ['민수9', '이에요/예요', '민수9예요'], // 구
    ['민수10', '이/가', '민수10이'], // 십
    ['1004', '이/가', '1004가'], // 천사
    ['민수0', '이/가', '민수0이'], // 영
    ['민수0', '으로/로', '민수0으로'], // 영: not ㄹ
    ['민수5', '이/가', '민수5가'], // 오
    ['민수5', '으로/로', '민수5로'], // 오
    ['민수8', '이/가', '민수8이'], // 팔
    ['민수8', '으로/로', '민수8로'], // 팔: ㄹ
    ['민수50', '이/가', '민수50이'], // 오십
    ['민수100', '이/가', '민수100이'], // 백
    ['민수100', '으로/로', '민수100으로'], // 백
    ['민수1000', '이/가', '민수1000이'], // 천
    ['민수1000', '으로/로', '민수1000으로'], // 천
    ['민수10000', '이/가', '민수10000이'], // 만
    ['민수10000', '으로/로', '민수10000으로'], // 만
    ['민수100000', '이/가', '민수100000이'], // 십만
    ['민수100000000', '이/가', '민수100000000이'], // 억
    ['민수1000000000000', '이/가', '민수1000000000000가'], // 조
    ['민수10000000000000000', '이/가', '민수10000000000000000이'], // 경
    ['R2-D2', '이/가', 'R2-D2가'],
    ['민수_', '이/가', '민수_가'], // symbols are not read aloud
    ['Kim민수', '아/야', 'Kim민수야'],
    ['', '이/가', ''],
  ]
  test.each(cases)('%p + %p → %p', (word, pair, expected) => {
    expect(particle(word, pair)).toBe(expected)
  })

  test('nameVars gives every form, and empty strings without a name', () => {
    expect(nameVars('길동')).toEqual({
      user_name: '길동',
      user_name_vocative: '길동아',
      user_name_topic: '길동은',
      user_name_subject: '길동이',
      user_name_object: '길동을',
      user_name_copula: '길동이에요',
    })
    expect(nameVars('민수').user_name_vocative).toBe('민수야')
    expect(Object.values(nameVars(null))).toEqual(['', '', '', '', '', ''])
  })
})

describe('fill with particles', () => {
  test('a pair or either form of it picks the particle by the name', () => {
    expect(fill('{{name|아/야}}, 안녕!', { name: '길동' })).toBe('길동아, 안녕!')
    expect(fill('{{name|이라고}} 불러 드릴게요', { name: '민수' })).toBe('민수라고 불러 드릴게요')
    expect(fill('{{ name | 가 }} 왔어요', { name: 'John' })).toBe('John이 왔어요')
  })

  test('unknown keys and unknown particles stay visible', () => {
    expect(fill('{{nmae|이/가}} {{name|에게}}', { name: '민수' })).toBe('{{nmae|이/가}} {{name|에게}}')
    expect(fill('{{max}}자', { max: 1000 })).toBe('1000자')
  })

  test('the default name messages read naturally', () => {
    expect(fill(DEFAULT_MESSAGES.name_set, { name: '길동' })).toBe(
      '반가워요! 앞으로 길동이라고 불러 드릴게요.',
    )
    expect(fill(DEFAULT_MESSAGES.name_changed, { name: '민수', old: '길동' })).toBe(
      '알겠어요! 이제부터 길동이 아니라 민수라고 불러 드릴게요.',
    )
    for (const [key, text] of Object.entries(DEFAULT_MESSAGES).filter(([k]) => k.startsWith('name_'))) {
      expect({ key, left: fill(text, { name: '민수', old: '길동', reason: '!' }) }).not.toMatchObject({
        left: expect.stringContaining('{{'),
      })
    }
  })
})

describe('explainName', () => {
  test('an introduction: the name, its validity and the rule that matched', () => {
    expect(explainName('내 이름은 민수야')).toEqual({
      name: '민수',
      valid: true,
      reason: null,
      pattern: 'my-name-is',
    })
  })

  test('a bare name is explained as if the bot were waiting for one', () => {
    expect(explainName('전지현이야')).toEqual({
      name: '전지현',
      valid: true,
      reason: null,
      pattern: 'bare-while-waiting',
    })
  })

  test('an invalid name comes with the rule', () => {
    const r = explainName('제 이름은 John Smith입니다')
    expect(r).toMatchObject({ name: 'John Smith', valid: false, pattern: 'my-name-is' })
    expect(r.reason).toContain('띄어쓰기')
  })

  test('a refused candidate says why, and the fallback does not override it', () => {
    const r = explainName('난 학생이야')
    expect(r).toMatchObject({ name: null, valid: false, pattern: 'i-am' })
    expect(r.reason).toStartWith('학생은 이름으로 보지 않았어요')
  })

  test('a command', () => {
    expect(explainName('/이름 홍길동')).toEqual({
      name: '홍길동',
      valid: true,
      reason: null,
      pattern: 'command',
    })
  })
})

test('fill leaves built-in object members alone, so a typo stays visible', () => {
  expect(fill('{{constructor}} {{toString|이/가}} {{name}}', { name: '민수' })).toBe(
    '{{constructor}} {{toString|이/가}} 민수',
  )
})
