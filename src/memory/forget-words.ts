/**
 * Recognises "delete my history" requests and the answers to the confirmation. Pure: no I/O. Whole-message
 * matches only, after spaces and punctuation are removed, so that a question *about* deletion ("대화 기록 삭제는
 * 어떻게 해요?") or a sentence that merely mentions it goes to the model as usual.
 */

/** Drops a run of ㅠ/ㅜ/ㅎ/ㅋ at the end, scanning back once (a `[…]+$` regex rescans the run from every start). */
function dropTrailingJamo(s: string): string {
  let end = s.length
  while (end > 0 && 'ㅠㅜㅎㅋ'.includes(s[end - 1]!)) end--
  return s.slice(0, end)
}

/** Spaces, punctuation, quotes and trailing ㅠㅠ/ㅎㅎ removed; lower case: "대화 기록 삭제!" = "대화기록삭제". */
export const compact = (s: string): string =>
  dropTrailingJamo(s.normalize('NFC').replace(/[\s,.!?…~;:·'"`“”‘’^]+/g, '')).toLowerCase()

/** Polite and casual verb endings after a stem: 지워|주세요, 삭제|해 줄래요, 없애|줘. */
const TAIL = '[해줘주세요줄래할게고싶어기버려실수있니까죠용좀부탁드립다합요]*'
const WHOSE = '(내|제|나의|저의|저희|우리|나랑|저랑|그동안|지금까지|여태|모든|전체|전부|이전)*'
const WHAT = '(대화|채팅|상담|톡|카톡|메시지|메세지)?(기록|내용|내역|이력|히스토리|로그|정보|데이터|개인정보)'
const HOW = '(을|를|들|은|는|이|가|도)?(전부|다|모두|싹|전체|완전히|깨끗이|좀)*'
const VERB = '(삭제|지워|지우|없애|초기화|리셋|폐기|파기|지울)'

const REQUEST = [
  new RegExp(`^${WHOSE}${WHAT}${HOW}${VERB}${TAIL}$`),
  // "나를 잊어 줘", "저를 잊어 주세요"
  new RegExp(`^(나를|날|저를|절|나|저)?(잊어|잊어버려|잊어줘|잊어주)${TAIL}$`),
  /^\/(삭제|기록삭제|대화기록삭제|forget|forgetme)$/,
  /^(forgetme|deletemydata|deletemyhistory)(please)?$/,
]

const CONFIRM = new RegExp(
  `^(네|예|응|ㅇㅇ|확인|좋아|좋아요|그래|그래요|yes|y|ok|okay|오케이|${VERB}${TAIL})$`,
)
/** The patterns built with `new RegExp`, exported for the ReDoS check (tests/unit/redos.test.ts). */
export const BUILT_PATTERNS: Readonly<Record<string, RegExp>> = {
  REQUEST: REQUEST[0]!,
  FORGET_ME: REQUEST[1]!,
  CONFIRM,
}

const CANCEL =
  /^\/?(취소|아니|아니요|아니야|아뇨|아녜요|싫어|싫어요|그만|그만할게요|안할래|안할래요|안해|안해요|하지마|하지마세요|삭제하지마|삭제하지마세요|지우지마|지우지마세요|놔둬|놔두세요|그대로둬|그대로두세요|no|n|cancel|stop)$/

export const isForgetRequest = (text: string): boolean => {
  const c = compact(text)
  return c !== '' && REQUEST.some((re) => re.test(c))
}

/** The answer to "delete everything?": yes, no, or something else (an ordinary message). */
export function confirmationOf(
  text: string,
  labels: { confirm: string; cancel: string },
): 'yes' | 'no' | null {
  const c = compact(text)
  if (c === compact(labels.cancel) || CANCEL.test(c)) return 'no'
  if (c === compact(labels.confirm) || CONFIRM.test(c)) return 'yes'
  return null
}
