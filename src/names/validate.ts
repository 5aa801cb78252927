/** What makes a valid name (SPEC §7): 1–20 characters of Hangul, Latin letters, digits, ·, - and _. */
export const NAME_MAX = 20
export const NAME_RULE = `이름은 ${NAME_MAX}자 이내의 한글, 영문, 숫자와 기호(·, -, _)로만 알려 주세요.`
const NAME_CHAR = /^(?:[가-힣0-9·_-]|\p{Script=Latin})$/u

/** 1–20 characters of Hangul syllables, Latin letters, digits, ·, - and _, with at least one letter or digit. */
export function validateName(name: string): { valid: boolean; reason: string | null } {
  const chars = [...name.normalize('NFC')]
  const fail = (problem: string) => ({ valid: false, reason: `${problem} ${NAME_RULE}` })
  if (name.trim() === '') return fail('이름이 비어 있어요.')
  if (chars.length > NAME_MAX) return fail(`이름이 ${chars.length}자로 너무 길어요.`)
  if (/\s/.test(name)) return fail('이름에는 띄어쓰기를 쓸 수 없어요.')
  if (chars.some((c) => /[ㄱ-ㅎㅏ-ㅣ]/.test(c))) return fail('자음이나 모음만 따로 쓸 수는 없어요.')
  const bad = [...new Set(chars.filter((c) => !NAME_CHAR.test(c)))]
  if (bad.length > 0) return fail(`이름에 쓸 수 없는 문자(${bad.join(' ')})가 있어요.`)
  if (!chars.some((c) => /[가-힣0-9]|\p{L}/u.test(c))) return fail('기호만으로는 이름이 될 수 없어요.')
  return { valid: true, reason: null }
}
