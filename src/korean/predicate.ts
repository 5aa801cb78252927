/**
 * Korean predicate morphology: whether a word is a conjugated verb or adjective (좋아, 피곤해, 몰라) rather
 * than a noun or a name, and whether a word is a bare interjection or filler (어, 음, 헐). Used by name
 * recognition ("난 몰라" is not a name) and by the safety check.
 */
import { getJongseong, getJungseong } from 'es-hangul'

const HANGUL = /[가-힣]/

/** Final batchims that mark a verb or adjective stem before 아/어 (괜찮아, 좋아, 싫어, 있어, 같아, 늦어). */
const STEM_BATCHIM = new Set([...'ㄷㅅㅆㅈㅊㅋㅌㅍㅎㄲㄳㄵㄶㄺㄻㄼㄽㄾㄿㅀㅄ'])
/** Contracted verb endings no name ends in: 돼, 봐, 줘, 아파, 슬퍼, 바빠, 기뻐, 고마워, 졸려. */
const CONTRACTED = new Set([...'돼봐줘져쳐셔켜파퍼빠뻐워려'])

/**
 * 르-irregular stems (모르다 → 몰라, 부르다 → 불러): the syllable before 르 takes ㄹ and the ending doubles it.
 * Listed by that syllable, because foreign names end the same way in Hangul (벨라, 스텔라, 카밀라, 폴라): a
 * blanket "ㄹ + 라" rule would refuse them. 배부르다, 목마르다, 서투르다 end in 불, 말, 툴 and are covered.
 */
const REU_STEMS = new Set([
  ...'모다빠고자오마바가조나', // 몰라 달라 빨라 골라 잘라 올라 말라 발라 갈라 졸라 날라
  ...'부흐누기이무두거찌구지투으벼어', // 불러 흘러 눌러 길러 일러 물러 둘러 걸러 찔러 굴러 질러 서툴러 게을러 별러 얼러
])
/** 아/어 harmony: a stem whose vowel is ㅏ or ㅗ takes 라, every other takes 러. */
const BRIGHT = new Set(['ㅏ', 'ㅗ'])

/** 몰라, 달라요, 빨라, 불러, 배불러, 게을러: a 르-irregular predicate in its 아/어 form. */
export function isReuIrregular(word: string): boolean {
  const chars = [...word.replace(/(요|용)$/, '')]
  const last = chars.at(-1)
  const prev = chars.at(-2)
  if (!prev || (last !== '라' && last !== '러') || !HANGUL.test(prev) || getJongseong(prev) !== 'ㄹ')
    return false
  // The syllable as it was before ㄹ moved in: 몰 → 모, 불 → 부.
  const open = String.fromCharCode(prev.charCodeAt(0) - 8)
  if (!REU_STEMS.has(open)) return false
  return (last === '라') === BRIGHT.has(getJungseong(prev))
}

/** True for a conjugated predicate (a verb or adjective form), judged from its last syllables. */
export function isPredicate(word: string): boolean {
  const w = word.replace(/(요|용)$/, '')
  const chars = [...w]
  const last = chars.at(-1)
  const prev = chars.at(-2)
  if (!last || !HANGUL.test(last)) return false
  if (/(았|었|였|했|됐|왔|갔|겠|셨|졌|웠|봤|줬|났|냈|렸|쳤)(어|다|음|지|네|고|는데|거든|잖아)?$/.test(w))
    return true
  if (/니다$/.test(w) && !/입니다$/.test(w)) return true // 합니다, 좋습니다 (입니다 is the copula)
  if (/(하다|한다|하네)$/.test(w)) return true
  if (/(은데|는데|던데|한데)$/.test(w)) return true // 괜찮은데, 하는데: a clause that goes on
  // 피곤해, 행복해, 우울해: a 하다 adjective after a closed syllable; a name like 지해 or 김지해 is spared.
  if ((last === '해' || last === '함') && chars.length >= 3 && prev && getJongseong(prev) !== '') return true
  if (last === '다' && prev && (getJongseong(prev) !== '' || getJungseong(prev) === 'ㅡ')) return true // 좋다, 간다, 아프다
  if (CONTRACTED.has(last)) return true
  if (isReuIrregular(w)) return true
  return (last === '아' || last === '어') && prev !== undefined && STEM_BATCHIM.has(getJongseong(prev))
}

/**
 * Interjections and fillers people type on their own while thinking or reacting. None is a name, though a
 * few are syllables that names contain (오, 하): they are refused only as the whole answer.
 */
const INTERJECTIONS = new Set(
  [
    '어 음 응 웅 엉 아 앗 엇 오 와 에 으 흠 헐 엥 헉 휴 하 흥 칫 쩝 피 참 뭐 그 저',
    '아하 오호 에이 어머 어머나 아이고 아이구 에구 에휴 어휴 아휴 허걱 우와 와우 오오 으음 흐음 흐으음',
    '음음 응응 어어 글쎄 글쎄요 그게 그니까 그러니까 그러게 저기 저기요 있잖아 뭐지 뭐랄까 아무튼 어쨌든',
    '헐랭 헐퀴 대박 아놔 아씨 에잇 이런 어라 어이쿠 아차 앗싸 오케이 ok 넹 넵 웅웅 엉엉',
  ]
    .join(' ')
    .split(' '),
)

/** "어", "음...", "흐으음", "헐헐": a bare interjection or filler (repeats and trailing dots ignored). */
export function isInterjection(word: string): boolean {
  const w = word
    .normalize('NFC')
    .toLowerCase()
    .replace(/[.,!?…~\s]+/g, '')
  if (w === '') return false
  if (INTERJECTIONS.has(w)) return true
  // "음음음", "헐헐", "아이고아이고": one interjection said again; "으으음": a stretched one.
  const chars = [...w]
  for (let size = 1; size <= 3 && size < chars.length; size++) {
    const unit = chars.slice(0, size).join('')
    if (chars.length % size === 0 && unit.repeat(chars.length / size) === w && INTERJECTIONS.has(unit))
      return true
  }
  return INTERJECTIONS.has(w.replace(/(.)\1+/gu, '$1'))
}
