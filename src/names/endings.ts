/**
 * Endings glued to a name. Korean glues the copula and quotative particles to the name, and a name may itself
 * end in 이: "길동이라고" is 길동 + 이라고, "민수라고" is 민수 + 라고. The form of an ending follows the name's
 * last sound (이야/이에요/이라고/으로 after a final consonant, 야/예요/라고/로 after a vowel), so an ending that
 * starts with 이 is split off only when the stem before it has a batchim.
 */
import { getJongseong } from 'es-hangul'

const HANGUL = /[가-힣]/

// C: after a final consonant; V: after a vowel; C-ㄹ: consonant but not ㄹ (으로); V+ㄹ: vowel or ㄹ (로);
// *: either. Latin and digit stems accept both forms: people write "John이야" and "John야".
type Cond = 'C' | 'V' | '*' | 'C-ㄹ' | 'V+ㄹ'
/** copula: "I am X"; quote: "(call me) X라고"; dir: "(call me) X로". mid: only when more text follows. */
export type Kind = 'copula' | 'quote' | 'dir'
interface Ending {
  e: string
  c: Cond
  k: Kind
  mid: boolean
}
const endings = (c: Cond, k: Kind, list: string, mid = false): Ending[] =>
  list.split(' ').map((e) => ({ e, c, k, mid }))
const ENDINGS: readonly Ending[] = [
  // 이 stays after a vowel in writing before ㅂ니다, ㅁ and ㄴ데: 민수입니다, 민수임, 민수인데요.
  ...endings('*', 'copula', '입니다 입니당 임 인데요 인데 요'),
  ...endings('C', 'copula', '이에요 이예요 이에용 이에여 이야 이얌 이당 이요 이다'),
  ...endings('V', 'copula', '예요 에요 예용 야 얌 당 다'),
  ...endings('C', 'copula', '이고', true),
  ...endings('V', 'copula', '고', true),
  ...endings('C', 'quote', '이라고요 이라구요 이라고 이라구'),
  ...endings('V', 'quote', '라고요 라구요 라고 라구'),
  ...endings('C-ㄹ', 'dir', '으로'),
  ...endings('V+ㄹ', 'dir', '로'),
].sort((a, b) => b.e.length - a.e.length)

export function stemFits(stem: string, cond: Cond): boolean {
  const last = [...stem].at(-1)
  if (!last) return false
  if (!HANGUL.test(last)) return /[\p{Script=Latin}0-9]/u.test(last)
  const jong = getJongseong(last)
  if (cond === 'C') return jong !== ''
  if (cond === 'V') return jong === ''
  if (cond === 'C-ㄹ') return jong !== '' && jong !== 'ㄹ'
  if (cond === 'V+ㄹ') return jong === '' || jong === 'ㄹ'
  return true
}

/** Splits "전지현이야" into 전지현 + 이야. Without a fitting ending the whole word is the name. */
export function splitName(
  word: string,
  kinds: readonly Kind[],
  more = false,
): { name: string; ending: string } {
  for (const { e, c, k, mid } of ENDINGS) {
    if (!kinds.includes(k) || (mid && !more) || !word.endsWith(e) || word.length === e.length) continue
    const stem = word.slice(0, -e.length)
    if (stemFits(stem, c)) return { name: stem, ending: e }
  }
  return { name: word, ending: '' }
}
