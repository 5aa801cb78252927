import { AppError } from '../errors.ts'
import type { Db } from './db.ts'
import { newId, toBool, toDate, toNumOrNull } from './rows.ts'

export interface PromptVersion {
  id: string
  name: string
  version: number
  systemPrompt: string
  description: string | null
  model: string | null
  temperature: number | null
  maxTokens: number | null
  isActive: boolean
  createdAt: Date
}

type Row = Record<string, unknown>

export const toPrompt = (r: Row): PromptVersion => ({
  id: String(r.id),
  name: String(r.name),
  version: Number(r.version),
  systemPrompt: String(r.system_prompt),
  description: (r.description as string | null) ?? null,
  model: (r.model as string | null) ?? null,
  temperature: toNumOrNull(r.temperature),
  maxTokens: toNumOrNull(r.max_tokens),
  isActive: toBool(r.is_active),
  createdAt: toDate(r.created_at),
})

export const DEFAULT_PROMPT_NAME = 'default'

export const DEFAULT_SYSTEM_PROMPT = `당신은 카카오톡 채널에서 사용자를 돕는 따뜻하고 정중한 상담 도우미입니다.
- 항상 존댓말로, 짧고 분명하게 답합니다. 카카오톡 말풍선에서 읽기 좋도록 마크다운 표나 제목은 쓰지 않습니다.
- 사용자의 이름: {{user_name}} (비어 있으면 이름을 부르지 않습니다)
- 오늘 날짜: {{today}}
- 이전 대화 요약: {{summary}}
모르는 것은 모른다고 말하고, 의료·법률·위기 상황에서는 전문 기관의 도움을 권합니다.`

/**
 * Serialises changes to one prompt name (PostgreSQL; SQLite's writer lock already does): two creators must not
 * compute the same max + 1, and two activations must not both clear and set the active flag.
 */
async function lockName(tx: Db, name: string): Promise<void> {
  if (tx.dialect === 'postgres')
    await tx.query(`select pg_advisory_xact_lock(hashtext('kbot_prompt:' || $1))`, [name])
}

export async function getActivePrompt(db: Db, name: string): Promise<PromptVersion | null> {
  const rows = await db.query<Row>('select * from prompttemplate where name = $1 and is_active = $2', [
    name,
    true,
  ])
  return rows[0] ? toPrompt(rows[0]) : null
}

export async function getPromptById(db: Db, id: string): Promise<PromptVersion | null> {
  const rows = await db.query<Row>('select * from prompttemplate where id = $1', [id])
  return rows[0] ? toPrompt(rows[0]) : null
}

export interface NewPrompt {
  name: string
  systemPrompt: string
  description?: string | null
  model?: string | null
  temperature?: number | null
  maxTokens?: number | null
  activate?: boolean
}

/** Versions are immutable; a new one is max + 1 for its name, created (and optionally activated) atomically. */
export async function createPromptVersion(db: Db, input: NewPrompt): Promise<PromptVersion> {
  return db.tx(async (tx) => {
    await lockName(tx, input.name)
    const [max] = await tx.query<{ v: number | null }>(
      'select max(version) as v from prompttemplate where name = $1',
      [input.name],
    )
    const version = Number(max?.v ?? 0) + 1
    const activate = input.activate ?? true
    if (activate) {
      await tx.query('update prompttemplate set is_active = $1 where name = $2 and is_active = $3', [
        false,
        input.name,
        true,
      ])
    }
    const rows = await tx.query<Row>(
      `insert into prompttemplate (id, name, version, system_prompt, description, model, temperature, max_tokens, is_active)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9) returning *`,
      [
        newId(),
        input.name,
        version,
        input.systemPrompt,
        input.description ?? null,
        input.model ?? null,
        input.temperature ?? null,
        input.maxTokens ?? null,
        activate,
      ],
    )
    return toPrompt(rows[0]!)
  })
}

/** Makes one version the active one of its name; activating an older version is the rollback. */
export async function activatePrompt(db: Db, id: string): Promise<PromptVersion> {
  return db.tx(async (tx) => {
    const target = await getPromptById(tx, id)
    if (!target) throw new AppError('NOT_FOUND', `no prompt version with id ${id}`)
    await lockName(tx, target.name)
    await tx.query('update prompttemplate set is_active = $1 where name = $2 and is_active = $3', [
      false,
      target.name,
      true,
    ])
    const rows = await tx.query<Row>('update prompttemplate set is_active = $1 where id = $2 returning *', [
      true,
      id,
    ])
    return toPrompt(rows[0]!)
  })
}

/** Seeds the default prompt when the table holds no version of that name (called by migrate, under its lock). */
export async function seedDefaultPrompt(db: Db): Promise<boolean> {
  const rows = await db.query('select 1 from prompttemplate where name = $1 limit 1', [DEFAULT_PROMPT_NAME])
  if (rows.length > 0) return false
  await createPromptVersion(db, {
    name: DEFAULT_PROMPT_NAME,
    systemPrompt: DEFAULT_SYSTEM_PROMPT,
    description: 'kbot 기본 프롬프트',
    activate: true,
  })
  return true
}

export interface PromptSummary {
  name: string
  activeVersion: number | null
  activeId: string | null
  versions: number
  latestVersion: number
  updatedAt: Date
}

/** Every prompt name with its active version (null when none is active) and how many versions it has. */
export async function listPromptNames(db: Db): Promise<PromptSummary[]> {
  const rows = await db.query<Row>(
    `select p.name, count(*) as versions, max(p.version) as latest, max(p.created_at) as updated_at,
            max(case when p.is_active = $1 then p.version end) as active_version,
            max(case when p.is_active = $1 then cast(p.id as text) end) as active_id
       from prompttemplate p group by p.name order by p.name`,
    [true],
  )
  return rows.map((r) => ({
    name: String(r.name),
    activeVersion: toNumOrNull(r.active_version),
    activeId: (r.active_id as string | null) ?? null,
    versions: Number(r.versions),
    latestVersion: Number(r.latest),
    updatedAt: toDate(r.updated_at),
  }))
}

/** All versions of a name, newest first. */
export async function listPromptVersions(db: Db, name: string): Promise<PromptVersion[]> {
  const rows = await db.query<Row>('select * from prompttemplate where name = $1 order by version desc', [
    name,
  ])
  return rows.map(toPrompt)
}
