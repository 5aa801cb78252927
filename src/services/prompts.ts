import * as v from 'valibot'
import { AppError } from '../errors.ts'
import { PROMPT_VARIABLES, unknownVariables } from '../prompts/render.ts'
import type { Db } from '../store/db.ts'
import {
  activatePrompt,
  createPromptVersion,
  getPromptById,
  listPromptNames,
  listPromptVersions,
  type PromptVersion,
} from '../store/prompts.ts'
import { uuidOrNull } from '../store/rows.ts'
import { diffLines } from './diff.ts'
import { parseInput } from './validate.ts'

export interface PromptServiceDeps {
  db: Db
  /** Announces a change so every instance drops its cached active prompts (the cache's `changed()`). */
  changed: () => Promise<void>
}

/** The JSON of one prompt version (admin API and `kbot prompts … --json`). */
export const promptView = (p: PromptVersion) => ({
  id: p.id,
  name: p.name,
  version: p.version,
  system_prompt: p.systemPrompt,
  description: p.description,
  model: p.model,
  temperature: p.temperature,
  max_tokens: p.maxTokens,
  is_active: p.isActive,
  created_at: p.createdAt.toISOString(),
})

export type PromptView = ReturnType<typeof promptView>

const unknownMessage = (unknown: string[]) =>
  `unknown variable${unknown.length > 1 ? 's' : ''} ${unknown.map((u) => `{{${u}}}`).join(', ')}; ` +
  `known: ${PROMPT_VARIABLES.map((k) => `{{${k}}}`).join(', ')}`

const nullable = <S extends v.GenericSchema>(schema: S) => v.optional(v.nullable(schema))

/** The body of `POST /admin/prompts`; `kbot prompts create` builds the same object from its options. */
export const NewPromptBody = v.strictObject({
  name: v.pipe(
    v.string('must be a string'),
    v.regex(/^[\p{L}\p{N}_.-]{1,64}$/u, 'must be 1–64 letters, digits, "_", "-" or "."'),
  ),
  system_prompt: v.pipe(
    v.string('must be a string'),
    v.check((s) => s.trim().length > 0, 'must not be empty'),
    v.maxLength(20_000, 'must be at most 20000 characters'),
    // An unknown {{variable}} would silently render as nothing: refuse it and name the known ones.
    v.check(
      (s) => unknownVariables(s).length === 0,
      (issue) => unknownMessage(unknownVariables(String(issue.input))),
    ),
  ),
  description: nullable(
    v.pipe(v.string('must be a string'), v.maxLength(500, 'must be at most 500 characters')),
  ),
  model: nullable(
    v.pipe(
      v.string('must be a string'),
      v.minLength(1, 'must not be empty'),
      v.maxLength(100, 'is too long'),
    ),
  ),
  temperature: nullable(
    v.pipe(
      v.number('must be a number'),
      v.minValue(0, 'must be at least 0'),
      v.maxValue(2, 'must be at most 2'),
    ),
  ),
  max_tokens: nullable(
    v.pipe(
      v.number('must be a number'),
      v.integer('must be a whole number'),
      v.minValue(1, 'must be at least 1'),
      v.maxValue(200_000, 'must be at most 200000'),
    ),
  ),
  activate: v.optional(v.boolean('must be true or false'), true),
})

export type NewPromptInput = v.InferInput<typeof NewPromptBody>

/** Every name with its active version and version count. */
export async function listPrompts(deps: Pick<PromptServiceDeps, 'db'>) {
  const names = await listPromptNames(deps.db)
  return names.map((n) => ({
    name: n.name,
    active_version: n.activeVersion,
    active_id: n.activeId,
    versions: n.versions,
    latest_version: n.latestVersion,
    updated_at: n.updatedAt.toISOString(),
  }))
}

/** The active version of a name (null when none is active) and all its versions, newest first. */
export async function showPrompt(deps: Pick<PromptServiceDeps, 'db'>, name: string) {
  const versions = await listPromptVersions(deps.db, name)
  if (versions.length === 0) throw new AppError('NOT_FOUND', `no prompt named "${name}"`)
  const active = versions.find((p) => p.isActive) ?? null
  return { name, active: active ? promptView(active) : null, versions: versions.map(promptView) }
}

/** A new version (max + 1, even when no version is active), activated unless `activate: false`. */
export async function createPrompt(deps: PromptServiceDeps, input: unknown): Promise<PromptView> {
  const body = parseInput(NewPromptBody, input)
  const created = await createPromptVersion(deps.db, {
    name: body.name,
    systemPrompt: body.system_prompt,
    description: body.description ?? null,
    model: body.model ?? null,
    temperature: body.temperature ?? null,
    maxTokens: body.max_tokens ?? null,
    activate: body.activate,
  })
  if (created.isActive) await deps.changed()
  return promptView(created)
}

/** Makes one version the active one of its name; activating an older version is the rollback. */
export async function activatePromptVersion(deps: PromptServiceDeps, id: string): Promise<PromptView> {
  const key = uuidOrNull(id)
  if (!key) throw new AppError('NOT_FOUND', `no prompt version with id ${id}`)
  const active = await activatePrompt(deps.db, key)
  await deps.changed()
  return promptView(active)
}

export async function getPromptVersion(deps: Pick<PromptServiceDeps, 'db'>, id: string): Promise<PromptView> {
  const key = uuidOrNull(id)
  const found = key ? await getPromptById(deps.db, key) : null
  if (!found) throw new AppError('NOT_FOUND', `no prompt version with id ${id}`)
  return promptView(found)
}

/** Line diff of two versions' system prompts, and which parameters differ. */
export async function diffPrompt(
  deps: Pick<PromptServiceDeps, 'db'>,
  name: string,
  from: number,
  to: number,
) {
  const versions = await listPromptVersions(deps.db, name)
  if (versions.length === 0) throw new AppError('NOT_FOUND', `no prompt named "${name}"`)
  const pick = (n: number) => {
    const found = versions.find((p) => p.version === n)
    if (!found) throw new AppError('NOT_FOUND', `prompt "${name}" has no version ${n}`)
    return found
  }
  const a = pick(from)
  const b = pick(to)
  const params = (['description', 'model', 'temperature', 'maxTokens'] as const)
    .filter((k) => a[k] !== b[k])
    .map((k) => ({ field: k === 'maxTokens' ? 'max_tokens' : k, from: a[k], to: b[k] }))
  return { name, from, to, params, lines: diffLines(a.systemPrompt, b.systemPrompt) }
}
