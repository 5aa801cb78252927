/**
 * What is not a name. "난 X야" is how Koreans state a name, but also a job, a state, an age or a place; this
 * module decides, from a word list and from the shape of Korean predicates, when X is one of those.
 */
import { isInterjection, isPredicate } from '../korean/predicate.ts'

// ── What is not a name ───────────────────────────────────────────────────────────────────────────────────
// "난 X야" is how Koreans state a name, but also a job, a state, an age or a place. Words people commonly
// say after 난/저는 that are not names, by category. Feelings and states are mostly caught by morphology
// (below); they are listed too where the morphology cannot see them (초조해, 지루해: no batchim before 해).
const NOT_NAMES = new Set(
  [
    // occupations and school
    '학생 대학생 고등학생 중학생 초등학생 대학원생 수험생 취준생 재수생 신입생 졸업생 유학생 고딩 중딩 초딩 대딩',
    '회사원 직장인 공무원 선생님 선생 교사 교수 의사 간호사 약사 변호사 주부 개발자 프로그래머 디자이너',
    '엔지니어 요리사 군인 경찰 기자 작가 가수 배우 사장 자영업자 프리랜서 백수 알바 알바생 인턴 신입',
    '연구원 농부 기사 은행원 유튜버 스트리머 학부모 환자 팬 직원 사원 전업주부 트레이너 강사 목사',
    // people, relations, gender, nationality
    '사람 인간 남자 여자 남성 여성 소년 소녀 아이 애 아기 어른 청소년 노인 엄마 아빠 어머니 아버지 부모',
    '형 오빠 언니 누나 동생 남동생 여동생 아들 딸 남편 아내 와이프 부인 할머니 할아버지 친구 남친 여친',
    '남자친구 여자친구 애인 가족 막내 첫째 둘째 셋째 외동 한국인 한국사람 외국인 미국인 일본인 중국인',
    '고객 손님 회원 유저 사용자 초보 주인 집사 로봇 봇 챗봇 바보 천재 부자 거지 솔로 싱글 기혼 미혼',
    // states and feelings that morphology does not catch
    '괜찮 배고파 피곤 행복 슬퍼 우울 아파 심심 졸려 바빠 힘들어 초조해 지루해 한가해 몰라 글쎄 처음 혼자',
    '최고 최악 괜찮음 불안 건강 무사 정상 반대 찬성 노래 별명 이름 닉네임 호칭 목소리 랩',
    // places and times ("나 집이야", "저 회사예요")
    '집 회사 학교 밖 여기 거기 저기 카페 버스 지하철 차 병원 도서관 학원 지금 오늘 내일 어제 퇴근 출근',
    '퇴근중 출근중 운동중 운전중 공부중 회의중 근무중 수업중 식사중 이동중 휴가 방학 주말 아침 점심 저녁 밤 새벽',
    // facts about oneself
    '생일 키 몸무게 미성년자 성인 이과 문과 채식주의자 다이어트 임신 결혼 이혼',
    // pronouns, fillers, refusals, animals people call themselves
    '나 저 너 나도 저도 너도 당신 우리 본인 그냥 누구 뭐 아무나 아무거나 비밀 없어 그거 이거 저거 그래 네 응 아니',
    '고양이 강아지 개 곰 돼지 토끼',
  ]
    .join(' ')
    .split(' '),
)
const QUESTION = /^(뭐|뭔|무엇|무슨|누구|누군|어디|언제|왜|몇|어떻게|어때|어떤)/
const AGE = [
  /^\d+\s*(살|세|대|학년|년생|kg|cm|등)$/i,
  /^(한|두|세|네|다섯|여섯|일곱|여덟|아홉)살$/,
  // Tens need no 살 ("나 스물다섯"); a bare unit would, since 한 and 세 are also names.
  /^(열|스물|스무|서른|마흔|쉰|예순|일흔|여든|아흔)(한|두|세|네|다섯|여섯|일곱|여덟|아홉)?(살)?$/,
  /^[일이삼사오육칠팔구십백]+세$/,
  /^(초|중|고)[1-6]$/,
]
const MBTI_OR_BLOOD = /^([EI][NS][TF][JP](-[AT])?|(A|B|O|AB)형)$/i
/** Suffixes no given name ends in: 선생님, 거짓말쟁이, 사냥꾼, 용띠, 외향적, 채식주의자. */
const SUFFIX = /(님|쟁이|꾼|띠|적|주의자)$/
/** Why a candidate is not a name, or null when it may be one. */
export function notANameBecause(name: string, raw = name): string | null {
  const s = name.toLowerCase()
  if (NOT_NAMES.has(s) || SUFFIX.test(s)) return '직업·관계·장소처럼 이름이 아닌 낱말이에요'
  if (QUESTION.test(s)) return '묻는 말이에요'
  if (AGE.some((re) => re.test(s))) return '나이나 학년이에요'
  if (MBTI_OR_BLOOD.test(s)) return '성격 유형이나 혈액형이에요'
  if (isPredicate(raw) || isPredicate(name)) return '상태나 느낌을 말하는 서술어예요'
  if (isInterjection(raw) || isInterjection(name)) return '감탄사나 군말이에요'
  return null
}
