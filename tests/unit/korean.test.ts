import { describe, expect, test } from 'bun:test'
import { compactClauses, stripDecorations } from '../../src/korean/normalise.ts'
import { isInterjection, isPredicate, isReuIrregular } from '../../src/korean/predicate.ts'
import { explainName, parseNameIntent } from '../../src/names/extract.ts'

describe('르-irregular predicates', () => {
  test.each([
    '몰라',
    '달라',
    '빨라',
    '불러',
    '골라',
    '잘라',
    '흘러',
    '눌러',
    '길러',
    '배불러',
    '서툴러',
    '게을러',
    '달라요',
    '몰라요',
    '목말라',
    '올라',
  ])('%s is a predicate', (w) => {
    expect(isReuIrregular(w)).toBe(true)
    expect(isPredicate(w)).toBe(true)
  })
  // Foreign names end in ㄹ + 라 too; the stem list and vowel harmony keep them apart.
  test.each(['벨라', '스텔라', '카밀라', '엘라', '이사벨라', '폴라', '소라', '보라', '한라'])(
    '%s is not a predicate',
    (w) => {
      expect(isReuIrregular(w)).toBe(false)
      expect(isPredicate(w)).toBe(false)
    },
  )
})

describe('interjections and fillers', () => {
  test.each([
    '어',
    '응',
    '음',
    '음...',
    '흠',
    '헐',
    '엥',
    '아하',
    '에이',
    '으음',
    '흐으음',
    '웅',
    '엉',
    '그게',
    '우와',
    '헉',
    '허걱',
    '음음음',
    '헐헐',
    '아이고아이고',
  ])('%s is an interjection', (w) => expect(isInterjection(w)).toBe(true))
  test.each(['민수', '하나', '은', '별', '오리', '우주', '나연'])('%s is not', (w) =>
    expect(isInterjection(w)).toBe(false),
  )
})

describe('names: the two kinds that used to become names', () => {
  test.each(['흠', '헐', '엥', '아하', '에이', '웅', '엉', '그게', '우와', '헉', '음...', '흐음'])(
    'a bare %s while waiting is not a name',
    (w) => {
      expect(parseNameIntent(w, { awaiting: true })).toEqual({ kind: 'none' })
      expect(explainName(w).name).toBeNull()
    },
  )
  test.each(['난 빨라', '난 달라', '저는 달라요', '나 배불러', '난 게을러', '난 서툴러'])(
    '%s sets no name',
    (w) => {
      expect(parseNameIntent(w, { awaiting: false })).toEqual({ kind: 'none' })
      expect(explainName(w).reason).toContain('서술어')
    },
  )
  test.each([
    ['달라', true],
    ['골라', true],
    ['불러', true],
  ] as const)('%s while waiting is not a name', (w, awaiting) => {
    expect(parseNameIntent(w, { awaiting })).toEqual({ kind: 'none' })
  })
  test.each(['벨라', '스텔라', '카밀라', '엘라'])('%s while waiting still is', (w) => {
    expect(parseNameIntent(w, { awaiting: true })).toMatchObject({ kind: 'introduce', name: w })
  })
})

describe('normalisation', () => {
  test('emoji, jamo runs and emoticons go', () => {
    expect(stripDecorations('죽고싶어ㅠㅠ😭 ^^')).toBe('죽고싶어')
  })
  test('spacing, repeats and punctuation disappear; clauses stay apart', () => {
    expect(compactClauses('죽 고 싶 어 어 어!! 근데 괜찮아')).toEqual(['죽고싶어', '근데괜찮아'])
    expect(compactClauses('주…  죽고싶어어어어 🥲')).toEqual(['주', '죽고싶어'])
    expect(compactClauses('죽고.싶.어')).toEqual(['죽고싶어'])
    expect(compactClauses('자해해')).toEqual(['자해해'])
    expect(compactClauses('ㅋㅋㅋ')).toEqual([])
  })
})
