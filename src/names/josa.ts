/**
 * Korean particles after a user's name. Which form a particle takes depends on how the name *sounds*: a
 * final consonant (batchim) takes 이/은/을/아/이에요, a final vowel takes 가/는/를/야/예요, and a final ㄹ
 * takes 로 rather than 으로. Hangul is handled by es-hangul; Latin letters and digits are first reduced to
 * the final sound of their usual Korean reading, then handed to es-hangul through a stand-in syllable, so the
 * particle table itself lives in one well-kept place.
 */
import { josa } from 'es-hangul'

export type ParticlePair =
  | '이/가'
  | '은/는'
  | '을/를'
  | '아/야'
  | '이에요/예요'
  | '으로/로'
  | '이라고/라고'
  | '와/과'
  | '이랑/랑'

export const PARTICLE_PAIRS: readonly ParticlePair[] = [
  '이/가',
  '은/는',
  '을/를',
  '아/야',
  '이에요/예요',
  '으로/로',
  '이라고/라고',
  '와/과',
  '이랑/랑',
]

/** How a word ends when read aloud: no final consonant, ㄹ (special for 으로/로), or another consonant. */
type Final = 'vowel' | 'rieul' | 'consonant'

/** Syllables with the same kind of ending, for es-hangul, which only reads Hangul. */
const STAND_IN: Record<Final, string> = { vowel: '가', rieul: '갈', consonant: '감' }

const HANGUL_SYLLABLE = /[가-힣]/
const LATIN = /[a-z]/i
const DIGIT = /[0-9]/

/**
 * The final sound of a digit run read the Sino-Korean way: 1 일, 3 삼, 6 육, 7 칠, 8 팔 and 0 영 end in a
 * consonant; 2 이, 4 사, 5 오, 9 구 do not. Trailing zeros are read as a unit: 10 십, 100 백, 1000 천,
 * 10000 만, 10^8 억, 10^12 조, 10^16 경.
 */
function digitFinal(run: string): Final {
  if (/^0+$/.test(run)) return 'consonant' // 영
  let zeros = 0
  while (run[run.length - 1 - zeros] === '0') zeros++
  if (zeros === 0) {
    const last = run.at(-1)!
    if ('178'.includes(last)) return 'rieul' // 일, 칠, 팔
    if ('36'.includes(last)) return 'consonant' // 삼, 육
    return 'vowel' // 이, 사, 오, 구
  }
  if (zeros <= 3) return 'consonant' // 십, 백, 천
  const unit = Math.floor(zeros / 4) % 4 // 만, 억, 조, 경 repeat in fours
  return unit === 3 ? 'vowel' : 'consonant' // 조 has no batchim; 만, 억, 경 do
}

/**
 * The final sound of a Latin word in its usual Korean transcription (국립국어원 외래어 표기법 as applied to
 * names). English spelling does not give pronunciation exactly, so this is a small rule set that gets the
 * common names right: John 존, Kim 킴, Paul 폴, Young 영, Bob 밥, Jack 잭, Pat 팻, Erik 에릭, Anne 앤,
 * Kyle 카일 end in a consonant; Mike 마이크, James 제임스, Peter 피터, Anna 애나, Yeonwoo 연우, Mark 마크,
 * Greg 그레그, Chris 크리스 do not.
 */
function latinFinal(run: string): Final {
  const w = run.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase()
  // Acronyms (no vowel letter) and single letters are read letter by letter: L 엘, M 엠, N 엔.
  if (w.length === 1 || !/[aeiouy]/.test(w)) {
    const last = w.at(-1)!
    return last === 'l' ? 'rieul' : last === 'm' || last === 'n' ? 'consonant' : 'vowel'
  }
  if (/ng$/.test(w)) return 'consonant' // Young 영, Kang 강
  if (/(n|nn|ne|nne)$/.test(w)) return 'consonant' // John 존, Anne 앤, Jane 제인
  if (/(m|me)$/.test(w)) return 'consonant' // Kim 킴, Jerome 제롬
  if (/(l|le)$/.test(w)) return 'rieul' // Paul 폴, Kyle 카일, Michelle 미셸
  // A short vowel (one vowel letter after a consonant) makes k/c/p/b/t a closed syllable: Jack 잭, Bob 밥.
  if (/(^|[^aeiou])[aeiou](ck|k|c|cc)$/.test(w)) return 'consonant' // Jack 잭, Erik 에릭, Eric 에릭
  if (/(^|[^aeiou])[aeiou](p|pp|b|bb)$/.test(w)) return 'consonant' // Philip 필립, Bob 밥
  if (/(^|[^aeiou])[aeiou](t|tt)$/.test(w)) return 'consonant' // Pat 팻, Matt 맷, Scott 스콧
  if (/(eo|oo|o|u|y)k$/.test(w)) return 'consonant' // romanised Korean: Seok 석, Hyuk 혁, Brook 브룩
  // Everything else ends in a vowel in Korean: r 피터, s/z/x 제임스, d 데이비드, g 그레그, silent e 마이크.
  return 'vowel'
}

/** The final sound of the last readable run of the word, or null when nothing in it can be read. */
function finalOf(word: string): Final | 'hangul' | null {
  const chars = [...word.normalize('NFC')]
  for (let i = chars.length - 1; i >= 0; i--) {
    const c = chars[i]!
    if (HANGUL_SYLLABLE.test(c)) return 'hangul'
    if (DIGIT.test(c) || LATIN.test(c)) {
      const kind = DIGIT.test(c) ? DIGIT : LATIN
      let start = i
      while (start > 0 && kind.test(chars[start - 1]!)) start--
      const run = chars.slice(start, i + 1).join('')
      return kind === DIGIT ? digitFinal(run) : latinFinal(run)
    }
    // ·, -, _ and other symbols are not read aloud: look further left.
  }
  return null
}

/** es-hangul knows 이라/라; 이라고/라고 is the same choice with 고 added. */
function pick(base: string, pair: ParticlePair): string {
  if (pair === '이라고/라고') return `${josa.pick(base, '이라/라')}고`
  return josa.pick(base, pair)
}

/**
 * The word followed by the right form of the particle.
 *
 * @example
 *   particle('민수', '아/야') // '민수야'
 *   particle('길동', '이/가') // '길동이'
 *   particle('John', '은/는') // 'John은'
 *   particle('Mike', '을/를') // 'Mike를'
 *   particle('민수7', '으로/로') // '민수7로'
 */
export function particle(word: string, pair: ParticlePair): string {
  if (word === '') return ''
  const final = finalOf(word)
  if (final === 'hangul') {
    const last = [...word].findLast((c) => HANGUL_SYLLABLE.test(c))!
    return word + pick(last, pair)
  }
  if (final === null) {
    // Unreadable: the written convention for an unknown ending, e.g. "___이(가)".
    const [a, b] = pair.split('/') as [string, string]
    return `${word}${a}(${b})`
  }
  return word + pick(STAND_IN[final], pair)
}

/** Prompt variables for the user's name with its particles; all '' when the name is unknown. */
export function nameVars(name: string | null): Record<string, string> {
  const n = name ?? ''
  return {
    user_name: n,
    user_name_vocative: particle(n, '아/야'),
    user_name_topic: particle(n, '은/는'),
    user_name_subject: particle(n, '이/가'),
    user_name_object: particle(n, '을/를'),
    user_name_copula: particle(n, '이에요/예요'),
  }
}
